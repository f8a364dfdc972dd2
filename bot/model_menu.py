"""``/model``, its keyboard of models and the taps on it, and ``/models``.

A button's ``callback_data`` (Bot API: 1-64 bytes, else the whole keyboard is rejected with
``BUTTON_DATA_INVALID``) names its model by a short hash, looked up in the registry when tapped,
so any model id fits. Data of keyboards sent before (``model:<Provider/model>``) still works.
"""

from __future__ import annotations

import contextlib
import hashlib

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ContextTypes

from bot.deps import allowed, allowed_query, deps_of, message_of, target_of
from bot.formatting import shorten
from bot.i18n import _
from bot.service import ChatService
from providers import ModelRegistry, UnknownModelError

__all__ = ["button_data", "model_button", "model_command", "model_keyboard", "models_command"]

HASH_PREFIX = "model#"
LEGACY_PREFIX = "model:"
#: Characters of an unknown model name quoted back to the user.
QUOTE_LIMIT = 64


def button_data(pinned: str) -> str:
    """The ``callback_data`` of a model's button: ``model#`` and 16 hex digits (22 bytes)."""
    digest = hashlib.sha256(pinned.lower().encode()).hexdigest()[:16]
    return HASH_PREFIX + digest


def model_of_button(registry: ModelRegistry, data: str) -> str | None:
    """The ``Provider/model`` a button's data names, or None when none is offered (any more)."""
    if data.startswith(LEGACY_PREFIX):
        return data[len(LEGACY_PREFIX) :]
    if not data.startswith(HASH_PREFIX):
        return None
    for provider, models in registry.models().items():
        for model in models:
            if button_data(f"{provider}/{model}") == data:
                return f"{provider}/{model}"
    return None


def model_keyboard(registry: ModelRegistry, current: str) -> InlineKeyboardMarkup:
    """One row per provider: its name, then its models (a tap switches; ✓ marks the current)."""
    rows = []
    for provider, models in registry.models().items():
        buttons = []
        for model in models:
            pinned = f"{provider}/{model}"
            label = f"✓ {model}" if current.lower() in (model.lower(), pinned.lower()) else model
            buttons.append(InlineKeyboardButton(label, callback_data=button_data(pinned)))
        rows.append([InlineKeyboardButton(f"— {provider} —", callback_data="noop")])
        rows.extend(buttons[i : i + 3] for i in range(0, len(buttons), 3))
    return InlineKeyboardMarkup(rows)


def _menu_text(model: str) -> str:
    return _("Current model: {model}\nTap a model to switch:", model=model)


async def model_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = deps_of(context)
    if not await allowed(update, deps):
        return
    message = message_of(update)
    target = target_of(message)
    service: ChatService = deps.service
    if context.args:
        name = " ".join(context.args)
        try:
            model = await service.set_model(target, name)
        except UnknownModelError as error:
            quoted = shorten(name, QUOTE_LIMIT)
            if error.suggestions:
                text = _("Unknown model “{model}”. Did you mean: {suggestions}? "
                         "Send /models for the list.",
                         model=quoted, suggestions=", ".join(error.suggestions))
            else:
                text = _("Unknown model “{model}”. Send /models for the list.", model=quoted)
            await message.reply_text(text)
            return
        await message.reply_text(_("Model switched to {model}.", model=model))
        return
    current = await service.current_model(target)
    await message.reply_text(
        _menu_text(current), reply_markup=model_keyboard(service.registry, current)
    )


async def model_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = deps_of(context)
    query = await allowed_query(update, deps)
    if query is None:  # not allowed, or not a tap (registered for callback queries only)
        return
    registry = deps.service.registry
    message = query.message
    if query.data == "noop" or not isinstance(message, Message):
        await query.answer()
        return
    name = model_of_button(registry, query.data or "")
    model = None
    if name is not None:
        with contextlib.suppress(UnknownModelError):
            model = await deps.service.set_model(target_of(message), name)
    if model is None:
        await query.answer(_("That model is no longer offered."), show_alert=True)
        return
    await query.answer(_("Model: {model}", model=model))
    await query.edit_message_text(_menu_text(model), reply_markup=model_keyboard(registry, model))


async def models_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = deps_of(context)
    if not await allowed(update, deps):
        return
    registry = deps.service.registry
    lines = []
    for provider, models in registry.models().items():
        health = registry.health.get(provider)
        if health is None or health.ok is None:
            state = _("not tried yet")
        elif health.ok:
            state = _("answered last time")
        else:
            error = health.failure.translated(_) if health.failure else health.error
            state = _("failed last time: {error}", error=error)
        lines.append(f"{provider} ({state})\n  " + ", ".join(models))
    await message_of(update).reply_text("\n".join(lines))
