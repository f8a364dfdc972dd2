"""HTTP status and exception mapping (providers/status.py), image sniffing, decoding and
capped downloads (providers/http.py)."""

from __future__ import annotations

import base64

import aiohttp
import pytest
from aiohttp import web

from providers.errors import (
    CloudflareError,
    MissingAuthError,
    ProviderConnectionError,
    ProviderTimeoutError,
    RateLimitError,
    ResponseFormatError,
    ResponseStatusError,
)
from providers.http import client_session, decode_image, download_image, image_mime_type
from providers.limits import Limits
from providers.status import error_for_status, map_exception
from tests.fakes.providers import make_png

CLOUDFLARE_PAGE = ("<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
                   '<body><div id="cf-please-wait">Checking your browser</div></body></html>')


def test_rate_limit_statuses_carry_retry_after() -> None:
    error = error_for_status(429, '{"error": {"message": "Too many requests"}}', retry_after="7")
    assert isinstance(error, RateLimitError)
    assert (error.status, error.retry_after) == (429, 7.0)
    assert str(error) == "Rate limit reached (HTTP 429)" and error.detail == "Too many requests"
    assert isinstance(error_for_status(402, "pay"), RateLimitError)
    http_date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert error_for_status(429, "", retry_after=http_date).retry_after is None


def test_cloudflare_pages_are_recognised_only_as_cloudflare() -> None:
    for status in (403, 503):
        error = error_for_status(status, CLOUDFLARE_PAGE)
        assert isinstance(error, CloudflareError) and error.status == status
        assert "<" not in str(error)
    plain_403 = error_for_status(403, "<html><body>Forbidden</body></html>", reason="Forbidden")
    assert type(plain_403) is ResponseStatusError
    assert str(plain_403) == "the provider refused access (HTTP 403)"
    assert plain_403.detail == "Forbidden"


def test_messages_are_categories_and_the_server_text_is_only_the_detail() -> None:
    auth = error_for_status(401, '{"error": "bad key sk-abc…xyz"}')
    assert isinstance(auth, MissingAuthError)
    assert str(auth) == "the provider rejected the key (HTTP 401)"
    assert auth.detail == "bad key sk-abc…xyz"
    error = error_for_status(500, '{"detail": "backend exploded"}')
    assert isinstance(error, ResponseStatusError) and error.status == 500
    assert str(error) == "the provider is down (HTTP 500)" and error.detail == "backend exploded"
    assert str(error_for_status(404, "no such model")) == (
        "the provider does not offer this endpoint or model (HTTP 404)")
    assert str(error_for_status(422, "bad")) == "the provider rejected the request (HTTP 422)"
    long = error_for_status(502, "x " * 1000)
    assert type(long) is ResponseStatusError and str(long) == "the provider is down (HTTP 502)"
    assert long.detail is not None and len(long.detail) == 1000  # cut, for the log
    error.provider = "AiAsk"
    assert error.user_text() == "AiAsk: the provider is down (HTTP 500)"
    assert error.log_text() == "AiAsk: the provider is down (HTTP 500) [backend exploded]"


def test_map_exception_translates_network_errors_and_leaves_bugs_alone() -> None:
    assert isinstance(map_exception(TimeoutError()), ProviderTimeoutError)
    assert isinstance(map_exception(aiohttp.ServerTimeoutError()), ProviderTimeoutError)
    assert isinstance(map_exception(aiohttp.ClientPayloadError("cut")), ProviderConnectionError)
    assert isinstance(map_exception(aiohttp.ServerDisconnectedError()), ProviderConnectionError)
    assert map_exception(KeyError("bug")) is None


def test_image_mime_type_prefers_magic_bytes_then_the_header() -> None:
    assert image_mime_type(make_png(), "application/octet-stream") == "image/png"
    assert image_mime_type(b"\xff\xd8\xff\xe0rest", None) == "image/jpeg"
    assert image_mime_type(b"GIF89a...", "text/plain") == "image/gif"
    assert image_mime_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ", None) == "image/webp"
    assert image_mime_type(b"<svg/>", "image/svg+xml; charset=utf-8") == "image/svg+xml"
    with pytest.raises(ResponseFormatError, match="not an image"):
        image_mime_type(b"<html>", "text/html")


def test_decode_image_checks_base64_and_size() -> None:
    png = make_png(4, 4)
    assert decode_image(base64.b64encode(png).decode(), max_bytes=10_000) == (png, "image/png")
    with pytest.raises(ResponseFormatError, match="base64"):
        decode_image("***", max_bytes=10_000)
    with pytest.raises(ResponseFormatError, match="larger than 10 bytes"):
        decode_image(base64.b64encode(png).decode(), max_bytes=10)


async def test_download_image_caps_a_chunked_body_while_reading() -> None:
    """No Content-Length to check first: the cap must stop the read itself."""
    async def endless_png(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "image/png"
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(make_png())
        for _ in range(100):
            await response.write(bytes(1000))
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/img", endless_png)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/img"
    try:
        async with client_session(None, Limits()) as session:
            with pytest.raises(ResponseFormatError, match="larger than 5000 bytes"):
                await download_image(session, url, proxy=None,
                                     limits=Limits(image_max_bytes=5_000))
            data, mime = await download_image(session, url, proxy=None,
                                              limits=Limits(image_max_bytes=200_000))
        assert mime == "image/png" and len(data) == len(make_png()) + 100_000
    finally:
        await runner.cleanup()
