"""What every Telegram handler needs: its :class:`Deps`, the update's message and chat, and the
allow-list check (with refusals rate-limited per user, see :class:`bot.access.RefusalLimiter`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram import CallbackQuery, Message, Update
from telegram.ext import ContextTypes

from bot.access import RefusalLimiter
from bot.i18n import _
from bot.personas import Personas, load_personas
from bot.service import ChatService, ChatTarget
from bot.settings import Settings
from bot.sink import TelegramSink
from bot.streamer import ReplyStreamer

__all__ = [
    "Deps",
    "allowed",
    "allowed_query",
    "deps_of",
    "message_of",
    "sink_of",
    "target_of",
    "user_id_of",
]


@dataclass
class Deps:
    """The objects the handlers share, kept in ``application.bot_data["deps"]``."""

    service: ChatService
    streamer: ReplyStreamer
    settings: Settings
    refusals: RefusalLimiter = field(init=False)
    personas: Personas = field(init=False)  # PERSONAS_FILE (checked when settings were read)

    def __post_init__(self) -> None:
        self.refusals = RefusalLimiter(self.settings.refusal_interval)
        self.personas = load_personas(
            self.settings.personas_file, self.settings.system_prompt_max_chars
        )


def deps_of(context: ContextTypes.DEFAULT_TYPE) -> Deps:
    deps: Deps = context.application.bot_data["deps"]
    return deps


def message_of(update: Update) -> Message:
    """The update's message. Every handler but the button's is registered for messages (its
    filters guarantee one); raises ValueError for an update without one."""
    message = update.effective_message
    if message is None:
        raise ValueError(f"update {update.update_id} carries no message")
    return message


def user_id_of(update: Update) -> int | None:
    """Who sent the update (None for a channel post or an anonymous sender)."""
    user = update.effective_user
    return None if user is None else user.id


def target_of(message: Message) -> ChatTarget:
    """The chat (and forum topic) a message belongs to."""
    thread = message.message_thread_id if message.is_topic_message else None
    return ChatTarget(message.chat.id, thread or 0, message.chat.type)


def sink_of(deps: Deps, message: Message) -> TelegramSink:
    """Where a turn's reply to ``message`` goes: its chat and topic, as a reply to it."""
    target = target_of(message)
    return TelegramSink(
        deps.streamer, target.chat_id, target.thread_id or None, message.message_id
    )


async def allowed(update: Update, deps: Deps) -> bool:
    """Whether the sender may use the bot. A sender who may not is told so at most once per
    ``REFUSAL_INTERVAL`` seconds; the other updates are ignored (no write at all)."""
    user_id = user_id_of(update)
    if deps.settings.is_allowed(user_id):
        return True
    message = update.effective_message
    if message is not None and deps.refusals.should_refuse(user_id):
        if user_id is None:
            text = _("Sorry, this bot is private.")
        else:
            text = _("Sorry, this bot is private (your user id is {user_id}).", user_id=user_id)
        await message.reply_text(text)
    return False


async def allowed_query(update: Update, deps: Deps) -> CallbackQuery | None:
    """The update's button tap when its sender may use the bot; a sender who may not is told so
    (an alert) and None is returned, as for an update without a tap."""
    query = update.callback_query
    if query is None or deps.settings.is_allowed(query.from_user.id):
        return query
    await query.answer(_("Sorry, this bot is private."), show_alert=True)
    return None
