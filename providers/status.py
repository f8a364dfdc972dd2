"""What a provider's failure becomes: HTTP status, error payload and exception -> typed
:class:`~providers.errors.ProviderError` (no network here).

Every message is a short category a user may see; what the server wrote goes to the error's
``detail`` (for the log only: a 500 body may be a stack trace with file paths, a 401 body may
quote part of the key). Mapping (after g4f's 2024 ``raise_for_status``, provider-protocols.md
§6.7, adapted):

- 429 or 402 -> :class:`RateLimitError` "Rate limit reached (HTTP 429)" (``retry_after`` from a
  numeric ``Retry-After`` header)
- 401 -> :class:`MissingAuthError` "the provider rejected the key (HTTP 401)"
- 403 or 503 with a Cloudflare challenge marker in the body -> :class:`CloudflareError`
- any other status >= 400 -> :class:`ResponseStatusError` with the status's category
  (:data:`STATUS_CATEGORIES`; 5xx "the provider is down (HTTP 500)"). The detail is the JSON
  body's ``error.message`` / ``error`` / ``detail`` / ``message``, the reason phrase for an
  HTML page, else the body's first 1000 characters (whitespace collapsed).
- timeouts -> :class:`ProviderTimeoutError`; a connection refused, reset or closed before the
  end of the body (``ClientPayloadError``) -> :class:`ProviderConnectionError`
"""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp

from providers.errors import (
    N_,
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
RATE_LIMIT_CODES = {"rate_limit_exceeded", "rate_limit_error", "insufficient_quota"}
STATUS_CATEGORIES = {
    400: N_("the provider rejected the request (HTTP {status})"),
    403: N_("the provider refused access (HTTP {status})"),
    404: N_("the provider does not offer this endpoint or model (HTTP {status})"),
    408: N_("the provider timed out (HTTP {status})"),
    413: N_("the provider found the request too large (HTTP {status})"),
}
"""The user's words for an error status (a template); other 4xx: 400's, 5xx: :data:`DOWN`."""
DOWN = N_("the provider is down (HTTP {status})")


def error_for_status(status: int, body: str, *, retry_after: str | None = None,
                     reason: str | None = None) -> ProviderError:
    """The typed error for an HTTP error ``status`` with this ``body`` (module docstring)."""
    if status in (403, 503) and any(marker in body for marker in CLOUDFLARE_MARKERS):
        return CloudflareError(N_("Blocked by Cloudflare (HTTP {status})"), status,
                               params={"status": status})
    detail = _body_detail(body, reason)
    if status in (429, 402):
        return RateLimitError(N_("Rate limit reached (HTTP {status})"), status=status,
                              retry_after=_seconds(retry_after), detail=detail,
                              params={"status": status})
    if status == 401:
        return MissingAuthError(N_("the provider rejected the key (HTTP 401)"), detail=detail)
    if status >= 500:
        template = DOWN
    else:
        template = STATUS_CATEGORIES.get(status, STATUS_CATEGORIES[400])
    return ResponseStatusError(template, status, detail=detail, params={"status": status})


def error_from_payload(payload: Any) -> ProviderError:
    """The error for an ``{"error": ...}`` object inside a 200 reply (an SSE error event); the
    payload's message is the detail."""
    detail = _payload_message(payload)
    error = payload.get("error") if isinstance(payload, dict) else None
    codes = {str(error.get(key)) for key in ("code", "type")} if isinstance(error, dict) else set()
    if codes & RATE_LIMIT_CODES:
        return RateLimitError(N_("Rate limit reached"), detail=detail)
    return ProviderError(N_("the provider reported an error"), detail=detail)


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` raising :class:`ResponseFormatError` (a short excerpt as its detail)."""
    try:
        return json.loads(text)
    except ValueError as exc:
        excerpt = text[:80] if isinstance(text, str) else text[:80].decode("utf-8", "replace")
        raise ResponseFormatError(N_("Malformed JSON in the reply"), detail=repr(excerpt)) from exc


def map_exception(exc: BaseException) -> ProviderError | None:
    """The ProviderError for an exception raised while talking to a provider, or None when the
    exception is not a network one (a bug that must propagate as it is)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # PROVIDER_CONNECT_TIMEOUT
        return ProviderTimeoutError(N_("Cannot connect to the provider in time"))
    if isinstance(exc, TimeoutError):
        return ProviderTimeoutError(N_("The provider did not answer in time"))
    if isinstance(exc, (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError)):
        return ProviderConnectionError(N_("The connection closed before the reply was complete"),
                                       detail=str(exc) or type(exc).__name__)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ProviderConnectionError(N_("Cannot connect to the provider"), detail=str(exc))
    if isinstance(exc, aiohttp.InvalidURL):
        return ProviderConnectionError(N_("The provider URL is invalid"))
    if isinstance(exc, aiohttp.ClientError):
        return ProviderConnectionError(N_("Connection error ({kind})"), detail=str(exc),
                                       params={"kind": type(exc).__name__})
    return None


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


def _short(text: str, limit: int = 1000) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP-date Retry-After is not used by these providers
