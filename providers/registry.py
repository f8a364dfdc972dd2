"""The model registry: what a user types -> ordered (provider, model) routes, with fallback.

Names are matched case-insensitively: a model id (``gpt-4o``), a provider's alias
(``gpt-3.5`` -> ``gpt-3.5-turbo``; AI365VIP's ``gpt-3.5-turbo`` -> ``gpt-3.5-turbo-16k``), or
``Provider/model`` to pin exactly one route (``AiAsk/gpt-3.5-turbo``). A model served by
several providers gets one route per provider, in registry order (the fallback order).

The default order (:func:`default_registry`) is ``OpenAI`` (only when configured: a key or a
non-default base URL; it is the one the operator pays for), then ``Ylokh``, ``AI365VIP``,
``AiChats``, ``ChatAnywhere``, ``AiAsk``. So ``gpt-3.5-turbo`` is tried on Ylokh (an
OpenAI-compatible SSE API: true streaming, explicit end marker and error objects), AI365VIP
(line-streamed, but behind Cloudflare), ChatAnywhere (raw text, no error signalling) and AiAsk
last (raw text with a free quota that runs out, signalled only by a sentinel reply).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from providers.ai365vip import AI365VIP
from providers.aiask import AiAsk
from providers.aichats import AiChats
from providers.base import AsyncGeneratorProvider, Chunk, Messages, text_only
from providers.chatanywhere import ChatAnywhere
from providers.errors import (
    N_,
    AllProvidersFailedError,
    ProviderError,
    ResponseFormatError,
    UnknownModelError,
)
from providers.openai import OpenAI
from providers.settings import ProviderSettings
from providers.ylokh import Ylokh

log = logging.getLogger(__name__)

SEED_PROVIDERS: tuple[type[AsyncGeneratorProvider], ...] = (
    Ylokh, AI365VIP, AiChats, ChatAnywhere, AiAsk)
"""The seed providers in fallback order (see the module docstring for why)."""


@dataclass(frozen=True)
class Route:
    """One way to serve a model: a provider class and that provider's own model id."""

    provider: type[AsyncGeneratorProvider]
    model: str

    @property
    def name(self) -> str:
        """``"Provider/model"``, e.g. ``"AiChats/dalle"``."""
        return f"{self.provider.__name__}/{self.model}"

    @property
    def is_image(self) -> bool:
        """True when the model yields ImageResponse chunks (it is in ``image_models``)."""
        return self.model in getattr(self.provider, "image_models", [])

    @property
    def can_see(self) -> bool:
        """True when the model takes images in (it is in ``vision_models``)."""
        return self.model in getattr(self.provider, "vision_models", [])


@dataclass
class ProviderHealth:
    """The outcome of a provider's last use: ``ok`` None = never tried; ``checked_at`` (UTC)
    when it was last tried; ``error`` the last error's short message (``str(error)``, never
    the provider's own text: it is listed to every user), None after a success; ``failure``
    that error itself (its ``user_text`` translates), None after a success."""

    ok: bool | None = None
    checked_at: datetime | None = None
    error: str | None = None
    failure: ProviderError | None = None


def _provider_names(provider: type[AsyncGeneratorProvider]) -> list[str]:
    """Every name the provider answers to: its model ids and its aliases."""
    return [*provider.get_models(), *getattr(provider, "model_aliases", {})]  # type: ignore[attr-defined]


class ModelRegistry:
    """Resolves names to routes over an explicit, ordered list of provider classes."""

    def __init__(self, providers: Sequence[type[AsyncGeneratorProvider]]) -> None:
        self.providers = list(providers)
        self.health: dict[str, ProviderHealth] = {
            provider.__name__: ProviderHealth() for provider in self.providers}
        self._by_provider = {provider.__name__.lower(): provider for provider in self.providers}
        self._routes: dict[str, list[Route]] = {}
        self._spelling: dict[str, str] = {}  # lower-case name -> as the provider spells it
        for provider in self.providers:
            for name in _provider_names(provider):
                route = Route(provider, provider.get_model(name))  # type: ignore[attr-defined]
                routes = self._routes.setdefault(name.lower(), [])
                self._spelling.setdefault(name.lower(), name)
                if all(known.provider is not provider for known in routes):
                    routes.append(route)

    def resolve(self, name: str) -> list[Route]:
        """Ordered fallback candidates for what a user typed (case-insensitive id, alias, or
        ``Provider/model``, which pins exactly one route). Raises UnknownModelError(name,
        suggestions) with close matches (difflib) when nothing matches."""
        key = name.strip().lower()
        head, slash, tail = key.partition("/")
        provider = self._by_provider.get(head) if slash else None
        if provider is not None:
            for known in _provider_names(provider):
                if known.lower() == tail:
                    return [Route(provider, provider.get_model(known))]  # type: ignore[attr-defined]
        elif key in self._routes:
            return list(self._routes[key])
        raise UnknownModelError(name.strip(), self._suggestions(key))

    def canonical(self, name: str) -> str:
        """The normalised name to store for a chat: the model id or alias as the provider spells
        it (``"GPT-4O"`` -> ``"gpt-4o"``), or ``"Provider/model"`` for a pinned route.
        Raises UnknownModelError like :meth:`resolve`."""
        routes = self.resolve(name)
        key = name.strip().lower()
        return self._spelling[key] if key in self._routes else routes[0].name

    def models(self) -> dict[str, list[str]]:
        """Provider name -> the model ids it offers (for menus), in registry order."""
        return {provider.__name__: list(provider.get_models())  # type: ignore[attr-defined]
                for provider in self.providers}

    def model_names(self) -> list[str]:
        """Every distinct model id, in registry order."""
        return list(dict.fromkeys(model for models in self.models().values() for model in models))

    def vision_model_names(self) -> list[str]:
        """Every distinct model id that takes images in, in registry order."""
        return list(dict.fromkeys(
            model for provider in self.providers
            for model in getattr(provider, "vision_models", [])
            if model in provider.get_models()))  # type: ignore[attr-defined]

    def _suggestions(self, key: str) -> list[str]:
        pinned = {route.name.lower(): route.name
                  for routes in self._routes.values() for route in routes}
        candidates = {**pinned, **self._spelling}
        import difflib  # only for an unknown model's suggestions: not imported at start-up

        matches = difflib.get_close_matches(key, list(candidates), n=5, cutoff=0.6)
        return [candidates[match] for match in matches]

    async def stream_routes(self, routes: Sequence[Route], messages: Messages, **kwargs: Any
                            ) -> AsyncGenerator[tuple[Route, Chunk], None]:
        """Yield ``(route, chunk)``. A ProviderError raised by a route BEFORE its first chunk
        (a route that ends without any chunk counts as failed with ResponseFormatError "empty
        reply") moves on to the next route; when every route failed, raise
        AllProvidersFailedError(errors). An error AFTER the first chunk propagates unchanged
        (its ``.provider`` set). Records ``health`` per provider and logs every failure with
        its detail (WARNING; the detail is for the log only). ``kwargs`` go to every
        provider's ``create_async_generator``. A route that cannot see gets the messages'
        text only (:func:`~providers.base.text_only`)."""
        errors: list[tuple[Route, ProviderError]] = []
        for route in routes:
            started = False
            try:
                sent = messages if route.can_see else text_only(messages)
                stream = route.provider.create_async_generator(route.model, sent, **kwargs)
                async with aclosing(stream) as chunks:
                    async for chunk in chunks:
                        if not started:
                            started = True
                            self._record(route, None)
                        yield route, chunk
                if not started:
                    raise ResponseFormatError(N_("The provider returned an empty reply"),
                                              provider=route.provider.__name__)
                return
            except ProviderError as error:
                if error.provider is None:
                    error.provider = route.provider.__name__
                self._record(route, error)
                if started:
                    raise
                errors.append((route, error))
        raise AllProvidersFailedError(errors)

    def _record(self, route: Route, error: ProviderError | None) -> None:
        if error is not None:
            log.warning("%s failed: %s", route.name, error.log_text())
        self.health[route.provider.__name__] = ProviderHealth(
            ok=error is None, checked_at=datetime.now(UTC),
            error=None if error is None else str(error), failure=error)


def default_registry(settings: ProviderSettings | None = None) -> ModelRegistry:
    """The registry built once from an explicit ordered list: OpenAI first when configured,
    then :data:`SEED_PROVIDERS`. With ``settings``, every provider is bound to them
    (``with_settings``); without, providers read ``providers.settings.current()`` per call."""
    providers: list[type[AsyncGeneratorProvider]] = []
    openai = OpenAI if settings is None else OpenAI.with_settings(settings)
    if openai.is_configured():
        providers.append(openai)
    for provider in SEED_PROVIDERS:
        providers.append(provider if settings is None else provider.with_settings(settings))
    return ModelRegistry(providers)
