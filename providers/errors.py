"""The one exception hierarchy of the provider library.

Every provider failure is a :class:`ProviderError`; aiohttp's exceptions never escape a
provider (``providers.http.map_exception`` translates them). Each message is short, plain
and safe to show a user: it never contains an API key, a proxy URL or a whole HTML page.

``ProviderError`` derives from ``RuntimeError`` to keep the seeds' documented contract
(AiAsk raises ``RuntimeError("Rate limit reached")``; seed 000, "Raises: RuntimeError").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - import only for type hints (avoids a cycle)
    from providers.registry import Route


class ProviderError(RuntimeError):
    """A provider failed. ``provider`` is the provider's class name (e.g. ``"AiAsk"``) or None
    when not known yet; the generator wrapper in ``providers.base`` fills it in."""

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider

    def __str__(self) -> str:
        return self.message


class RateLimitError(ProviderError):
    """The provider refused for quota or rate reasons: HTTP 429/402, or AiAsk's sentinel text.

    ``retry_after`` is seconds from a ``Retry-After`` header when the server sent one, else None;
    ``status`` is the HTTP status, or None for a sentinel found in a 200 body."""

    def __init__(self, message: str = "Rate limit reached", *, status: int | None = None,
                 retry_after: float | None = None, provider: str | None = None) -> None:
        super().__init__(message, provider=provider)
        self.status = status
        self.retry_after = retry_after


class MissingAuthError(ProviderError):
    """The provider needs credentials it did not get or rejected them (HTTP 401)."""


class ModelNotSupportedError(ProviderError):
    """A provider was asked for a model it does not offer (g4f's ``get_model()`` contract)."""

    def __init__(self, model: str, provider: str, models: Sequence[str] = ()) -> None:
        message = f"Model is not supported: {model} in: {provider}"
        if models:
            message += f". Valid models: {', '.join(models)}"
        super().__init__(message, provider=provider)
        self.model = model


class ResponseStatusError(ProviderError):
    """The provider answered with an HTTP error status (``status`` >= 400)."""

    def __init__(self, message: str, status: int, *, provider: str | None = None) -> None:
        super().__init__(message, provider=provider)
        self.status = status


class CloudflareError(ResponseStatusError):
    """A Cloudflare challenge page answered instead of the API (usually HTTP 403 or 503)."""


class ResponseFormatError(ProviderError):
    """The reply did not have the provider's wire format: malformed JSON or SSE, a missing
    field, an empty reply, an image that is not an image or is larger than allowed."""


class ProviderTimeoutError(ProviderError):
    """The request did not complete within its time limit (seconds, ``PROVIDER_TIMEOUT``)."""


class ProviderConnectionError(ProviderError):
    """The connection failed or was closed before the reply was complete."""


class UnknownModelError(ProviderError):
    """The registry knows no model or ``Provider/model`` by this name.

    ``name`` is what was asked for; ``suggestions`` are close matches (difflib), best first."""

    def __init__(self, name: str, suggestions: Sequence[str] = ()) -> None:
        self.name = name
        self.suggestions = list(suggestions)
        message = f"Unknown model: {name!r}."
        if self.suggestions:
            message += f" Did you mean: {', '.join(self.suggestions)}?"
        super().__init__(message)


class AllProvidersFailedError(ProviderError):
    """Every route tried for a model failed before yielding anything.

    ``errors`` holds ``(route, error)`` pairs in the order the routes were tried."""

    def __init__(self, errors: Sequence[tuple[Route, ProviderError]]) -> None:
        self.errors = list(errors)
        if self.errors:
            details = "; ".join(f"{route.name}: {error}" for route, error in self.errors)
            message = f"All providers failed: {details}"
        else:
            message = "No provider to try"
        super().__init__(message)


__all__ = [
    "AllProvidersFailedError",
    "CloudflareError",
    "MissingAuthError",
    "ModelNotSupportedError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderTimeoutError",
    "RateLimitError",
    "ResponseFormatError",
    "ResponseStatusError",
    "UnknownModelError",
]
