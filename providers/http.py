"""HTTP plumbing shared by every provider (aiohttp): sessions with a total timeout, proxies,
HTTP status and exception -> typed error mapping, JSON parsing, capped image downloads.

Error mapping (after g4f's 2024 ``raise_for_status``, provider-protocols.md §6.7, adapted):

- 429 or 402 -> :class:`RateLimitError` (``retry_after`` from a numeric ``Retry-After`` header)
- 401 -> :class:`MissingAuthError`
- 403 or 503 with a Cloudflare challenge marker in the body -> :class:`CloudflareError`
- any other status >= 400 -> :class:`ResponseStatusError` ("HTTP 500: <detail>"), where the
  detail is the JSON body's ``error.message`` / ``error`` / ``detail`` / ``message``, the
  reason phrase for an HTML page, else the body's first 200 characters
- timeouts -> :class:`ProviderTimeoutError`; a connection refused, reset or closed before the
  end of the body (``ClientPayloadError``) -> :class:`ProviderConnectionError`
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from providers.errors import (
    CloudflareError,
    MissingAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ResponseFormatError,
    ResponseStatusError,
)

CLOUDFLARE_MARKERS = (
    '<div id="cf-please-wait">', "<title>Just a moment...</title>", "cf-browser-verification",
    "challenges.cloudflare.com", "cf_chl_opt", "<title>Attention Required! | Cloudflare</title>",
)
"""Substrings of Cloudflare challenge pages (the first two are g4f's 2024 markers)."""
ERROR_BODY_BYTES = 65_536
"""How much of an error body is read to find its message (bytes)."""
RATE_LIMIT_CODES = {"rate_limit_exceeded", "rate_limit_error", "insufficient_quota"}


def client_session(headers: Mapping[str, str] | None, timeout: float) -> aiohttp.ClientSession:
    """A session sending ``headers`` with every request and failing a request that takes longer
    than ``timeout`` seconds in total. Environment proxies are not used: ``proxy=`` is explicit."""
    return aiohttp.ClientSession(headers=dict(headers or {}),
                                 timeout=aiohttp.ClientTimeout(total=timeout))


@asynccontextmanager
async def post(session: aiohttp.ClientSession, url: str, *, json: Any, proxy: str | None,
               headers: Mapping[str, str] | None = None) -> AsyncIterator[aiohttp.ClientResponse]:
    """POST ``json`` and yield the response once its status is known to be < 400.

    Raises the mapped ProviderError for an error status (see the module docstring)."""
    async with session.post(url, json=json, proxy=proxy, headers=headers) as response:
        await raise_for_status(response)
        yield response


async def iter_bytes(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The body as byte chunks exactly as they arrive (aiohttp ``iter_any()``)."""
    async for chunk in response.content.iter_any():
        yield chunk


async def read_json(response: aiohttp.ClientResponse) -> Any:
    """The whole body parsed as JSON whatever its Content-Type; ResponseFormatError if malformed."""
    return parse_json(await response.read())


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` raising :class:`ResponseFormatError` (with a short excerpt) instead."""
    try:
        return json.loads(text)
    except ValueError as exc:
        excerpt = text[:80] if isinstance(text, str) else text[:80].decode("utf-8", "replace")
        raise ResponseFormatError(f"Malformed JSON in the reply: {excerpt!r}") from exc


async def raise_for_status(response: aiohttp.ClientResponse) -> None:
    """Raise the mapped ProviderError when ``response.status`` >= 400; return otherwise."""
    if response.status < 400:
        return
    body = bytearray()
    async for chunk in response.content.iter_chunked(ERROR_BODY_BYTES):
        body += chunk
        if len(body) >= ERROR_BODY_BYTES:
            break
    raise error_for_status(response.status, body.decode("utf-8", "replace"),
                           retry_after=response.headers.get("Retry-After"),
                           reason=response.reason)


def error_for_status(status: int, body: str, *, retry_after: str | None = None,
                     reason: str | None = None) -> ProviderError:
    """The typed error for an HTTP error ``status`` with this ``body`` (module docstring)."""
    if status in (403, 503) and any(marker in body for marker in CLOUDFLARE_MARKERS):
        return CloudflareError(f"Blocked by Cloudflare (HTTP {status})", status)
    detail = _body_detail(body, reason)
    if status in (429, 402):
        return RateLimitError(f"Rate limit reached (HTTP {status}): {detail}", status=status,
                              retry_after=_seconds(retry_after))
    if status == 401:
        return MissingAuthError(f"Not authorised (HTTP 401): {detail}")
    return ResponseStatusError(f"HTTP {status}: {detail}", status)


def error_from_payload(payload: Any) -> ProviderError:
    """The error for an ``{"error": ...}`` object inside a 200 reply (an SSE error event)."""
    message = _payload_message(payload) or "The provider reported an error"
    error = payload.get("error") if isinstance(payload, dict) else None
    codes = {str(error.get(key)) for key in ("code", "type")} if isinstance(error, dict) else set()
    if codes & RATE_LIMIT_CODES:
        return RateLimitError(f"Rate limit reached: {message}")
    return ProviderError(message)


def _payload_message(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    for key in ("error", "detail", "message"):
        value = payload.get(key)
        if isinstance(value, dict):
            value = value.get("message") or value.get("msg")
        if isinstance(value, str) and value.strip():
            return _short(value)
    return None


def _body_detail(body: str, reason: str | None) -> str:
    text = body.strip()
    try:
        message = _payload_message(json.loads(text)) if text else None
    except ValueError:
        message = None
    if message:
        return message
    if not text or text.startswith("<") or "<html" in text[:500].lower():
        return reason or "no details"
    return _short(text)


def _short(text: str, limit: int = 200) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP-date Retry-After is not used by these providers


def map_exception(exc: BaseException) -> ProviderError | None:
    """The ProviderError for an exception raised while talking to a provider, or None when the
    exception is not a network one (a bug that must propagate as it is)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError):  # aiohttp's total and socket timeouts
        return ProviderTimeoutError("The provider did not answer in time")
    if isinstance(exc, (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError)):
        return ProviderConnectionError("The connection closed before the reply was complete")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ProviderConnectionError("Cannot connect to the provider")
    if isinstance(exc, aiohttp.InvalidURL):
        return ProviderConnectionError("The provider URL is invalid")
    if isinstance(exc, aiohttp.ClientError):
        return ProviderConnectionError(f"Connection error ({type(exc).__name__})")
    return None


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
    raise ResponseFormatError("The provider's image is not an image")


async def download_image(session: aiohttp.ClientSession, url: str, *, proxy: str | None,
                         max_bytes: int, timeout: float,
                         headers: Mapping[str, str] | None = None) -> tuple[bytes, str]:
    """GET an image: ``(bytes, MIME type)``. At most ``max_bytes`` bytes (Content-Length checked
    first, then while reading) and ``timeout`` seconds in total.

    Raises ResponseFormatError when too large or not an image, or the mapped status error."""
    async with session.get(url, proxy=proxy, headers=headers,
                           timeout=aiohttp.ClientTimeout(total=timeout)) as response:
        await raise_for_status(response)
        if response.content_length is not None and response.content_length > max_bytes:
            raise _too_large(max_bytes)
        data = bytearray()
        async for chunk in response.content.iter_chunked(65_536):
            data += chunk
            if len(data) > max_bytes:
                raise _too_large(max_bytes)
        return bytes(data), image_mime_type(bytes(data[:16]), response.headers.get("Content-Type"))


def decode_image(b64: str, *, max_bytes: int) -> tuple[bytes, str]:
    """Decode a base64 image (``b64_json``): ``(bytes, MIME type from the magic bytes)``."""
    if len(b64) * 3 // 4 > max_bytes + 3:
        raise _too_large(max_bytes)
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ResponseFormatError("The provider's image is not valid base64") from exc
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data, image_mime_type(data[:16])


def _too_large(max_bytes: int) -> ResponseFormatError:
    return ResponseFormatError(f"The image is larger than {max_bytes} bytes")
