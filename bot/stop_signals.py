"""How ``/stop`` reaches the reply being written: in this process (:class:`LocalStopSignals`,
the default), or in whichever process of the bot writes it
(:class:`bot.shared_stop.RedisStopSignals`, ``STOP_BACKEND=redis``: Redis pub/sub). No Telegram
here.

A stop is applied by every process to its own :class:`bot.turns.RunningTurns`
(:func:`apply_stop`): the running turn of the chat's topic is stopped, and the turns still
waiting whose message is older than ``/stop`` are dropped wherever they will run. Each process
answers what it saw, and :class:`StopOutcome` merges the answers, so ``/stop`` can tell the user
"nothing is running" or "not yours" as in one process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.turns import ChatKey, RunningTurns

__all__ = ["LocalStopSignals", "StopOutcome", "StopSignals", "apply_stop"]


@dataclass(frozen=True)
class StopOutcome:
    """What a ``/stop`` found: ``running``: a reply was being written in the chat's topic (in
    some process), ``owner``: the user it answers (None: unknown or nothing running),
    ``stopped``: a running reply was stopped."""

    running: bool = False
    owner: int | None = None
    stopped: bool = False

    def merge(self, other: StopOutcome) -> StopOutcome:
        """The outcome of two processes' answers (one chat's topic runs one turn at a time)."""
        owner = self.owner if self.running else other.owner
        return StopOutcome(self.running or other.running, owner, self.stopped or other.stopped)


def apply_stop(
    turns: RunningTurns, key: ChatKey, *, before: int | None, user_id: int | None
) -> StopOutcome:
    """Stop ``key``'s running turn in ``turns`` (with ``user_id``: only if it answers them) and
    drop the turns waiting there whose Telegram message id is below ``before``."""
    running = turns.current(key)
    chat_id, thread_id = key
    if before is not None:
        turns.drop(chat_id, before, thread_id=thread_id, user_id=user_id)
    stopped = turns.stop(key, user_id=user_id)
    return StopOutcome(running is not None, running.user_id if running else None, stopped)


class StopSignals(Protocol):
    """Delivers ``/stop`` to the turns of every process that may be writing the reply."""

    async def start(self) -> None:
        """Begin receiving the stops of other processes (if any)."""

    async def stop(self, key: ChatKey, *, before: int | None, user_id: int | None) -> StopOutcome:
        """Stop ``key``'s running turn and drop the waiting ones, wherever they are."""

    async def aclose(self) -> None:
        """Stop receiving; release the connection."""


class LocalStopSignals:
    """``/stop`` in this process only: the turns of :class:`bot.turns.RunningTurns`."""

    def __init__(self, turns: RunningTurns) -> None:
        self.turns = turns

    async def start(self) -> None:
        """Nothing to start."""

    async def stop(self, key: ChatKey, *, before: int | None, user_id: int | None) -> StopOutcome:
        """:func:`apply_stop` on this process's turns."""
        return apply_stop(self.turns, key, before=before, user_id=user_id)

    async def aclose(self) -> None:
        """Nothing to release."""
