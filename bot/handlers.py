"""Telegram handlers: read the update, call the service, hand the stream to the reply streamer.

No SQL and no HTTP here. :func:`register` adds every handler to an application; the objects the
handlers need live in ``application.bot_data["deps"]`` (a :class:`~bot.deps.Deps`). The model
commands are in :mod:`bot.model_menu`, the handlers of files and ``/voice`` in
:mod:`bot.media_handlers`.

``/stop``, ``/forget`` and ``/new`` act at once (the update processor runs them outside the
chat's queue). In a group, ``/forget`` and stopping someone else's reply are for the group's
administrators and ``ADMIN_USER_IDS`` (:func:`bot.access.is_moderator`).
"""

from __future__ import annotations

from telegram import BotCommand, Message, Update
from telegram.constants import ChatType, MessageEntityType
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import language, persona_menu, usage
from bot.access import is_moderator
from bot.deps import Deps, allowed, deps_of, message_of, sink_of, target_of, user_id_of
from bot.i18n import N_, _, ngettext
from bot.inputs import FileFetcher
from bot.model_menu import CALLBACK_PATTERN, model_button, model_command, models_command

__all__ = ["COMMANDS", "Deps", "addressed_text", "register", "target_of"]

#: The command menu; descriptions in English, translated per language (bot.lifecycle).
COMMANDS = [
    BotCommand("start", N_("Start talking to the bot")),
    BotCommand("help", N_("What the bot can do")),
    BotCommand("model", N_("Show or switch the model")),
    BotCommand("models", N_("List providers and their models")),
    BotCommand("new", N_("Start a new conversation")),
    BotCommand("retry", N_("Answer the last message again")),
    BotCommand("stop", N_("Stop the reply being generated")),
    BotCommand("forget", N_("Delete everything stored for this chat")),
    BotCommand("voice", N_("Spoken replies on or off")),
    BotCommand("system", N_("Show or set this chat's system prompt")),
    BotCommand("persona", N_("Pick a persona")),
    BotCommand("usage", N_("Tokens used today and this month")),
    BotCommand("reasoning", N_("Show the model's reasoning or not")),
    BotCommand("language", N_("Choose the bot's language")),
]

HELP = N_(
    "I answer with a large language model and remember our conversation.\n\n"
    "Just write to me, or send a voice message, a photo (several as an album) or a document "
    "(text files, code, CSV, JSON, PDFs), with a caption as your question. "
    "In groups, mention me or reply to my message.\n"
    "/model — show or switch the model (/model dalle makes pictures)\n"
    "/models — every provider and its models\n"
    "/new — start a new conversation\n"
    "/retry — answer your last message again\n"
    "/stop — stop the reply being written, and the messages waiting for one\n"
    "/forget — delete everything stored for this chat\n"
    "/voice — spoken replies on or off\n"
    "/system — show or set this chat's system prompt (/system reset: the default)\n"
    "/persona — pick a persona\n"
    "/usage — tokens used today and this month\n"
    "/reasoning — show a reasoning model's thinking above its answers, or not\n"
    "/language — choose the language I write in"
)
NOT_TEXT = N_(
    "I can't use this kind of message. I take text, voice messages, audio files, video notes, "
    "photos and documents (text files, code, CSV, JSON, PDFs)."
)
NOTHING_RUNNING = N_("Nothing is being written right now.")
STOP_NOT_YOURS = N_("Only this group's administrators can stop a reply to someone else.")
FORGET_NOT_ADMIN = N_("Only this group's administrators can delete its history.")


def _replies_to_bot(message: Message, bot_id: int) -> bool:
    """Whether the message replies to one of the bot's own messages."""
    replied = message.reply_to_message
    return replied is not None and replied.from_user is not None and replied.from_user.id == bot_id


def addressed_text(message: Message, bot_id: int, bot_username: str) -> str | None:
    """The text meant for the bot, or None when a group message is not addressed to it.

    Private chats: every text (or a photo's caption). Groups: only when the bot is mentioned
    (the mention is removed) or the message replies to one of the bot's messages.
    """
    text = message.text or message.caption
    if text is None:
        return None
    if message.chat.type == ChatType.PRIVATE or _replies_to_bot(message, bot_id):
        return text
    mention = f"@{bot_username}".lower()
    entities = message.parse_entities() if message.text else message.parse_caption_entities()
    for entity, value in entities.items():
        if entity.type == MessageEntityType.MENTION and value.lower() == mention:
            return (text.replace(value, " ", 1)).strip()
    return None


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = message_of(update)
    deps = deps_of(context)
    text = addressed_text(message, context.bot.id, context.bot.username)
    if text is None or not await allowed(update, deps):
        return
    if not text.strip():
        await message.reply_text(_("Your message is empty: write me a question."))
        return
    await deps.service.run_turn(
        target_of(message),
        text,
        sink_of(deps, message),
        telegram_message_id=message.message_id,
        files=_files(context),
        user_id=user_id_of(update),
    )


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, locations, polls, videos…: say what we accept."""
    message = message_of(update)
    if message.chat.type != ChatType.PRIVATE and not _replies_to_bot(message, context.bot.id):
        return
    if await allowed(update, deps_of(context)):
        await message.reply_text(_(NOT_TEXT))


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command the bot does not have, in a private chat (in groups it may be another bot's)."""
    if await allowed(update, deps_of(context)):
        message = message_of(update)
        command = (message.text or "").split(maxsplit=1)[0]
        await message.reply_text(
            _("I don't know the command {command}. Send /help to see what I can do.",
              command=command)
        )


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet, name the chat's current model (or say what is not configured), then the help."""
    deps = deps_of(context)
    if await allowed(update, deps):
        user = update.effective_user
        greeting = _("Hello, {name}!", name=user.first_name) if user else _("Hello!")
        message = message_of(update)
        service = deps.service
        reason = service.models.unavailable()
        if reason is None:
            model = await service.models.current_model(target_of(message))
            about = _("Current model: {model} (/model switches).", model=model)
        else:
            about = reason
        await message.reply_text(f"{greeting}\n\n{about}\n\n{_(HELP)}")


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if await allowed(update, deps_of(context)):
        await message_of(update).reply_text(_(HELP))


async def new_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = deps_of(context)
    if await allowed(update, deps):
        message = message_of(update)
        await deps.service.control.new_conversation(target_of(message).key)
        await message.reply_text(_("Started a new conversation."))


async def retry_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = deps_of(context)
    if not await allowed(update, deps):
        return
    message = message_of(update)
    result = await deps.service.retry(
        target_of(message),
        sink_of(deps, message),
        files=_files(context),
        telegram_message_id=message.message_id,
        user_id=user_id_of(update),
    )
    if result is None:
        await message.reply_text(_("There is nothing to retry yet: send me a message."))


async def stop_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop the reply being written and drop the messages waiting for one: all of them for a
    moderator (see :func:`bot.access.is_moderator`), else only the sender's own."""
    deps = deps_of(context)
    if not await allowed(update, deps):
        return
    message = message_of(update)
    user_id = user_id_of(update)
    key = target_of(message).key
    control = deps.service.control
    moderator = await is_moderator(context.bot, message.chat, user_id, deps.settings)
    outcome = await control.stop_everywhere(
        key, before=message.message_id, user_id=None if moderator else user_id
    )
    if not moderator and outcome.running and outcome.owner != user_id:
        await message.reply_text(_(STOP_NOT_YOURS))
        return
    if not outcome.stopped and not outcome.running:
        await message.reply_text(_(NOTHING_RUNNING))


async def forget_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = deps_of(context)
    if not await allowed(update, deps):
        return
    message = message_of(update)
    if not await is_moderator(context.bot, message.chat, user_id_of(update), deps.settings):
        await message.reply_text(_(FORGET_NOT_ADMIN))
        return
    deleted = await deps.service.control.forget(message.chat.id, before=message.message_id)
    language.forgotten(context, message.chat.id)  # its choice was deleted with the rest
    await message.reply_text(ngettext(
        "Deleted everything stored for this chat ({n} message).",
        "Deleted everything stored for this chat ({n} messages).",
        deleted,
    ))


SWITCH = {"": None, "on": True, "off": False}
"""A toggle command's argument: nothing switches, ``on``/``off`` set."""


async def reasoning_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/reasoning``: the model's reasoning shown above its answers in this chat, or not
    (``/reasoning on``, ``/reasoning off``; nothing: switch)."""
    deps = deps_of(context)
    if not await allowed(update, deps):
        return
    message = message_of(update)
    argument = " ".join(context.args or []).strip().lower()
    if argument not in SWITCH:
        await message.reply_text(_(
            "Send /reasoning on or /reasoning off (or /reasoning alone to switch)."))
        return
    on = await deps.service.toggles.set_reasoning(target_of(message), SWITCH[argument])
    await message.reply_text(
        _("Reasoning is shown: above each answer of a reasoning model, collapsed (tap to open). "
          "/reasoning off hides it.")
        if on
        else _("Reasoning is hidden: you see only the answers. /reasoning on shows it.")
    )


# ---- files (issue 11): the handlers live in bot/media_handlers.py ----------------------------

# The names bot.media_handlers imports from here.
_allowed, _deps, _sink = allowed, deps_of, sink_of


def _files(context: ContextTypes.DEFAULT_TYPE) -> FileFetcher:
    """Fetches files the user sent earlier (photos sent again to a model that can see)."""
    from bot.media_handlers import files_of

    return files_of(context)


def register_media(application: Application) -> None:
    from bot.media_handlers import register

    register(application)


def register(application: Application) -> None:
    """Add every handler; ``application.bot_data["deps"]`` must hold a :class:`Deps`."""
    language.register(application)  # the update's language first; its buttons before /model's
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("model", model_command))
    application.add_handler(CommandHandler("models", models_command))
    application.add_handler(CommandHandler("new", new_command))
    application.add_handler(CommandHandler("retry", retry_command))
    application.add_handler(CommandHandler("stop", stop_command))
    application.add_handler(CommandHandler("forget", forget_command))
    persona_menu.register(application)  # /system, /persona, their buttons (before the model's)
    usage.register(application)
    application.add_handler(CommandHandler("reasoning", reasoning_command))
    application.add_handler(CallbackQueryHandler(model_button, pattern=CALLBACK_PATTERN))
    register_media(application)  # files and /voice (bot/media_handlers.py), before text
    text = filters.TEXT & ~filters.COMMAND
    application.add_handler(MessageHandler(text, on_text))
    application.add_handler(
        MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, unknown_command)
    )
    application.add_handler(
        MessageHandler(~text & ~filters.COMMAND & ~filters.StatusUpdate.ALL, on_other)
    )
