"""The types a turn and its reply sink share: where a turn happens (:class:`ChatTarget`), where
its replies go (:class:`ReplySink`, what it delivered: :class:`SinkReply`, what it could not:
:class:`DeliveryError`) and how the turn ended (:class:`TurnResult`).

No logic here: :mod:`bot.service` drives turns with them, :mod:`bot.sink` (Telegram) and the
console and tests implement :class:`ReplySink`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.storage import ReplyStatus
from providers import ImageResponse, Reasoning

#: Called by a sink after each write of a streamed reply: (text so far, its message ids).
WriteCallback = Callable[[str, list[int]], Awaitable[None]]


class DeliveryError(RuntimeError):
    """A reply could not be delivered to the chat (e.g. Telegram kept refusing a photo).

    The message is short and safe to show a user, like a provider's errors: an English
    ``template`` (``str.format`` fields filled from ``params``), translated where it is shown.
    """

    def __init__(self, template: str, /, **params: str) -> None:
        super().__init__(template.format(**params) if params else template)
        self.template = template
        self.params = params


@dataclass(frozen=True)
class ChatTarget:
    """Where a turn happens: a Telegram chat and, in forums, a topic (``thread_id`` 0: none)."""

    chat_id: int
    thread_id: int = 0
    chat_type: str = "private"

    @property
    def key(self) -> tuple[int, int]:
        return (self.chat_id, self.thread_id)


@dataclass
class SinkReply:
    """What a sink delivered for a streamed text: the full text, its message ids, and the error
    that ended the chunk source early (the text so far was still delivered)."""

    text: str
    message_ids: list[int] = field(default_factory=list)
    error: BaseException | None = None


class ReplySink(Protocol):
    """Where replies go. The Telegram sink wraps the reply streamer; tests use their own."""

    async def stream(
        self,
        chunks: AsyncIterable[str | Reasoning],
        on_write: WriteCallback,
        stop: asyncio.Event,
        *,
        show_reasoning: bool = False,
    ) -> SinkReply:
        """Show the chunks as one growing reply (answer text, and the model's reasoning: shown
        to the chat only with ``show_reasoning``); when ``stop`` is set, end it where it is."""
        ...

    async def send_photo(self, image: ImageResponse, caption: str) -> tuple[int, str]:
        """Send one image; returns (message id, file id). Raises DeliveryError when it could
        not be delivered."""
        ...

    async def notice(self, text: str) -> list[int]: ...

    async def action(self, action: str) -> None: ...

    async def send_voice(self, audio: bytes) -> int:
        """Send OGG/Opus ``audio`` as a voice message; returns its message id."""
        ...


@dataclass(frozen=True)
class TurnResult:
    """How a turn ended: ``status`` is the reply's stored status."""

    status: ReplyStatus
    text: str
    model: str
    provider: str | None
    message_ids: list[int]
    error: str | None = None
