"""The turns running now, and how they are ended: ``/stop`` for one chat, a shutdown for all;
and the turns dropped before they ran (``/stop`` and ``/forget`` drop a chat's waiting turns).

No Telegram here: :class:`RunningTurns` is kept by :class:`bot.service.ChatService`. A turn
registers with :meth:`RunningTurns.running` and watches the stop event of the
:class:`RunningTurn` it gets: set, the turn ends where it is (its text so far stays).

A chat's turns run one at a time, in the order their messages were sent (the update processor
sees to that, see :mod:`bot.ordering`), and Telegram numbers a chat's messages in increasing
order. So "the turns still waiting when ``/stop`` came" are exactly the turns of that chat whose
message id is below ``/stop``'s that have not started yet: :meth:`RunningTurns.drop` records
that bound, and :meth:`RunningTurns.dropped` tells each such turn, when its time comes, that it
was dropped. Nothing needs to know where the waiting turns are queued.

A shutdown first closes the door
(:meth:`~RunningTurns.begin_shutdown`: no new turn is answered), waits for the running ones
(:meth:`~RunningTurns.wait_idle`), then cuts them short (:meth:`~RunningTurns.interrupt`) and,
as a last resort, cancels their tasks (:meth:`~RunningTurns.cancel`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

ChatKey = tuple[int, int]  # (chat id, forum topic id or 0)


@dataclass(eq=False)
class RunningTurn:
    """A turn being answered. ``user_id``: who asked (None when unknown, e.g. the console)."""

    user_id: int | None
    stop: asyncio.Event = field(default_factory=asyncio.Event)  # set: end where it is
    recorded: asyncio.Event = field(default_factory=asyncio.Event)  # its rows are stored
    finished: asyncio.Event = field(default_factory=asyncio.Event)  # its final state is stored


@dataclass(frozen=True)
class Dropped:
    """A turn dropped before it ran; ``record``: store its message as stopped (``/stop``), or
    store nothing (``/forget``: everything the chat sent before it is to be deleted)."""

    record: bool


@dataclass(frozen=True)
class _Cutoff:
    before: int  # Telegram message ids below this are dropped
    thread_id: int | None  # None: every topic of the chat
    user_id: int | None  # None: everyone's turns
    record: bool

    def covers(self, thread_id: int, user_id: int | None, message_id: int) -> bool:
        return (
            message_id < self.before
            and self.thread_id in (None, thread_id)
            and self.user_id in (None, user_id)
        )


class RunningTurns:
    """The turns running now, one per chat (and topic), and the bounds below which waiting turns
    are dropped.

    Memory: a chat's bounds are forgotten once a later turn of the same topic starts (every
    earlier one has started by then); at most ``max_chats`` chats keep bounds (the oldest are
    forgotten first, and their waiting turns would then run).
    """

    def __init__(self, max_chats: int = 10_000) -> None:
        self.max_chats = max_chats
        self._turns: dict[ChatKey, RunningTurn] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._cutoffs: dict[int, list[_Cutoff]] = {}
        self.closing = False  # shutting down: no new turn is answered
        self.interrupting = False  # shutting down: running turns are being cut short

    @contextmanager
    def running(
        self, key: ChatKey, *, user_id: int | None = None, message_id: int | None = None
    ) -> Iterator[RunningTurn]:
        """Register the current task's turn in chat ``key``, asked by ``user_id`` with message
        ``message_id``; yields it, its stop event already set when a shutdown is cutting turns
        short or a ``/stop`` came after its message (between :meth:`dropped` and now)."""
        turn = self._turns[key] = RunningTurn(user_id)
        if self.interrupting or (
            message_id is not None and self._covering(key, user_id, message_id)
        ):
            turn.stop.set()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield turn
        finally:
            turn.finished.set()
            if self._turns.get(key) is turn:
                del self._turns[key]
            if task is not None:
                self._tasks.discard(task)

    def current(self, key: ChatKey) -> RunningTurn | None:
        """The turn being answered in ``key`` (chat id, topic id), or None."""
        return self._turns.get(key)

    def in_chat(self, chat_id: int) -> list[RunningTurn]:
        """The turns being answered in every topic of the chat."""
        return [turn for (chat, _), turn in self._turns.items() if chat == chat_id]

    def stop(self, key: ChatKey, *, user_id: int | None = None) -> bool:
        """Ask chat ``key``'s running turn to stop (with ``user_id``: only if it answers that
        user); False when nothing (of theirs) is running there."""
        turn = self._turns.get(key)
        if turn is None or turn.stop.is_set() or user_id not in (None, turn.user_id):
            return False
        turn.stop.set()
        return True

    def drop(
        self,
        chat_id: int,
        before: int,
        *,
        thread_id: int | None = None,
        user_id: int | None = None,
        record: bool = True,
    ) -> None:
        """Drop the chat's turns that have not started and whose message id is below ``before``:
        of one topic (``thread_id``) or all, of one user (``user_id``) or everyone's."""
        if chat_id not in self._cutoffs and len(self._cutoffs) >= self.max_chats:
            del self._cutoffs[next(iter(self._cutoffs))]
        cutoff = _Cutoff(before, thread_id, user_id, record)
        self._cutoffs.setdefault(chat_id, []).append(cutoff)

    def dropped(
        self, key: ChatKey, *, message_id: int | None, user_id: int | None
    ) -> Dropped | None:
        """Whether the turn of ``user_id``'s message ``message_id`` (None: a turn no one can
        drop, e.g. from the console), about to start, was dropped by a ``/stop`` or
        ``/forget`` that came after its message."""
        chat_id, thread_id = key
        cutoffs = self._cutoffs.get(chat_id)
        if not cutoffs or message_id is None:
            return None
        covering = [c for c in cutoffs if c.covers(thread_id, user_id, message_id)]
        if covering:
            return Dropped(record=all(c.record for c in covering))
        # Every earlier message of this topic has had its turn: its bounds are spent.
        kept = [c for c in cutoffs if c.thread_id != thread_id or c.before > message_id]
        if kept:
            self._cutoffs[chat_id] = kept
        else:
            del self._cutoffs[chat_id]
        return None

    def _covering(self, key: ChatKey, user_id: int | None, message_id: int) -> bool:
        chat_id, thread_id = key
        return any(
            c.covers(thread_id, user_id, message_id) for c in self._cutoffs.get(chat_id, [])
        )

    def begin_shutdown(self) -> None:
        """From now on no turn is answered (the service records it as interrupted)."""
        self.closing = True

    async def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the running turns to end; True when none is left."""
        running = set(self._tasks)
        if running and timeout > 0:
            await asyncio.wait(running, timeout=timeout)
        return not self._tasks

    def interrupt(self) -> int:
        """Set every running turn's stop event, as interrupted by a shutdown (not ``/stop``).
        Returns how many turns were running."""
        self.interrupting = True
        for turn in self._turns.values():
            turn.stop.set()
        return len(self._tasks)

    def cancel(self) -> int:
        """Cancel the tasks of the turns still running; returns how many were cancelled."""
        for task in self._tasks:
            task.cancel()
        return len(self._tasks)
