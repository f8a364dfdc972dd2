"""The one exception hierarchy of the provider library.

Every provider failure is a :class:`ProviderError`; aiohttp's exceptions never escape a
provider (``providers.http.map_exception`` translates them). Each message is a short category,
plain and safe to show a user (e.g. "the provider rejected the key (HTTP 401)"): it never holds
what the provider's server wrote. That text (an error body's message, a stack trace, a key
fragment, an excerpt of a malformed reply) is the error's ``detail``, for the log only
(:meth:`ProviderError.log_text`; ``providers.registry`` logs every failure with it).

Messages are English, and translatable: a message is a ``str.format`` template (marked with
:func:`N_` so that the bot's extraction finds it) filled from the error's ``params``;
:meth:`ProviderError.user_text` takes a translating function (the bot's ``bot.i18n._``) and
gives the text in the user's language. Without one (the CLI, the log) it is English.

``ProviderError`` derives from ``RuntimeError`` to keep the seeds' documented contract
(AiAsk raises ``RuntimeError("Rate limit reached")``; seed 000, "Raises: RuntimeError").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - import only for type hints (avoids a cycle)
    from providers.registry import Route

Translate = Callable[..., str]
"""``translate(template, **params)``: a template in the user's language, its fields filled
(``bot.i18n._``)."""


def N_(message: str, /) -> str:
    """Mark ``message`` for extraction (``python -m bot.catalogs update``); returns it as is."""
    return message


def _english(template: str, /, **params: Any) -> str:
    return template.format(**params) if params else template


class ProviderError(RuntimeError):
    """A provider failed. ``message`` is the short category safe to show a user; ``provider``
    is the provider's class name (e.g. ``"AiAsk"``) or None when not known yet (the generator
    wrapper in ``providers.base`` fills it in); ``detail`` is what the provider's server said,
    for the log only (it may hold file paths or key fragments), or None. ``message`` may be a
    template with ``{name}`` fields filled from ``params`` (``template`` keeps it, to be
    translated)."""

    def __init__(self, message: str, *, provider: str | None = None,
                 detail: str | None = None, params: Mapping[str, Any] | None = None) -> None:
        self.template = message
        self.params = dict(params or {})
        message = _english(message, **self.params)
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.detail = detail

    def __str__(self) -> str:
        return self.message

    def translated(self, translate: Translate = _english) -> str:
        """The message through ``translate`` (default: English, :attr:`message`)."""
        return translate(self.template, **self.params)

    def user_text(self, translate: Translate = _english) -> str:
        """``"<provider>: <message>"`` (just the message when the provider is not known): what
        a user is shown (its message through ``translate``) and, in English, what is stored
        with a failed reply."""
        message = self.translated(translate)
        return f"{self.provider}: {message}" if self.provider else message

    def log_text(self) -> str:
        """:meth:`user_text` plus the ``detail`` (for the log only)."""
        return f"{self.user_text()} [{self.detail}]" if self.detail else self.user_text()


class RateLimitError(ProviderError):
    """The provider refused for quota or rate reasons: HTTP 429/402, or AiAsk's sentinel text.

    ``retry_after`` is seconds from a ``Retry-After`` header when the server sent one, else None;
    ``status`` is the HTTP status, or None for a sentinel found in a 200 body."""

    def __init__(self, message: str = N_("Rate limit reached"), *, status: int | None = None,
                 retry_after: float | None = None, provider: str | None = None,
                 detail: str | None = None, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, provider=provider, detail=detail, params=params)
        self.status = status
        self.retry_after = retry_after


class MissingAuthError(ProviderError):
    """The provider needs credentials it did not get or rejected them (HTTP 401)."""


class ModelNotSupportedError(ProviderError):
    """A provider was asked for a model it does not offer (g4f's ``get_model()`` contract)."""

    def __init__(self, model: str, provider: str, models: Sequence[str] = ()) -> None:
        params = {"model": model, "provider": provider, "models": ", ".join(models)}
        if models:
            message = N_("Model is not supported: {model} in: {provider}. Valid models: {models}")
        else:
            message = N_("Model is not supported: {model} in: {provider}")
        super().__init__(message, provider=provider, params=params)
        self.model = model


class ResponseStatusError(ProviderError):
    """The provider answered with an HTTP error status (``status`` >= 400)."""

    def __init__(self, message: str, status: int, *, provider: str | None = None,
                 detail: str | None = None, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, provider=provider, detail=detail, params=params)
        self.status = status


class CloudflareError(ResponseStatusError):
    """A Cloudflare challenge page answered instead of the API (usually HTTP 403 or 503)."""


class ResponseFormatError(ProviderError):
    """The reply did not have the provider's wire format: malformed JSON or SSE, a missing
    field, an empty reply, an image that is not an image."""


class ResponseTooLargeError(ResponseFormatError):
    """A part of the reply is larger than its byte bound: a line or SSE event
    (``PROVIDER_MAX_LINE_BYTES``), a JSON body (``PROVIDER_MAX_JSON_BYTES``) or an image
    (``IMAGE_MAX_BYTES``). Reading stops at the bound. A ``what`` param names the part
    (a :func:`N_`-marked phrase, translated with the message)."""

    def translated(self, translate: Translate = _english) -> str:
        params = self.params
        if isinstance(params.get("what"), str):
            params = params | {"what": translate(params["what"])}
        return translate(self.template, **params)


class ProviderTimeoutError(ProviderError):
    """The provider was silent too long (seconds): no connection within
    ``PROVIDER_CONNECT_TIMEOUT``, no first byte within ``PROVIDER_FIRST_BYTE_TIMEOUT`` of the
    request, or no byte within ``PROVIDER_IDLE_TIMEOUT`` of the previous one."""


class ProviderConnectionError(ProviderError):
    """The connection failed, or the reply ended before it was complete: the connection was
    reset, or closed without the wire format's end marker (OpenAI's ``data: [DONE]``)."""


class UnknownModelError(ProviderError):
    """The registry knows no model or ``Provider/model`` by this name.

    ``name`` is what was asked for; ``suggestions`` are close matches (difflib), best first."""

    def __init__(self, name: str, suggestions: Sequence[str] = ()) -> None:
        self.name = name
        self.suggestions = list(suggestions)
        params = {"name": repr(name), "suggestions": ", ".join(self.suggestions)}
        if self.suggestions:
            message = N_("Unknown model: {name}. Did you mean: {suggestions}?")
        else:
            message = N_("Unknown model: {name}.")
        super().__init__(message, params=params)


class AllProvidersFailedError(ProviderError):
    """Every route tried for a model failed before yielding anything.

    ``errors`` holds ``(route, error)`` pairs in the order the routes were tried. The message
    names each provider with its error's short message: ``"OpenAI: the provider is down (HTTP
    503)"`` for one route, ``"All providers failed: Ylokh: ...; AiAsk: ..."`` for several."""

    def __init__(self, errors: Sequence[tuple[Route, ProviderError]]) -> None:
        self.errors = list(errors)
        super().__init__(self.translated())

    def translated(self, translate: Translate = _english) -> str:
        parts = [f"{route.provider.__name__}: {error.translated(translate)}"
                 for route, error in self.errors]
        if len(parts) == 1:
            return parts[0]
        if parts:
            return translate(N_("All providers failed: {errors}"), errors="; ".join(parts))
        return translate(N_("No provider to try"))


__all__ = [
    "N_",
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
    "ResponseTooLargeError",
    "Translate",
    "UnknownModelError",
]
