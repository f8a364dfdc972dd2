"""Per-chat order of updates: one chat's updates are handled one at a time, in arrival order.

:class:`ChatOrder` is the small interface (shared state, see ``docs/architecture.md``: one
implementation per process today, :class:`InProcessChatOrder`; a shared one for several workers
can take its place). :class:`ChatOrderedUpdateProcessor` plugs it into python-telegram-bot.

The processor waits for a chat's turn *before* it takes one of its ``max_concurrent_updates``
slots, so a chat with a long backlog (or a flood of messages) holds one slot, not one per
waiting update, and other chats go on. Updates that must act at once skip their chat's queue
and need no slot (see :data:`SKIP_QUEUE_COMMANDS`): button taps, ``/stop``, ``/forget``,
``/new`` and the commands that only answer or set (``/start``, ``/help``, ``/models``,
``/language``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Hashable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.deps import target_of

__all__ = [
    "SKIP_QUEUE_COMMANDS",
    "ChatOrder",
    "ChatOrderedUpdateProcessor",
    "InProcessChatOrder",
    "queue_key",
]

#: Commands handled at once, outside their chat's queue (they must not wait behind a reply
#: being written or behind queued messages).
SKIP_QUEUE_COMMANDS = frozenset(
    {"/stop", "/forget", "/new", "/start", "/help", "/models", "/language"}
)

#: Updates processed at once by python-telegram-bot's own semaphore: effectively unbounded, as
#: the processor bounds running updates itself (after their chat's turn is granted).
_UNBOUNDED = 2**31 - 1


class ChatOrder(Protocol):
    """Turns per key (a chat and forum topic): one holder at a time, granted in arrival order."""

    def turn(self, key: Hashable) -> AbstractAsyncContextManager[None]:
        """Wait for ``key``'s turn and hold it for the ``async with`` block.

        Callers are queued when they enter, before any await, so callers that enter in the
        order A, B, C get the turn in that order whatever else happens meanwhile. Cancelling a
        waiting caller removes it from the queue; cancelling the holder passes the turn on.
        """
        ...

    def waiting(self, key: Hashable) -> int:
        """How many callers wait for ``key``'s turn (the holder not counted)."""
        ...


@dataclass
class _Line:
    busy: bool = False  # someone holds the turn (or was handed it and has not woken yet)
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)


class InProcessChatOrder:
    """:class:`ChatOrder` for one process: a FIFO of futures per key.

    A key's entry lives while anyone holds or waits for its turn, and the turn is handed to the
    next waiter directly (the key stays busy between the release and the waiter waking up), so
    a caller arriving in between queues behind that waiter instead of finding the key free.
    """

    def __init__(self) -> None:
        self._lines: dict[Hashable, _Line] = {}

    def __len__(self) -> int:
        """Keys with a holder or waiters (idle keys are forgotten)."""
        return len(self._lines)

    def waiting(self, key: Hashable) -> int:
        line = self._lines.get(key)
        return 0 if line is None else sum(1 for ticket in line.waiting if not ticket.done())

    @asynccontextmanager
    async def turn(self, key: Hashable) -> AsyncIterator[None]:
        line = self._lines.setdefault(key, _Line())
        if line.busy:
            ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            line.waiting.append(ticket)
            try:
                await ticket
            except asyncio.CancelledError:
                if ticket.done() and not ticket.cancelled():
                    self._release(key, line)  # handed the turn, then cancelled: pass it on
                else:
                    if ticket in line.waiting:
                        line.waiting.remove(ticket)
                    self._forget_if_idle(key, line)
                raise
        else:
            line.busy = True
        try:
            yield
        finally:
            self._release(key, line)

    def _release(self, key: Hashable, line: _Line) -> None:
        while line.waiting:
            ticket = line.waiting.popleft()
            if not ticket.done():  # a cancelled waiter is skipped
                ticket.set_result(None)
                return
        line.busy = False
        self._forget_if_idle(key, line)

    def _forget_if_idle(self, key: Hashable, line: _Line) -> None:
        if not line.busy and not line.waiting and self._lines.get(key) is line:
            del self._lines[key]


def queue_key(update: object) -> tuple[int, int] | None:
    """The queue an update waits in: ``(chat id, forum topic id or 0)``, or None to skip it.

    Button taps, the commands of :data:`SKIP_QUEUE_COMMANDS` and updates without a message
    skip the queue.
    """
    if not isinstance(update, Update) or update.callback_query is not None:
        return None
    message = update.effective_message
    if message is None:
        return None
    command = (message.text or "").split(maxsplit=1)[:1]
    if command and command[0].split("@", 1)[0].lower() in SKIP_QUEUE_COMMANDS:
        return None
    return target_of(message).key


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Handles updates of one chat (and forum topic) in order, different chats concurrently.

    An update first waits for its chat's turn in ``order`` (holding nothing else), then for one
    of ``max_concurrent_updates`` slots, and runs. Updates that skip the queue (see
    :func:`queue_key`) run at once without a slot: they are short, and they must act while the
    chat's reply is being written. python-telegram-bot starts update tasks in the order
    getUpdates returned them, and ``order`` grants turns in the order they were asked for, so a
    chat's messages are answered in the order they were sent.
    """

    def __init__(self, max_concurrent_updates: int = 256, order: ChatOrder | None = None) -> None:
        if max_concurrent_updates < 1:
            raise ValueError("max_concurrent_updates must be a positive integer")
        super().__init__(_UNBOUNDED)
        self.order: ChatOrder = order if order is not None else InProcessChatOrder()
        self.slots = max_concurrent_updates
        self._slots = asyncio.Semaphore(max_concurrent_updates)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = queue_key(update)
        if key is None:
            await coroutine
            return
        started = False
        try:
            async with self.order.turn(key), self._slots:
                started = True
                await coroutine
        finally:
            if not started and inspect.iscoroutine(coroutine):
                coroutine.close()  # cancelled while waiting: it never runs

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""
