"""``/stop``, ``/forget`` and ``/new``: they act at once, on the running turn and the waiting
ones (see :class:`bot.turns.RunningTurns`), never waiting behind them. No Telegram here."""

from __future__ import annotations

import asyncio

from bot.stop_signals import LocalStopSignals, StopOutcome, StopSignals
from bot.storage import Store
from bot.turns import ChatKey, RunningTurn, RunningTurns

__all__ = ["ChatControl"]


class ChatControl:
    """Stops, forgets and starts anew for one chat (and topic); one per process."""

    #: Seconds ``forget`` and ``new_conversation`` wait for the running turn to store its state.
    settle_timeout = 10.0

    def __init__(
        self, store: Store, turns: RunningTurns, signals: StopSignals | None = None
    ) -> None:
        self.store, self.turns = store, turns
        #: How :meth:`stop_everywhere` reaches the turns (of this process by default; of every
        #: process with :class:`bot.shared_stop.RedisStopSignals`).
        self.signals: StopSignals = signals or LocalStopSignals(turns)

    def running(self, key: ChatKey) -> RunningTurn | None:
        """The turn being answered in ``key`` (chat id, topic id), or None."""
        return self.turns.current(key)

    def stop(self, key: ChatKey, *, before: int | None = None, user_id: int | None = None) -> bool:
        """End the running turn of ``key`` (its text so far stays) and drop the turns still
        waiting whose Telegram message id is below ``before`` (each is stored as stopped when its
        time comes). With ``user_id``, only that user's turns: the running one only if it
        answers them. Returns whether a running turn was stopped."""
        chat_id, thread_id = key
        if before is not None:
            self.turns.drop(chat_id, before, thread_id=thread_id, user_id=user_id)
        return self.turns.stop(key, user_id=user_id)

    async def stop_everywhere(
        self, key: ChatKey, *, before: int | None = None, user_id: int | None = None
    ) -> StopOutcome:
        """:meth:`stop` in whichever process writes ``key``'s reply (see :attr:`signals`):
        what was running there, whose it was, and whether it was stopped."""
        return await self.signals.stop(key, before=before, user_id=user_id)

    async def forget(self, chat_id: int, *, before: int | None = None) -> int:
        """Delete everything stored for the chat (every topic); returns how many messages.

        Turns running in the chat are stopped and awaited (at most ``settle_timeout`` seconds),
        and turns still waiting whose message id is below ``before`` are dropped unrecorded, so
        nothing the chat sent before ``/forget`` is stored again afterwards.
        """
        if before is not None:
            self.turns.drop(chat_id, before, record=False)
        running = self.turns.in_chat(chat_id)
        for turn in running:
            turn.stop.set()
        await _wait_all([turn.finished for turn in running], self.settle_timeout)
        return await self.store.delete_chat(chat_id)

    async def new_conversation(self, key: ChatKey) -> int:
        """Start a new conversation in the chat's topic at once; returns its id.

        The reply being written stays in the old conversation (its messages are stored first,
        waiting at most ``settle_timeout`` seconds); messages still waiting are answered in the
        new one.
        """
        turn = self.turns.current(key)
        if turn is not None:
            await _wait_all([turn.recorded], self.settle_timeout)
        return await self.store.new_conversation(*key)


async def _wait_all(events: list[asyncio.Event], timeout: float) -> None:
    """Wait until every event is set, at most ``timeout`` seconds."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    if waiters:
        _, pending = await asyncio.wait(waiters, timeout=timeout)
        for waiter in pending:
            waiter.cancel()
