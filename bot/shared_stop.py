"""``/stop`` for every process of one bot (``STOP_BACKEND=redis``), by Redis pub/sub: each
process applies a stop to its own turns (:func:`bot.stop_signals.apply_stop`) and answers what
it found; the asking process merges the answers (:class:`bot.stop_signals.StopOutcome`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.stop_signals import StopOutcome, apply_stop
from bot.turns import ChatKey, RunningTurns

__all__ = ["RedisStopSignals"]

log = logging.getLogger(__name__)


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


class RedisStopSignals:
    """``/stop`` for every process of the bot, by Redis pub/sub.

    A stop is published on ``<namespace>:stop`` as JSON (``chat``, ``thread``, ``before``,
    ``user``, and ``id`` and ``reply``: the request's id and the channel for the answers); every
    process subscribed there (this one included) applies it (:func:`apply_stop`) and answers
    on ``reply`` with its :class:`StopOutcome`. :meth:`stop` waits for as many answers as Redis
    delivered the request to, at most ``timeout`` seconds (a process that dies meanwhile just
    does not answer). While Redis cannot be reached, a stop acts in this process only (logged).
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
        self._closing = False

    async def start(self) -> None:
        """Subscribe to the stops and to this process's answers (they are received from now;
        while Redis is unreachable, from when it answers)."""
        self._pubsub = pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel, self.replies)
        except (RedisConnectionError, RedisTimeoutError) as error:
            log.warning("Redis is unreachable (%s); /stop reaches only this process until it "
                        "answers", error)
        self._listener = asyncio.create_task(self._listen(pubsub))

    async def _listen(self, pubsub: PubSub) -> None:
        """Receive until closed; while Redis is unreachable, try again every second (the client
        subscribes again when it reconnects)."""
        while not self._closing:
            try:
                if not pubsub.subscribed:
                    await pubsub.subscribe(self.channel, self.replies)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self._received(message)
            except (RedisConnectionError, RedisTimeoutError) as error:
                log.warning("Lost Redis (%s); /stop reaches only this process until it is back",
                            error)
                await asyncio.sleep(1.0)

    async def _received(self, message: dict[str, Any]) -> None:
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
            try:
                request.expected = await self.redis.publish(self.channel, json.dumps(message))
            except (RedisConnectionError, RedisTimeoutError) as error:
                log.warning("Redis is unreachable (%s): /stop acts in this process only", error)
                return apply_stop(self.turns, key, before=before, user_id=user_id)
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
        """Unsubscribe, answer the stops delivered before (at most ``timeout`` seconds: a stop
        counted this process as a receiver and waits for its answer), end the listener and close
        the client."""
        self._closing = True
        listener = self._listener
        if self._pubsub is not None and listener is not None and not listener.done():
            try:
                await self._pubsub.unsubscribe()
                # The listener handles what came before the unsubscription, then ends.
                await asyncio.wait({listener}, timeout=self.timeout)
            except RedisError as error:
                log.info("Could not unsubscribe from Redis cleanly: %s", error)
        if self._answers:
            await asyncio.wait(set(self._answers), timeout=self.timeout)
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self.redis.aclose(close_connection_pool=True)
