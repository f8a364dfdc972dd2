"""Which model answers a chat: its stored choice, else DEFAULT_MODEL, else the registry's first
model; the providers that serve it in fallback order; switching it; and the chat told when its
chosen model is no longer offered."""

from __future__ import annotations

import logging

from bot.i18n import _
from bot.model_choice import VANISHED, unavailable
from bot.settings import Settings
from bot.storage import ChatRecord, Store
from bot.turn_types import ChatTarget, ReplySink
from providers import ModelRegistry, Route, UnknownModelError

log = logging.getLogger(__name__)


class ChatModels:
    """The model of each chat in ``store``, among the models ``registry`` offers now."""

    def __init__(self, store: Store, registry: ModelRegistry, settings: Settings) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings

    def unavailable(self) -> str | None:
        """Why no turn can be answered now, for the user, or None
        (:func:`bot.model_choice.unavailable`)."""
        return unavailable(self.registry)

    @property
    def default_model(self) -> str:
        """DEFAULT_MODEL, or the registry's first model when it is unset or not offered (now);
        ``""`` when no model is offered at all."""
        if self.settings.default_model:
            try:
                return self.registry.canonical(self.settings.default_model)
            except UnknownModelError:
                log.warning("DEFAULT_MODEL %r is not offered now; using the first model",
                            self.settings.default_model)
        return next(iter(self.registry.model_names()), "")

    def model_of(self, chat: ChatRecord | None) -> str:
        """The chat's chosen model, or the default when none is chosen (or it vanished)."""
        return self.routes_of(chat)[0]

    def routes_of(self, chat: ChatRecord | None) -> tuple[str, list[Route]]:
        """The chat's model and its providers in fallback order (``("", [])`` when no model is
        offered at all)."""
        if chat is not None and chat.model:
            try:
                return chat.model, self.registry.resolve(chat.model)
            except UnknownModelError:
                log.warning("chat %s: stored model %r is no longer offered", chat.id, chat.model)
        model = self.default_model
        return (model, self.registry.resolve(model)) if model else ("", [])

    async def vanished(self, chat: ChatRecord | None, model: str, sink: ReplySink) -> None:
        """The chat's chosen model is no longer offered (its endpoint's list dropped it, or the
        endpoint is gone): the chat is told, and the default (``model``) is stored as its
        choice."""
        if chat is None or not chat.model or chat.model == model:
            return
        await sink.notice(_(VANISHED, old=chat.model, model=model))
        await self.store.set_model(chat.id, model)

    async def set_model(self, target: ChatTarget, name: str) -> str:
        """Switch a chat's model; returns the canonical name. Raises UnknownModelError."""
        canonical = self.registry.canonical(name)
        await self.store.get_or_create_chat(target.chat_id, target.chat_type)
        await self.store.set_model(target.chat_id, canonical)
        return canonical

    async def current_model(self, target: ChatTarget) -> str:
        """The chat's model now (:meth:`model_of` its stored record)."""
        return self.model_of(await self.store.get_chat(target.chat_id))
