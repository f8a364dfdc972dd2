"""Plain values the store hands out: never ORM rows, so callers cannot touch a session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ReplyStatus(StrEnum):
    """State of a stored message; user and system messages are always ``COMPLETE``.

    ``STREAMING`` is a reply whose partial text is being saved as chunks arrive; a reply still
    ``STREAMING`` when the bot starts again is marked ``INTERRUPTED`` (see
    ``Store.mark_interrupted``).
    """

    COMPLETE = "complete"
    STREAMING = "streaming"
    FAILED = "failed"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"


ROLES = ("system", "user", "assistant")
"""The message roles the store accepts (OpenAI chat-completions names)."""


@dataclass(frozen=True)
class ChatRecord:
    """A Telegram chat as stored.

    ``id`` is Telegram's 64-bit chat id; ``type`` is the Bot API ``Chat.type``
    ("private", "group", "supergroup", "channel"); ``model`` is the chat's chosen model name
    (``None``: the bot's default); ``settings`` is a JSON-compatible dict (a copy: changing it
    changes nothing stored); ``created_at`` is timezone-aware UTC.
    """

    id: int
    type: str
    model: str | None
    settings: dict[str, Any]
    created_at: datetime

    def system_prompt(self, thread_id: int = 0) -> SystemPrompt | None:
        """The system prompt set for the chat's topic ``thread_id`` (0: the chat itself) with
        ``/system`` or ``/persona``, or ``None`` (the bot's default applies)."""
        value = self.settings.get(system_prompt_key(thread_id))
        if not isinstance(value, dict) or not value.get("prompt"):
            return None
        return SystemPrompt(str(value["prompt"]), value.get("persona"))


def system_prompt_key(thread_id: int) -> str:
    """The key of chat settings that holds a topic's system prompt (``Store.update_settings``):
    ``system:<thread_id>``, so that topics set theirs without touching each other's."""
    return f"system:{thread_id}"


@dataclass(frozen=True)
class SystemPrompt:
    """A chat's (or topic's) own system prompt: its text, and the persona it came from
    (``None``: typed with ``/system``)."""

    prompt: str
    persona: str | None = None

    def to_settings(self) -> dict[str, Any]:
        """The JSON value stored under :func:`system_prompt_key`."""
        return {"prompt": self.prompt, "persona": self.persona}


@dataclass(frozen=True)
class UsageEntry:
    """What one reply cost, stored with its final state (``Store.update_reply``): the chat,
    the user who asked (``None``: unknown, e.g. an anonymous group admin), and the tokens
    and cost the endpoint reported (``None``: it reported none; counts are never guessed)."""

    chat_id: int
    user_id: int | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None


@dataclass(frozen=True)
class MessageRecord:
    """One message of a conversation, ordered within it by ``id`` (insertion order).

    ``thread_id`` is the forum topic id (``message_thread_id`` in the Bot API) or 0 for none;
    ``telegram_message_ids`` lists the Telegram messages that show this message (a long reply
    spans several); ``image_file_id``/``image_url`` reference an image (Telegram ``file_id``,
    source URL); ``error`` is a short text of what failed (for ``FAILED`` replies);
    ``created_at`` is timezone-aware UTC; ``attachments`` lists the files the user sent with
    the message (``{"kind": "photo"|"voice"|"document", "file_id": <Telegram file_id>, ...}``);
    ``reasoning`` is what a reasoning model thought before its answer (a reply's; ``None``:
    none), kept apart from ``content`` and never part of the history sent to a model.
    """

    id: int
    chat_id: int
    thread_id: int
    conversation_id: int
    role: str
    content: str
    model: str | None
    provider: str | None
    telegram_message_ids: list[int]
    image_file_id: str | None
    image_url: str | None
    status: ReplyStatus
    error: str | None
    created_at: datetime
    attachments: list[dict[str, Any]] = field(default_factory=list)
    reasoning: str | None = None


@dataclass(frozen=True)
class InboxEntry:
    """An update as the inbox keeps it: ``update_id`` (the Bot API's), ``payload`` (the
    update's JSON object as received) and the chat message it carries (``chat_id``,
    ``message_id``; ``None`` when it carries none, e.g. a button tap)."""

    update_id: int
    payload: dict[str, Any]
    chat_id: int | None = None
    message_id: int | None = None
