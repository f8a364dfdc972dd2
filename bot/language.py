"""The language of each update, and ``/language`` with its keyboard of languages.

The language of an update is, in order: the chat's choice (``/language``, stored in the chat's
settings JSON under ``"language"``), else the sender's Telegram ``language_code`` (its primary
subtag: ``pt-br`` is ``pt``) when the bot speaks it, else ``DEFAULT_LANGUAGE``.
:func:`register` adds a handler of its own group (:data:`GROUP`) that sets
:data:`bot.i18n.current_language` for every update before any other handler runs (the reply's
streaming, button taps and the commands answered at once all run in the update's task or in
tasks it starts, which inherit it).

When the process is the bot's only one (polling: every choice is made through it), all the
chats' choices are read at start in one query (:meth:`ChatLanguages.load`) and an update costs
no database read. A worker reads a chat's choice when it first needs it and keeps it
:data:`CHOICE_TTL` seconds (:func:`expire_choices`: a choice made through another worker shows
after at most that long). In a group, only its administrators and
``ADMIN_USER_IDS`` change the language.
"""

from __future__ import annotations

import logging

from cachetools import Cache, LRUCache, TTLCache
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    TypeHandler,
)

from bot.access import is_moderator
from bot.deps import allowed, allowed_query, deps_of, message_of
from bot.i18n import N_, _, available_languages, current_language, language_name, supported
from bot.storage import Store

__all__ = [
    "CALLBACK_PREFIX",
    "ChatLanguages",
    "chosen_language",
    "forgotten",
    "language_button",
    "language_command",
    "language_keyboard",
    "language_of",
    "register",
]

log = logging.getLogger(__name__)

#: The key of the chat's choice in its settings JSON.
SETTING = "language"
#: ``callback_data`` of a language button: this prefix and the language (or :data:`AUTOMATIC`).
CALLBACK_PREFIX = "lang:"
#: The button that removes the chat's choice (each sender's Telegram language counts again).
AUTOMATIC = "auto"
#: The handler group that sets the update's language: before every other group (only the first
#: matching handler of a group runs, so it has a group of its own; bot.chat_migration's is -1).
GROUP = -2
#: Seconds a chat's choice is kept in memory after it was read.
CHOICE_TTL = 60.0
#: Chats whose choice is kept in memory at most.
CHOICE_CACHE_SIZE = 10_000

CHOOSE = N_("Choose the language I write in here:")


def language_of(choice: str | None, user_language: str | None, default: str) -> str:
    """The language to write in: the chat's ``choice``, else the user's Telegram
    ``language_code`` (primary subtag) when the bot speaks it, else ``default``."""
    return supported(choice) or supported(user_language) or default


class ChatLanguages:
    """Each chat's chosen language (or None), from the store, kept ``ttl`` seconds (None: until
    :data:`CHOICE_CACHE_SIZE` other chats push it out). After :meth:`load` (the bot's only
    process: polling) every choice is in memory and an update costs no database read."""

    def __init__(self, store: Store, ttl: float | None = None) -> None:
        self.store = store
        self._choices: Cache[int, str | None] = (
            LRUCache(CHOICE_CACHE_SIZE) if ttl is None else TTLCache(CHOICE_CACHE_SIZE, ttl))
        self._all: dict[int, str] | None = None  # every chat's choice, once loaded

    async def load(self) -> None:
        """Read every chat's choice at once (one query); from then on this process's own
        :meth:`choose`, :meth:`forget` and :meth:`moved` keep them. Raises the store's errors."""
        chosen = await self.store.chats_with_setting(SETTING)
        self._all = {chat_id: language for chat_id, language in chosen.items()
                     if supported(language)}

    def moved(self, old: int, new: int) -> None:
        """A group became supergroup ``new``: its choice (moved with its settings) goes along."""
        if self._all is not None and old in self._all:
            self._all[new] = self._all.pop(old)
        self._choices.pop(old, None)

    async def choice(self, chat_id: int) -> str | None:
        """The chat's choice, or None (none made, or the database cannot be read: logged)."""
        if self._all is not None:
            return self._all.get(chat_id)
        if chat_id in self._choices:
            return self._choices[chat_id]
        try:
            choice = await chosen_language(self.store, chat_id)
        except Exception:  # noqa: BLE001 - the update is answered anyway, in the user's language
            log.warning("could not read chat %s's language", chat_id, exc_info=True)
            return None
        self._choices[chat_id] = choice
        return choice

    def forget(self, chat_id: int) -> None:
        """The chat has no choice any more (its data was deleted)."""
        self._choices[chat_id] = None
        if self._all is not None:
            self._all.pop(chat_id, None)

    async def choose(self, chat_id: int, chat_type: str, language: str | None) -> None:
        """Store the chat's choice (None: no choice). Raises the store's errors."""
        await self.store.get_or_create_chat(chat_id, chat_type)
        await self.store.update_settings(chat_id, **{SETTING: language})
        self._choices[chat_id] = language
        if self._all is not None:
            if language is None:
                self._all.pop(chat_id, None)
            else:
                self._all[chat_id] = language


async def chosen_language(store: Store, chat_id: int) -> str | None:
    """The language chat ``chat_id`` chose with ``/language`` (if the bot still speaks it)."""
    chat = await store.get_chat(chat_id)
    return supported(chat.settings.get(SETTING)) if chat is not None else None


def _languages(context: ContextTypes.DEFAULT_TYPE) -> ChatLanguages:
    languages: ChatLanguages = context.application.bot_data["languages"]
    return languages


async def set_update_language(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Set :data:`current_language` for the rest of the update's handling (:data:`GROUP`)."""
    if not isinstance(update, Update):
        return
    chat, user = update.effective_chat, update.effective_user
    choice = None if chat is None else await _languages(context).choice(chat.id)
    default = deps_of(context).settings.default_language
    current_language.set(language_of(choice, user.language_code if user else None, default))


def language_keyboard(current: str, chosen: str | None) -> InlineKeyboardMarkup:
    """A button per language the bot speaks, in its own name (✓ marks ``current``), and one
    for "the language of each user's Telegram" (✓ when the chat chose none)."""
    rows = []
    for language in available_languages():
        name = language_name(language)
        label = f"✓ {name}" if language == current and chosen is not None else name
        rows.append([InlineKeyboardButton(label, callback_data=CALLBACK_PREFIX + language)])
    automatic = _("Your Telegram's language")
    label = f"✓ {automatic}" if chosen is None else automatic
    rows.append([InlineKeyboardButton(label, callback_data=CALLBACK_PREFIX + AUTOMATIC)])
    return InlineKeyboardMarkup(rows)


async def language_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/language``: the keyboard of languages; ``/language ru`` switches at once."""
    deps = deps_of(context)
    if not await allowed(update, deps):
        return
    message = message_of(update)
    if context.args:
        wanted = " ".join(context.args)
        language = supported(wanted)
        if language is None:
            await message.reply_text(_(
                "I don't speak “{language}”. I speak: {languages}.",
                language=wanted[:16], languages=", ".join(available_languages()),
            ))
            return
        if await _may_choose(update, context):
            await _languages(context).choose(message.chat.id, message.chat.type, language)
            current_language.set(language)
            await message.reply_text(
                _("I write in {language} here now.", language=language_name(language))
            )
        return
    chosen = await _languages(context).choice(message.chat.id)
    await message.reply_text(
        _(CHOOSE), reply_markup=language_keyboard(current_language.get(), chosen)
    )


async def _may_choose(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether the sender may change the chat's language; a group member who may not is told."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None:
        return False
    user_id = None if user is None else user.id
    if await is_moderator(context.bot, chat, user_id, deps_of(context).settings):
        return True
    text = _("Only this group's administrators can change its language.")
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    else:
        await message_of(update).reply_text(text)
    return False


async def language_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A tap on a language button: store the chat's choice, answer in the new language."""
    deps = deps_of(context)
    query = await allowed_query(update, deps)
    if query is None:  # not allowed, or not a tap (registered for callback queries only)
        return
    message = query.message
    wanted = (query.data or "").removeprefix(CALLBACK_PREFIX)
    language = None if wanted == AUTOMATIC else supported(wanted)
    if not isinstance(message, Message) or (language is None and wanted != AUTOMATIC):
        await query.answer(_("That language is no longer offered."), show_alert=True)
        return
    if not await _may_choose(update, context):
        return
    await _languages(context).choose(message.chat.id, message.chat.type, language)
    current = language_of(language, query.from_user.language_code, deps.settings.default_language)
    current_language.set(current)
    await query.answer(_("Language: {language}", language=language_name(current)))
    await query.edit_message_text(_(CHOOSE), reply_markup=language_keyboard(current, language))


def forgotten(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
    """The chat's stored data was deleted (``/forget``): its choice is gone, from now on."""
    _languages(context).forget(chat_id)


def expire_choices(application: Application, ttl: float = CHOICE_TTL) -> None:
    """Other processes (workers) take this bot's updates too: keep each chat's choice ``ttl``
    seconds only, so that a choice made through another one shows here. Call after
    :func:`register`."""
    current: ChatLanguages = application.bot_data["languages"]
    application.bot_data["languages"] = ChatLanguages(current.store, ttl)


async def load_choices(application: Application) -> None:
    """Polling: read every chat's choice now (:meth:`ChatLanguages.load`)."""
    languages: ChatLanguages = application.bot_data["languages"]
    await languages.load()


def chat_moved(application: Application, old: int, new: int) -> None:
    """Group ``old`` became supergroup ``new`` (its settings moved with it)."""
    languages: ChatLanguages | None = application.bot_data.get("languages")
    if languages is not None:
        languages.moved(old, new)


def register(application: Application) -> None:
    """Add the language handler (group :data:`GROUP`), ``/language`` and its buttons (before
    any other button handler); ``application.bot_data["deps"]`` must hold the
    :class:`~bot.deps.Deps`."""
    application.bot_data["languages"] = ChatLanguages(application.bot_data["deps"].service.store)
    application.add_handler(TypeHandler(Update, set_update_language), group=GROUP)
    application.add_handler(CommandHandler("language", language_command))
    application.add_handler(
        CallbackQueryHandler(language_button, pattern=f"^{CALLBACK_PREFIX}")
    )
