"""How ``/stop`` reaches the reply being written: in this process (:class:`LocalStopSignals`,
the default), or in whichever process of the bot writes it (:class:`RedisStopSignals`,
``STOP_BACKEND=redis``: Redis pub/sub). No Telegram here.

A stop is applied by every process to its own :class:`bot.turns.RunningTurns`
(:func:`apply_stop`): the running turn of the chat's topic is stopped, and the turns still
waiting whose message is older than ``/stop`` are dropped wherever they will run. Each process
answers what it saw, and :class:`StopOutcome` merges the answers, so ``/stop`` can tell the user
"nothing is running" or "not yours" as in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.turns import ChatKey, RunningTurns

if TYPE_CHECKING:  # redis is imported only by the processes that use it
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

__all__ = ["LocalStopSignals", "RedisStopSignals", "StopOutcome", "StopSignals", "apply_stop"]

log = logging.getLogger(__name__)


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


@dataclass
class _Request:
    """A stop published by this process, waiting for its answers."""

    done: asyncio.Future[None]
    outcomes: list[StopOutcome] = field(default_factory=list)
    expected: int | None = None  # how many processes received it (None: not known yet)

    def check(self) -> None:
        if self.expected is not None and len(self.outcomes) >= self.expected:
            if not self.done.done():
                self.done.set_result(None)


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


class RedisStopSignals:
    """``/stop`` for every process of the bot, by Redis pub/sub.

    A stop is published on ``<namespace>:stop`` as JSON (``chat``, ``thread``, ``before``,
    ``user``, and ``id`` and ``reply``: the request's id and the channel for the answers); every
    process subscribed there (this one included) applies it (:func:`apply_stop`) and answers
    on ``reply`` with its :class:`StopOutcome`. :meth:`stop` waits for as many answers as Redis
    delivered the request to, at most ``timeout`` seconds (a process that dies meanwhile just
    does not answer). Raises ``redis.exceptions.RedisError`` when Redis cannot be reached.
    """

    def __init__(
        self, redis: Redis, namespace: str, turns: RunningTurns, *, timeout: float = 2.0
    ) -> None:
        self.redis, self.turns, self.timeout = redis, turns, timeout
        self.channel = f"{namespace}:stop"
        self.replies = f"{namespace}:stop:reply:{uuid.uuid4().hex}"
        self._pending: dict[str, _Request] = {}
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._answers: set[asyncio.Task[None]] = set()  # answers being published

    async def start(self) -> None:
        """Subscribe to the stops and to this process's answers (they are received from now)."""
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self.channel, self.replies)
        self._listener = asyncio.create_task(self._listen(self._pubsub))

    async def _listen(self, pubsub: PubSub) -> None:
        async for message in pubsub.listen():
            if message.get("type") != "message":
                continue
            try:
                data = json.loads(message["data"])
                if message["channel"] in (self.replies, self.replies.encode()):
                    self._answered(data)
                else:
                    await self._apply(data)
            except Exception:  # noqa: BLE001 - one bad message must not end the listener
                log.warning("Ignoring a malformed stop message %r", message, exc_info=True)

    async def _apply(self, data: dict[str, Any]) -> None:
        key = (int(data["chat"]), int(data["thread"]))
        outcome = apply_stop(self.turns, key, before=data["before"], user_id=data["user"])
        answer = json.dumps({"id": data["id"], **asdict(outcome)})
        # In a task of its own: the stopped turn may end this process (and the listener) first.
        task = asyncio.create_task(self._answer(str(data["reply"]), answer))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer(self, channel: str, answer: str) -> None:
        try:
            await self.redis.publish(channel, answer)
        except Exception:  # noqa: BLE001 - the asking process then waits for its timeout
            log.warning("Could not answer a stop on %s", channel, exc_info=True)

    def _answered(self, data: dict[str, Any]) -> None:
        pending = self._pending.get(str(data.pop("id")))
        if pending is None:
            return  # a late answer: the stop already returned
        pending.outcomes.append(StopOutcome(**data))
        pending.check()

    async def stop(self, key: ChatKey, *, before: int | None, user_id: int | None) -> StopOutcome:
        """Publish the stop and merge the answers of the processes that received it."""
        if self._pubsub is None:
            raise RuntimeError("RedisStopSignals.start() was not awaited")
        request_id = uuid.uuid4().hex
        request = _Request(asyncio.get_running_loop().create_future())
        self._pending[request_id] = request
        try:
            message = {"id": request_id, "reply": self.replies, "chat": key[0],
                       "thread": key[1], "before": before, "user": user_id}
            request.expected = await self.redis.publish(self.channel, json.dumps(message))
            request.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(request.done), self.timeout)
        finally:
            del self._pending[request_id]
        merged = StopOutcome()
        for outcome in request.outcomes:
            merged = merged.merge(outcome)
        return merged

    async def aclose(self) -> None:
        """Finish the answers being published (at most ``timeout`` seconds), unsubscribe, end the
        listener and close the client."""
        if self._answers:
            await asyncio.wait(set(self._answers), timeout=self.timeout)
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self.redis.aclose(close_connection_pool=True)
