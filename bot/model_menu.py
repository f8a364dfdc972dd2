"""``/model``, its keyboard of models and the taps on it, and ``/models``.

``/model`` shows the current model and the first page of the keyboard
(:mod:`bot.model_keyboard`); ``/model NAME`` switches at once when NAME is a model (an id, an
alias, ``endpoint/model``), else shows the keyboard filtered to the models whose name holds its
words (``/model llama``), else says it is unknown with close matches. ``/models`` lists each
provider's models with whether it answered last time and whether its model list could be
fetched.
"""

from __future__ import annotations

import contextlib

from telegram import Message, Update
from telegram.ext import ContextTypes

from bot.deps import allowed, allowed_query, deps_of, message_of, target_of
from bot.formatting import shorten
from bot.i18n import _, ngettext
from bot.model_keyboard import (
    NOOP,
    Page,
    button_data,
    cut_filter,
    model_keyboard,
    model_of_button,
    page_of_data,
    page_of_markup,
)
from bot.service import ChatService
from providers import ModelRegistry, UnknownModelError

__all__ = ["CALLBACK_PATTERN", "button_data", "model_button", "model_command", "models_command"]

#: The callback data this module answers (its keyboards' buttons).
CALLBACK_PATTERN = r"^(model[#:]|mpage:|mhere:|noop$)"
#: Characters of an unknown model name quoted back to the user.
QUOTE_LIMIT = 64
#: Model ids listed per provider by /models; the rest are counted ("/model WORD" finds them).
LISTED_PER_PROVIDER = 40
#: A Telegram message's longest text, in characters.
MESSAGE_LIMIT = 4096


def _menu_text(model: str, page: Page, found: int) -> str:
    if page.words:
        return _("Current model: {model}\nModels matching “{words}” ({found}): tap one to "
                 "switch:", model=model, words=page.words, found=found)
    return _("Current model: {model}\nTap a model to switch:", model=model)


async def _unknown(message: Message, name: str, error: UnknownModelError) -> None:
    hint = (_(" Did you mean: {names}?", names=", ".join(error.suggestions))
            if error.suggestions else "")
    await message.reply_text(_("Unknown model “{name}”.{hint} Send /models for the list.",
                               name=shorten(name, QUOTE_LIMIT), hint=hint))


async def model_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = deps_of(context)
    if not await allowed(update, deps):
        return
    message = message_of(update)
    target = target_of(message)
    service: ChatService = deps.service
    if (reason := service.models.unavailable()) is not None:
        await message.reply_text(reason)
        return
    current = await service.models.current_model(target)
    page = Page()
    if context.args:
        name = " ".join(context.args)
        try:
            model = await service.models.set_model(target, name)
        except UnknownModelError as error:
            page = Page(0, cut_filter(name))
            keyboard, found = model_keyboard(service.registry, current, page)
            if not found:
                await _unknown(message, name, error)
                return
            await message.reply_text(_menu_text(current, page, found), reply_markup=keyboard)
            return
        await message.reply_text(_("Model switched to {model}.", model=model))
        return
    keyboard, found = model_keyboard(service.registry, current, page)
    await message.reply_text(_menu_text(current, page, found), reply_markup=keyboard)


async def model_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A tap on the keyboard: a model switches (the same page is drawn again with ✓ moved),
    ``◀``/``▶`` turn the page, the others only answer."""
    deps = deps_of(context)
    query = await allowed_query(update, deps)
    if query is None:  # not allowed, or not a tap (registered for callback queries only)
        return
    service: ChatService = deps.service
    message = query.message
    data = query.data or ""
    if data == NOOP or data.startswith("mhere:") or not isinstance(message, Message):
        await query.answer()
        return
    target = target_of(message)
    if (page := page_of_data(data)) is not None:
        current = await service.models.current_model(target)
        keyboard, found = model_keyboard(service.registry, current, page)
        await query.answer()
        await query.edit_message_text(_menu_text(current, page, found), reply_markup=keyboard)
        return
    name = model_of_button(service.registry, data)
    model = None
    if name is not None:
        with contextlib.suppress(UnknownModelError):
            model = await service.models.set_model(target, name)
    if model is None:
        await query.answer(_("That model is no longer offered."), show_alert=True)
        return
    await query.answer(_("Model: {model}", model=model))
    markup = message.reply_markup
    page = page_of_markup(markup.inline_keyboard if markup is not None else None)
    keyboard, found = model_keyboard(service.registry, model, page)
    await query.edit_message_text(_menu_text(model, page, found), reply_markup=keyboard)


def _state(registry: ModelRegistry, provider: str) -> str:
    health = registry.health.get(provider)
    if health is None or health.ok is None:
        state = _("not tried yet")
    elif health.ok:
        state = _("answered last time")
    else:
        error = health.failure.translated(_) if health.failure else health.error
        state = _("failed last time: {error}", error=error)
    listing = registry.listing_of(provider)
    if listing is not None and listing.error is not None:
        state += "; " + _("its model list could not be fetched ({error}), this is the last "
                          "known one", error=listing.error)
    return state


async def models_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = deps_of(context)
    if not await allowed(update, deps):
        return
    service: ChatService = deps.service
    message = message_of(update)
    if not service.registry.providers:
        await message.reply_text(service.models.unavailable() or "")
        return
    registry = service.registry
    blocks = []
    for provider, models in registry.models().items():
        listed = ", ".join(models[:LISTED_PER_PROVIDER]) or _("(no models)")
        if len(models) > LISTED_PER_PROVIDER:
            more = len(models) - LISTED_PER_PROVIDER
            listed += " " + ngettext("… and {n} more: /model WORD finds it",
                                     "… and {n} more: /model WORD finds them", more)
        blocks.append(f"{provider} ({_state(registry, provider)})\n  {listed}")
    await message.reply_text(shorten("\n".join(blocks), MESSAGE_LIMIT))
