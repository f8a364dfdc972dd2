"""HTTP plumbing shared by every provider (aiohttp): sessions, requests whose reading is held
to :class:`~providers.limits.Limits` (time and bytes), proxies, capped image downloads.

A request's status >= 400 raises the typed error of ``providers.status.error_for_status``;
aiohttp's exceptions become ProviderErrors in ``providers.base.ProviderStream``
(``providers.status.map_exception``).

Time: the connection must open within ``connect_timeout`` (aiohttp), the body's first byte
arrive within ``first_byte_timeout`` of sending the request, and each later piece within
``idle_timeout`` of the previous one (``asyncio.timeout_at`` around each read, never around
a ``yield``, so a slow consumer is not counted as a silent provider). There is no total
deadline. Size: see :meth:`ProviderResponse.read` and ``providers.sse``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
from yarl import URL

from providers.errors import N_, ResponseFormatError
from providers.limits import Limits, too_large
from providers.status import error_for_status, parse_json

ERROR_BODY_BYTES = 65_536
"""How much of an error body is read to find its message (bytes)."""

__all__ = ["ProviderResponse", "client_session", "decode_image", "download_image",
           "image_mime_type", "post", "request"]


def client_session(headers: Mapping[str, str] | None, limits: Limits) -> aiohttp.ClientSession:
    """A session sending ``headers`` with every request, opening connections within
    ``limits.connect_timeout`` seconds and with no total or per-read deadline of its own (the
    reads are timed by :class:`ProviderResponse`). Environment proxies are not used:
    ``proxy=`` is explicit."""
    return aiohttp.ClientSession(
        headers=dict(headers or {}),
        timeout=aiohttp.ClientTimeout(total=None, connect=limits.connect_timeout))


class ProviderResponse:
    """A provider's HTTP response, read within its :class:`Limits`.

    ``raw`` is the aiohttp response (status, headers); read the body only through
    :meth:`chunks`, :meth:`read` or :meth:`json`."""

    def __init__(self, raw: aiohttp.ClientResponse, limits: Limits,
                 first_byte_deadline: float) -> None:
        self.raw = raw
        self.limits = limits
        self._first_byte_deadline: float | None = first_byte_deadline  # None once started

    @property
    def url(self) -> URL:
        """The URL that answered (after redirects)."""
        return self.raw.url

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as byte chunks exactly as they arrive. Raises ProviderTimeoutError when
        the first byte or the next piece is late (see the module docstring)."""
        while chunk := await self._read_some():
            yield chunk

    async def read(self, max_bytes: int, what: str, *, truncate: bool = False) -> bytes:
        """The whole body, at most ``max_bytes`` bytes (a Content-Length over it is refused
        before reading). Past the bound: the first ``max_bytes`` bytes with ``truncate``, else
        ResponseTooLargeError naming ``what`` (e.g. ``"image"``)."""
        length = self.raw.content_length
        if not truncate and length is not None and length > max_bytes:
            raise too_large(what, max_bytes)
        body = bytearray()
        while chunk := await self._read_some():
            body += chunk
            if len(body) > max_bytes:
                if truncate:
                    return bytes(body[:max_bytes])
                raise too_large(what, max_bytes)
        return bytes(body)

    async def json(self, max_bytes: int | None = None) -> Any:
        """The body parsed as JSON whatever its Content-Type, at most ``max_bytes`` bytes
        (default ``limits.max_json_bytes``). Raises ResponseTooLargeError past the bound,
        ResponseFormatError when malformed."""
        bound = max_bytes or self.limits.max_json_bytes
        return parse_json(await self.read(bound, N_("reply's JSON body")))

    async def raise_for_status(self) -> None:
        """Raise the mapped ProviderError when the status is >= 400 (``providers.status``);
        the first ``ERROR_BODY_BYTES`` of the body become its detail."""
        if self.raw.status < 400:
            return
        body = await self.read(ERROR_BODY_BYTES, N_("error body"), truncate=True)
        raise error_for_status(self.raw.status, body.decode("utf-8", "replace"),
                               retry_after=self.raw.headers.get("Retry-After"),
                               reason=self.raw.reason)

    async def _read_some(self) -> bytes:
        """The next piece of the body (``b""`` at its end), within the time bounds."""
        first = self._first_byte_deadline
        deadline = first if first is not None else (
            asyncio.get_running_loop().time() + self.limits.idle_timeout)
        try:
            async with asyncio.timeout_at(deadline):
                chunk = await self.raw.content.readany()
        except TimeoutError as exc:
            raise (self.limits.first_byte_error() if first is not None
                   else self.limits.idle_error()) from exc
        self._first_byte_deadline = None
        return chunk


@asynccontextmanager
async def request(session: aiohttp.ClientSession, method: str, url: str, *, limits: Limits,
                  proxy: str | None, json: Any = None, data: Any = None,
                  headers: Mapping[str, str] | None = None) -> AsyncIterator[ProviderResponse]:
    """Send a request (a ``json`` body, or ``data`` such as an ``aiohttp.FormData``) and yield
    its response once its status is known to be < 400.

    The status line, headers and first body byte must arrive within
    ``limits.first_byte_timeout`` seconds (else ProviderTimeoutError). Raises the mapped
    ProviderError for an error status (``providers.status``)."""
    deadline = asyncio.get_running_loop().time() + limits.first_byte_timeout
    timer = asyncio.timeout_at(deadline)
    try:
        async with timer:
            raw = await session.request(method, url, json=json, data=data, proxy=proxy,
                                         headers=headers)
    except TimeoutError as exc:
        if timer.expired():
            raise limits.first_byte_error() from exc
        raise
    async with raw:
        response = ProviderResponse(raw, limits, deadline)
        await response.raise_for_status()
        yield response


def post(session: aiohttp.ClientSession, url: str, *, json: Any, proxy: str | None,
         limits: Limits, headers: Mapping[str, str] | None = None
         ) -> AbstractAsyncContextManager[ProviderResponse]:
    """``request(session, "POST", ...)``: POST ``json`` (see :func:`request`)."""
    return request(session, "POST", url, limits=limits, proxy=proxy, json=json, headers=headers)


IMAGE_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
                    (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


def image_mime_type(data: bytes, content_type: str | None = None) -> str:
    """The image's MIME type: from its magic bytes (PNG, JPEG, GIF, WebP) when recognised, since
    they are what a decoder (Telegram's) sees; else an ``image/*`` Content-Type header.

    Raises ResponseFormatError when neither says it is an image."""
    for signature, mime in IMAGE_SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime.startswith("image/"):
        return mime
    raise ResponseFormatError(N_("The provider's image is not an image"))


async def download_image(session: aiohttp.ClientSession, url: str, *, proxy: str | None,
                         limits: Limits, headers: Mapping[str, str] | None = None
                         ) -> tuple[bytes, str]:
    """GET an image: ``(bytes, MIME type)``. At most ``limits.image_max_bytes`` bytes
    (Content-Length checked first, then while reading), read within ``limits``' time bounds.

    Raises ResponseTooLargeError when too large, ResponseFormatError when not an image, the
    mapped status error, ProviderTimeoutError."""
    async with request(session, "GET", url, limits=limits, proxy=proxy,
                       headers=headers) as response:
        data = await response.read(limits.image_max_bytes, N_("image"))
        return data, image_mime_type(data[:16], response.raw.headers.get("Content-Type"))


def decode_image(b64: str, *, max_bytes: int) -> tuple[bytes, str]:
    """Decode a base64 image (``b64_json``): ``(bytes, MIME type from the magic bytes)``."""
    if len(b64) * 3 // 4 > max_bytes + 3:
        raise too_large(N_("image"), max_bytes)
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ResponseFormatError(N_("The provider's image is not valid base64")) from exc
    if len(data) > max_bytes:
        raise too_large(N_("image"), max_bytes)
    return data, image_mime_type(data[:16])
