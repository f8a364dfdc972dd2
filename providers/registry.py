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

import asyncio
import logging
from collections.abc import AsyncGenerator, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from providers.ai365vip import AI365VIP
from providers.aiask import AiAsk
from providers.aichats import AiChats
from providers.base import AsyncGeneratorProvider, Chunk, Messages, text_only
from providers.chatanywhere import ChatAnywhere
from providers.endpoints import Endpoint, load_endpoints
from providers.errors import (
    N_,
    AllProvidersFailedError,
    ProviderError,
    ResponseFormatError,
    UnknownModelError,
)
from providers.model_lists import ModelCatalog
from providers.openai import OpenAI
from providers.settings import ProviderSettings, current
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


@runtime_checkable
class ModelProvider(Protocol):
    """A provider class with a model list (``ProviderModelMixin``'s classmethods)."""

    def get_models(self) -> list[str]: ...

    def get_model(self, model: str | None) -> str: ...


@runtime_checkable
class ListingProvider(ModelProvider, Protocol):
    """A provider class whose models come from its endpoint (``providers.openai.OpenAI``)."""

    catalog: ModelCatalog | None

    async def refresh_models(self) -> list[str]: ...


def _listing(provider: type[AsyncGeneratorProvider]) -> ModelProvider:
    """The provider as a :class:`ModelProvider`; raises TypeError for one without models."""
    if not isinstance(provider, ModelProvider):
        raise TypeError(f"{provider.__name__} has no model list (ProviderModelMixin)")
    return provider


def _name(provider: object) -> str:
    """A provider class's name (the endpoint's, for an endpoint)."""
    return str(getattr(provider, "__name__", provider))


def _provider_names(provider: type[AsyncGeneratorProvider]) -> list[str]:
    """Every name the provider answers to: its model ids and its aliases."""
    return [*_listing(provider).get_models(), *getattr(provider, "model_aliases", {})]


class ModelRegistry:
    """Resolves names to routes over an explicit, ordered list of provider classes.

    The models of endpoint providers change when :meth:`refresh` asks them; the index of names
    is rebuilt then (:meth:`rebuild`)."""

    def __init__(self, providers: Sequence[type[AsyncGeneratorProvider]]) -> None:
        self.providers = list(providers)
        self.health: dict[str, ProviderHealth] = {
            provider.__name__: ProviderHealth() for provider in self.providers}
        self._by_provider = {provider.__name__.lower(): provider for provider in self.providers}
        self._routes: dict[str, list[Route]] = {}
        self._spelling: dict[str, str] = {}  # lower-case name -> as the provider spells it
        self.rebuild()

    def rebuild(self) -> None:
        """Index every provider's current model ids and aliases (after a model list changed)."""
        routes_by_name: dict[str, list[Route]] = {}
        spelling: dict[str, str] = {}
        for provider in self.providers:
            for name in _provider_names(provider):
                route = Route(provider, _listing(provider).get_model(name))
                routes = routes_by_name.setdefault(name.lower(), [])
                spelling.setdefault(name.lower(), name)
                if all(known.provider is not provider for known in routes):
                    routes.append(route)
        self._routes, self._spelling = routes_by_name, spelling

    def resolve(self, name: str) -> list[Route]:
        """Ordered fallback candidates for what a user typed (case-insensitive id, alias, or
        ``Provider/model``, which pins exactly one route). The first segment of a name with
        slashes is a provider only if such a provider exists and offers the rest
        (``openrouter/deepseek/deepseek-r1``); else the whole name is a model id
        (``deepseek/deepseek-r1``). Raises UnknownModelError(name, suggestions) with close
        matches (difflib) when nothing matches."""
        key = name.strip().lower()
        head, slash, tail = key.partition("/")
        provider = self._by_provider.get(head) if slash else None
        if provider is not None:
            for known in _provider_names(provider):
                if known.lower() == tail:
                    return [Route(provider, _listing(provider).get_model(known))]
        if key in self._routes:
            return list(self._routes[key])
        raise UnknownModelError(name.strip(), self._suggestions(key))

    def canonical(self, name: str) -> str:
        """The normalised name to store for a chat: the model id or alias as the provider spells
        it (``"GPT-4O"`` -> ``"gpt-4o"``), or ``"Provider/model"`` for a pinned route.
        Raises UnknownModelError like :meth:`resolve`."""
        routes = self.resolve(name)
        key = name.strip().lower()
        pinned = len(routes) == 1 and routes[0].name.lower() == key
        return routes[0].name if pinned or key not in self._routes else self._spelling[key]

    def models(self) -> dict[str, list[str]]:
        """Provider name -> the model ids it offers (for menus), in registry order."""
        return {provider.__name__: list(_listing(provider).get_models())
                for provider in self.providers}

    def listing_of(self, provider: str) -> ModelCatalog | None:
        """What the provider's ``GET /models`` said last (None for a provider with a fixed
        list)."""
        found = self._by_provider.get(provider.lower())
        return found.catalog if isinstance(found, ListingProvider) else None

    async def refresh(self, only: Iterable[str] | None = None) -> set[str]:
        """Ask every endpoint provider (or those named in ``only``) for its models at once
        (``GET /models``, ``MODELS_TIMEOUT`` seconds each), then :meth:`rebuild`. An endpoint
        that fails keeps its last known (or configured) list; its failure is logged in one
        WARNING line when it starts failing (INFO while it keeps failing, and when it answers
        again). Returns the names of the providers that failed."""
        wanted = None if only is None else {name.lower() for name in only}
        listing: list[ListingProvider] = []
        for provider in self.providers:
            if isinstance(provider, ListingProvider) and provider.catalog is not None and (
                    wanted is None or provider.__name__.lower() in wanted):
                listing.append(provider)
        was_failing = {_name(provider): provider.catalog is not None and
                       provider.catalog.error is not None for provider in listing}
        results = await asyncio.gather(*(provider.refresh_models() for provider in listing),
                                       return_exceptions=True)
        failed: set[str] = set()
        for endpoint, result in zip(listing, results, strict=True):
            name = _name(endpoint)
            if isinstance(result, ProviderError):
                failed.add(name)
                kept = len(endpoint.get_models())
                detail = f" [{result.detail}]" if result.detail else ""
                log.log(logging.INFO if was_failing[name] else logging.WARNING,
                        "%s: GET /models failed: %s%s; keeping its last known list (%d models), "
                        "asking again later", name, result, detail, kept)
            elif isinstance(result, BaseException):
                raise result
            elif was_failing[name]:
                log.info("%s: its model list answered again (%d models)", name, len(result))
        self.rebuild()
        return failed

    def model_names(self) -> list[str]:
        """Every distinct model id, in registry order."""
        return list(dict.fromkeys(model for models in self.models().values() for model in models))

    def vision_model_names(self) -> list[str]:
        """Every distinct model id that takes images in, in registry order."""
        return list(dict.fromkeys(
            model for provider in self.providers
            for model in getattr(provider, "vision_models", [])
            if model in _listing(provider).get_models()))

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


def default_registry(settings: ProviderSettings | None = None,
                     endpoints: Sequence[Endpoint] | None = None,
                     seeds: Sequence[type[AsyncGeneratorProvider]] = SEED_PROVIDERS,
                     ) -> ModelRegistry:
    """The registry built once from an explicit ordered list: the endpoints (``endpoints``, by
    default :func:`~providers.endpoints.load_endpoints`: ``openai`` from ``OPENAI_*`` when
    configured, then ``ENDPOINTS_FILE``'s, in its order), then :data:`SEED_PROVIDERS`. With
    ``settings``, every provider is bound to them (``with_settings``); without, providers read
    ``providers.settings.current()`` per call. Raises EndpointsFileError for a bad file."""
    if endpoints is None:
        endpoints = load_endpoints(settings if settings is not None else current())
    providers: list[type[AsyncGeneratorProvider]] = [
        OpenAI.for_endpoint(endpoint, settings) for endpoint in endpoints]
    for provider in seeds:
        providers.append(provider if settings is None else provider.with_settings(settings))
    return ModelRegistry(providers)
