"""``/system`` and ``/persona``: a chat's (or forum topic's) own system prompt.

``/system TEXT`` sets it (at most ``SYSTEM_PROMPT_MAX_CHARS`` characters), ``/system`` shows it,
``/system reset`` goes back to the bot's default (``SYSTEM_PROMPT``). ``/persona`` lists the
personas of ``PERSONAS_FILE`` on an inline keyboard; a tap sets the persona's prompt (and the
chat's model when the persona names one). In a group only its administrators and
``ADMIN_USER_IDS`` change the prompt (:func:`bot.access.is_moderator`), as for ``/forget``;
everyone may look. The prompt is stored in the chat's settings (``system:<topic>``) and read
with the turn's history (``Store.turn_context``).
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.access import is_moderator
from bot.deps import Deps, allowed, deps_of, message_of, target_of, user_id_of
from bot.formatting import shorten
from bot.i18n import _, number
from bot.personas import Persona
from bot.service import ChatTarget
from bot.storage.records import SystemPrompt, system_prompt_key
from providers import UnknownModelError

__all__ = ["persona_button", "persona_command", "register", "system_command"]

PREFIX = "persona#"
DEFAULT_DATA = PREFIX + "default"
#: Characters of a prompt shown back (a Telegram message holds 4,096).
SHOWN_MAX_CHARS = 3800


async def _own_prompt(deps: Deps, target: ChatTarget) -> SystemPrompt | None:
    chat = await deps.service.store.get_chat(target.chat_id)
    return None if chat is None else chat.system_prompt(target.thread_id)


async def _set_prompt(deps: Deps, target: ChatTarget, prompt: SystemPrompt | None) -> None:
    """Store the topic's prompt (``None``: back to the default)."""
    store = deps.service.store
    await store.get_or_create_chat(target.chat_id, target.chat_type)
    value = None if prompt is None else prompt.to_settings()
    await store.update_settings(target.chat_id, **{system_prompt_key(target.thread_id): value})


def _not_allowed() -> str:
    return _("Only this group's administrators can change its system prompt.")


def _describe(deps: Deps, own: SystemPrompt | None) -> str:
    if own is None:
        default = deps.settings.system_prompt
        if default is None:
            return _("No system prompt is set here: the model gets none. "
                     "/system TEXT sets one, /persona picks a persona.")
        return _("This chat uses the default system prompt:\n\n{prompt}",
                 prompt=shorten(default, SHOWN_MAX_CHARS))
    if own.persona is not None:
        return _("This chat uses the persona {name}:\n\n{prompt}",
                 name=own.persona, prompt=shorten(own.prompt, SHOWN_MAX_CHARS))
    return _("This chat's system prompt:\n\n{prompt}\n\n/system reset goes back to the default.",
             prompt=shorten(own.prompt, SHOWN_MAX_CHARS))


async def system_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/system`` shows, ``/system TEXT`` sets, ``/system reset`` clears the prompt."""
    deps = deps_of(context)
    if not await allowed(update, deps):
        return
    message = message_of(update)
    target = target_of(message)
    parts = (message.text or "").split(maxsplit=1)  # the command, then the text as typed
    text = parts[1].strip() if len(parts) > 1 else ""
    if not text:
        await message.reply_text(_describe(deps, await _own_prompt(deps, target)))
        return
    if not await is_moderator(context.bot, message.chat, user_id_of(update), deps.settings):
        await message.reply_text(_not_allowed())
        return
    if text.lower() == "reset":
        await _set_prompt(deps, target, None)
        await message.reply_text(_("The system prompt is back to the default."))
        return
    limit = deps.settings.system_prompt_max_chars
    if len(text) > limit:
        await message.reply_text(_(
            "This system prompt has {length} characters; the limit is {limit} "
            "(SYSTEM_PROMPT_MAX_CHARS). Nothing was changed: send a shorter one.",
            length=number(len(text)), limit=number(limit)))
        return
    await _set_prompt(deps, target, SystemPrompt(text))
    await message.reply_text(_("System prompt set for this chat. /system reset goes back to the "
                               "default."))


def persona_keyboard(deps: Deps, current: str | None) -> InlineKeyboardMarkup:
    """One button per persona (✓ marks the current), then the default's."""
    rows = [
        [InlineKeyboardButton(("✓ " if p.name == current else "") + p.name,
                              callback_data=p.button_data)]
        for p in deps.personas.items
    ]
    rows.append([InlineKeyboardButton(_("Default prompt"), callback_data=DEFAULT_DATA)])
    return InlineKeyboardMarkup(rows)


def _menu_text(deps: Deps, current: str | None) -> str:
    lines = [f"• {p.name} — {p.description}" for p in deps.personas.items]
    now = current or _("the default prompt")
    return _("Personas:\n{list}\n\nIn use: {current}. Tap one to switch.",
             list="\n".join(lines), current=now)


async def persona_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/persona``: the personas on a keyboard (or how to configure them)."""
    deps = deps_of(context)
    if not await allowed(update, deps):
        return
    message = message_of(update)
    if not deps.personas.items:
        await message.reply_text(_("No personas are configured (PERSONAS_FILE). "
                                   "/system TEXT sets a system prompt."))
        return
    own = await _own_prompt(deps, target_of(message))
    current = None if own is None else own.persona
    await message.reply_text(_menu_text(deps, current),
                             reply_markup=persona_keyboard(deps, current))


async def _switch(deps: Deps, target: ChatTarget, persona: Persona) -> str:
    """Set ``persona``'s prompt (and model); returns what to tell the user."""
    await _set_prompt(deps, target, SystemPrompt(persona.prompt, persona.name))
    if persona.model is None:
        return _("Persona: {name}", name=persona.name)
    try:
        model = await deps.service.models.set_model(target, persona.model)
    except UnknownModelError:
        return _("Persona: {name}. Its model {model} is not offered; the model stays as it was.",
                 name=persona.name, model=persona.model)
    return _("Persona: {name}, model {model}", name=persona.name, model=model)


async def persona_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A tap on the ``/persona`` keyboard."""
    query = update.callback_query
    if query is None:  # registered for callback queries only
        return
    deps = deps_of(context)
    message = query.message
    user_id = query.from_user.id
    if not deps.settings.is_allowed(user_id):
        await query.answer(_("Sorry, this bot is private."), show_alert=True)
        return
    if not isinstance(message, Message):  # too old: Telegram no longer sends it
        await query.answer()
        return
    if not await is_moderator(context.bot, message.chat, user_id, deps.settings):
        await query.answer(_not_allowed(), show_alert=True)
        return
    target = target_of(message)
    if query.data == DEFAULT_DATA:
        await _set_prompt(deps, target, None)
        answer, current = _("The system prompt is back to the default."), None
    else:
        persona = deps.personas.by_button(query.data or "")
        if persona is None:
            await query.answer(_("That persona is no longer offered."), show_alert=True)
            return
        answer, current = await _switch(deps, target, persona), persona.name
    await query.answer(shorten(answer, 200))
    await query.edit_message_text(_menu_text(deps, current),
                                  reply_markup=persona_keyboard(deps, current))


def register(application: Application) -> None:
    """Add ``/system``, ``/persona`` and the keyboard's taps (before the other buttons')."""
    application.add_handler(CommandHandler("system", system_command))
    application.add_handler(CommandHandler("persona", persona_command))
    application.add_handler(CallbackQueryHandler(persona_button, pattern=f"^{PREFIX}"))
