"""The turns running now, and how they are ended: ``/stop`` for one chat, a shutdown for all.

No Telegram here: :class:`RunningTurns` is kept by :class:`bot.service.ChatService`. A turn
registers with :meth:`RunningTurns.running` and watches the ``asyncio.Event`` it gets: set, the
turn ends where it is (its text so far stays). A shutdown first closes the door
(:meth:`~RunningTurns.begin_shutdown`: no new turn is answered), waits for the running ones
(:meth:`~RunningTurns.wait_idle`), then cuts them short (:meth:`~RunningTurns.interrupt`) and,
as a last resort, cancels their tasks (:meth:`~RunningTurns.cancel`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ChatKey = tuple[int, int]  # (chat id, forum topic id or 0)


class RunningTurns:
    """The stop events and tasks of the turns running now, one per chat (and topic)."""

    def __init__(self) -> None:
        self._stops: dict[ChatKey, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closing = False  # shutting down: no new turn is answered
        self.interrupting = False  # shutting down: running turns are being cut short

    @contextmanager
    def running(self, key: ChatKey) -> Iterator[asyncio.Event]:
        """Register the current task's turn in chat ``key``; yields its stop event (already set
        when a shutdown is cutting turns short)."""
        stop = self._stops[key] = asyncio.Event()
        if self.interrupting:
            stop.set()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield stop
        finally:
            if self._stops.get(key) is stop:
                del self._stops[key]
            if task is not None:
                self._tasks.discard(task)

    def stop(self, key: ChatKey) -> bool:
        """Ask chat ``key``'s running turn to stop; False when nothing is running there."""
        event = self._stops.get(key)
        if event is None or event.is_set():
            return False
        event.set()
        return True

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
        for event in self._stops.values():
            event.set()
        return len(self._tasks)

    def cancel(self) -> int:
        """Cancel the tasks of the turns still running; returns how many were cancelled."""
        for task in self._tasks:
            task.cancel()
        return len(self._tasks)
