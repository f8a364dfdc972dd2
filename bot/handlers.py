"""Telegram handlers: read the update, call the service, hand the stream to the reply streamer.

No SQL and no HTTP here. :func:`register` adds every handler to an application; the objects the
handlers need live in ``application.bot_data["deps"]`` (a :class:`Deps`).
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, MessageEntityType
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.inputs import FileFetcher
from bot.service import ChatService, ChatTarget
from bot.settings import Settings
from bot.sink import TelegramSink
from bot.streamer import ReplyStreamer
from providers import UnknownModelError

COMMANDS = [
    BotCommand("start", "Start talking to the bot"),
    BotCommand("help", "What the bot can do"),
    BotCommand("model", "Show or switch the model"),
    BotCommand("models", "List providers and their models"),
    BotCommand("new", "Start a new conversation"),
    BotCommand("retry", "Answer the last message again"),
    BotCommand("stop", "Stop the reply being generated"),
    BotCommand("forget", "Delete everything stored for this chat"),
    BotCommand("voice", "Spoken replies on or off"),
]

HELP = (
    "I answer with a large language model and remember our conversation.\n\n"
    "Just write to me, or send a voice message, a photo (several as an album) or a document "
    "(text files, code, CSV, JSON, PDFs), with a caption as your question. "
    "In groups, mention me or reply to my message.\n"
    "/model — show or switch the model (/model dalle makes pictures)\n"
    "/models — every provider and its models\n"
    "/new — start a new conversation\n"
    "/retry — answer your last message again\n"
    "/stop — stop the reply being written\n"
    "/forget — delete everything stored for this chat\n"
    "/voice — spoken replies on or off"
)
NOT_TEXT = (
    "I can't use this kind of message. I take text, voice messages, audio files, video notes, "
    "photos and documents (text files, code, CSV, JSON, PDFs)."
)
CALLBACK_PREFIX = "model:"


@dataclass
class Deps:
    service: ChatService
    streamer: ReplyStreamer
    settings: Settings


def _deps(context: ContextTypes.DEFAULT_TYPE) -> Deps:
    return context.application.bot_data["deps"]


def target_of(message: Message) -> ChatTarget:
    """The chat (and forum topic) a message belongs to."""
    thread = message.message_thread_id if message.is_topic_message else None
    return ChatTarget(message.chat.id, thread or 0, message.chat.type)


def _sink(deps: Deps, message: Message) -> TelegramSink:
    target = target_of(message)
    return TelegramSink(
        deps.streamer, target.chat_id, target.thread_id or None, message.message_id
    )


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


async def _allowed(update: Update, deps: Deps) -> bool:
    user = update.effective_user
    if deps.settings.is_allowed(user.id if user else None):
        return True
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            f"Sorry, this bot is private (your user id is {user.id if user else 'unknown'})."
        )
    return False


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    deps = _deps(context)
    text = addressed_text(message, context.bot.id, context.bot.username)
    if text is None or not await _allowed(update, deps):
        return
    if not text.strip():
        await message.reply_text("Your message is empty: write me a question.")
        return
    await deps.service.run_turn(
        target_of(message),
        text,
        _sink(deps, message),
        telegram_message_id=message.message_id,
        files=_files(context),
    )


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, locations, polls, videos…: say what we accept."""
    message = update.effective_message
    if message.chat.type != ChatType.PRIVATE and not _replies_to_bot(message, context.bot.id):
        return
    if await _allowed(update, _deps(context)):
        await message.reply_text(NOT_TEXT)


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command the bot does not have, in a private chat (in groups it may be another bot's)."""
    if await _allowed(update, _deps(context)):
        command = (update.effective_message.text or "").split(maxsplit=1)[0]
        await update.effective_message.reply_text(
            f"I don't know the command {command}. Send /help to see what I can do."
        )


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if await _allowed(update, _deps(context)):
        name = update.effective_user.first_name if update.effective_user else "there"
        await update.effective_message.reply_text(f"Hello, {name}!\n\n{HELP}")


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if await _allowed(update, _deps(context)):
        await update.effective_message.reply_text(HELP)


def model_keyboard(deps: Deps, current: str) -> InlineKeyboardMarkup:
    """One row per provider: its name, then its models (a tap switches; ✓ marks the current)."""
    rows = []
    for provider, models in deps.service.registry.models().items():
        buttons = []
        for model in models:
            pinned = f"{provider}/{model}"
            label = f"✓ {model}" if current.lower() in (model.lower(), pinned.lower()) else model
            buttons.append(InlineKeyboardButton(label, callback_data=CALLBACK_PREFIX + pinned))
        rows.append([InlineKeyboardButton(f"— {provider} —", callback_data="noop")])
        rows.extend(buttons[i : i + 3] for i in range(0, len(buttons), 3))
    return InlineKeyboardMarkup(rows)


async def model_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = _deps(context)
    if not await _allowed(update, deps):
        return
    message = update.effective_message
    target = target_of(message)
    if context.args:
        name = " ".join(context.args)
        try:
            model = await deps.service.set_model(target, name)
        except UnknownModelError as error:
            hint = f" Did you mean: {', '.join(error.suggestions)}?" if error.suggestions else ""
            await message.reply_text(f"Unknown model “{name}”.{hint} Send /models for the list.")
            return
        await message.reply_text(f"Model switched to {model}.")
        return
    current = await deps.service.current_model(target)
    await message.reply_text(
        f"Current model: {current}\nTap a model to switch:",
        reply_markup=model_keyboard(deps, current),
    )


async def model_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    deps = _deps(context)
    if not deps.settings.is_allowed(query.from_user.id):
        await query.answer("Sorry, this bot is private.", show_alert=True)
        return
    data = query.data or ""
    if not data.startswith(CALLBACK_PREFIX) or query.message is None:
        await query.answer()
        return
    target = target_of(query.message)
    try:
        model = await deps.service.set_model(target, data[len(CALLBACK_PREFIX) :])
    except UnknownModelError:
        await query.answer("That model is no longer offered.", show_alert=True)
        return
    await query.answer(f"Model: {model}")
    await query.edit_message_text(
        f"Current model: {model}\nTap a model to switch:", reply_markup=model_keyboard(deps, model)
    )


async def models_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = _deps(context)
    if not await _allowed(update, deps):
        return
    registry = deps.service.registry
    lines = []
    for provider, models in registry.models().items():
        health = registry.health.get(provider)
        if health is None or health.ok is None:
            state = "not tried yet"
        elif health.ok:
            state = "answered last time"
        else:
            state = f"failed last time: {health.error}"
        lines.append(f"{provider} ({state})\n  " + ", ".join(models))
    await update.effective_message.reply_text("\n".join(lines))


async def new_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = _deps(context)
    if await _allowed(update, deps):
        target = target_of(update.effective_message)
        await deps.service.store.new_conversation(target.chat_id, target.thread_id)
        await update.effective_message.reply_text("Started a new conversation.")


async def retry_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = _deps(context)
    if not await _allowed(update, deps):
        return
    message = update.effective_message
    result = await deps.service.retry(
        target_of(message), _sink(deps, message), files=_files(context)
    )
    if result is None:
        await message.reply_text("There is nothing to retry yet: send me a message.")


async def stop_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = _deps(context)
    if not await _allowed(update, deps):
        return
    if not deps.service.stop(target_of(update.effective_message)):
        await update.effective_message.reply_text("Nothing is being written right now.")


async def forget_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    deps = _deps(context)
    if await _allowed(update, deps):
        chat_id = update.effective_message.chat.id
        deleted = await deps.service.store.delete_chat(chat_id)
        await update.effective_message.reply_text(
            f"Deleted everything stored for this chat ({deleted} messages)."
        )


# ---- files (issue 11): the handlers live in bot/media_handlers.py ----------------------------


def _files(context: ContextTypes.DEFAULT_TYPE) -> FileFetcher:
    """Fetches files the user sent earlier (photos sent again to a model that can see)."""
    from bot.media_handlers import files_of

    return files_of(context)


def register_media(application: Application) -> None:
    from bot.media_handlers import register

    register(application)


def register(application: Application) -> None:
    """Add every handler; ``application.bot_data["deps"]`` must hold a :class:`Deps`."""
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("model", model_command))
    application.add_handler(CommandHandler("models", models_command))
    application.add_handler(CommandHandler("new", new_command))
    application.add_handler(CommandHandler("retry", retry_command))
    application.add_handler(CommandHandler("stop", stop_command))
    application.add_handler(CommandHandler("forget", forget_command))
    application.add_handler(CallbackQueryHandler(model_button))
    register_media(application)  # files and /voice (bot/media_handlers.py), before text
    text = filters.TEXT & ~filters.COMMAND
    application.add_handler(MessageHandler(text, on_text))
    application.add_handler(
        MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, unknown_command)
    )
    application.add_handler(
        MessageHandler(~text & ~filters.COMMAND & ~filters.StatusUpdate.ALL, on_other)
    )
