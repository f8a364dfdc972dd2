"""One flood budget for several processes (``FLOOD_BACKEND=redis``), kept in Redis.

The same model as :mod:`bot.flood` (token buckets per private chat, per group and per bot, with
the same rates and bursts), but the buckets live in Redis, so N processes writing to Telegram
together stay within the limits one process keeps. The engine is pyrate-limiter's token bucket
(``pyrate_limiter.TokenBucket``, GCRA: one "theoretical arrival time" per bucket) in a
``RedisStateStore``: each check runs as one Lua script in Redis, so it is atomic across
processes, and a denied check answers how many milliseconds until it would pass.

How the rules of :class:`bot.flood.FloodControl` map onto it:

* A write takes one token from its chat's bucket, then one from the bot's bucket (two checks;
  the chat's first, because a chat's bucket denies far more often, and a denied check spends
  nothing). A token taken from the chat while the bot's bucket makes the write wait is kept.
* A reserve ("leave ``n`` tokens") is a check of the same bucket with a burst ``n`` smaller: in
  GCRA a bucket holds at least ``n + 1`` tokens exactly when one write fits under a burst of
  ``capacity - n`` (same rate, same stored state). So intermediate edits leave
  ``edit_bot_reserve`` bot tokens (default: all but one) to answers, first and final texts in
  every process, and ``reserve`` chat tokens to the reply's final write, as in one process.
* Within one process the waiting writes are ordered by :class:`bot.flood.Priority`, and only the
  first asks Redis for a bot token (so waiting writes cost no Redis calls); across processes
  the reserve above keeps final texts ahead of edits.
* A 429 (:meth:`SharedFloodControl.penalize`) blocks the chat for ``retry_after`` seconds in
  every process (a Redis key with that expiry, read before each write's checks); a 429 of a write
  without a chat (an inline message) blocks the whole bot.

While Redis cannot be reached (``redis.exceptions.ConnectionError`` or ``TimeoutError``), each
process paces its writes with an in-process :class:`bot.flood.FloodControl` of the same limits
and logs it (a warning per minute at most): replies go on, and a 429 that this may cause is
handled as always; the shared buckets are used again at the next write after Redis answers.

Differences from one process: a token cannot be given back (the engine keeps no count to add
to), so :meth:`~SharedFloodControl.refund` does nothing and a write not made, or a wait cancelled
after its chat token was taken, costs its token (the safe side); the buckets use the wall
clock (``time.time``), so the hosts of one deployment need synchronised clocks (NTP).
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from pyrate_limiter import Rate, RedisStateStore, TokenBucket
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.flood import ChatId, FloodControl, Priority

__all__ = ["SharedFloodControl"]

_LOGGER = logging.getLogger(__name__)
_TOKENS = 1000  # a Rate of _TOKENS per interval keeps microsecond precision in the emission


def _rate(rate: float, burst: int) -> Rate:
    """A pyrate-limiter Rate of ``rate`` tokens per second admitting a write while at most
    ``burst - 1`` tokens are missing (the stored state does not depend on the burst)."""
    return Rate(_TOKENS, max(1, round(_TOKENS * 1000 / rate)), max(1, burst))


class _Bucket:
    """One token bucket in Redis: its key, and a check for each reserve."""

    def __init__(self, redis: Redis, key: str, rate: float, capacity: float) -> None:
        self.rate, self.capacity = rate, int(capacity)
        ttl_ms = math.ceil(2 * capacity / rate * 1000)  # the full burst's, whatever the check
        self.store = RedisStateStore(redis, key, ttl_ms=ttl_ms)
        self._rates: dict[int, list[Rate]] = {}

    def rates(self, need: float) -> list[Rate]:
        """The rate list of a check that passes when ``need`` tokens are in the bucket."""
        burst = self.capacity - int(min(max(1.0, need), self.capacity)) + 1
        rates = self._rates.get(burst)
        if rates is None:
            rates = self._rates[burst] = [_rate(self.rate, burst)]
        return rates

    async def take(self, algorithm: TokenBucket, need: float, now_ms: int) -> float:
        """Take one token if ``need`` are there: 0.0, else the seconds until they are."""
        decision: Any = self.store.check(algorithm, self.rates(need), now_ms, 1)
        if inspect.isawaitable(decision):  # an asyncio client's script call
            decision = await decision
        if decision.allowed:
            return 0.0
        wait_ms = decision.retry_after_ms
        return 0.001 if wait_ms is None else max(0.001, wait_ms / 1000)


@dataclass(order=True, slots=True)
class _Waiter:
    priority: int
    seq: int
    event: asyncio.Event = field(default_factory=asyncio.Event, compare=False)


class SharedFloodControl:
    """:class:`bot.flood.FloodControl`'s interface (``acquire``, ``refund``, ``penalize``) over
    buckets shared in Redis by every process of one bot; see the module docstring.

    ``redis``: an asyncio client (``redis.asyncio.Redis``); ``namespace``: the prefix of its
    keys (the bot's id: Telegram's limits are per bot token). ``local``: the
    :class:`bot.flood.FloodControl` whose limits are shared (default: its defaults), also used
    while Redis is unreachable. ``clock`` returns seconds since the
    epoch (shared by every process); ``sleep`` waits seconds. Redis errors other than an
    unreachable server (``redis.exceptions.ResponseError``, ...) propagate from :meth:`acquire`.
    """

    def __init__(
        self,
        redis: Redis,
        namespace: str,
        *,
        local: FloodControl | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.redis, self.namespace = redis, namespace
        #: The limits, and the flood control used while Redis is unreachable (this process only).
        self.local = local or FloodControl(sleep=sleep)
        limits = self.local.limits
        self._private = (limits.private_rate, limits.private_burst)
        self._group = (limits.group_rate, limits.group_burst)
        self._clock, self._sleep = clock, sleep
        self._algorithm = TokenBucket()
        self._bot = _Bucket(redis, f"{namespace}:flood:bot", limits.bot_rate, limits.bot_burst)
        self._edit_bot_need = limits.edit_bot_need
        self._chats: LRUCache[int | str, _Bucket] = LRUCache(maxsize=1024)
        self._queue: list[_Waiter] = []  # the writes of this process waiting for a bot token
        self._seq = 0
        self._polling = False  # the first of them is asking Redis
        self._tasks: set[asyncio.Task[Any]] = set()
        self._blocked: LRUCache[str, float] = LRUCache(maxsize=1024)  # key -> until (epoch s)
        self._warned_at = -math.inf

    def _bucket(self, chat_id: int | str) -> _Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            private = isinstance(chat_id, int) and chat_id > 0
            rate, burst = self._private if private else self._group
            key = f"{self.namespace}:flood:chat:{chat_id}"
            bucket = self._chats[chat_id] = _Bucket(self.redis, key, rate, burst)
        return bucket

    def _block_key(self, chat_id: ChatId) -> str:
        return f"{self.namespace}:flood:block:{'bot' if chat_id is None else chat_id}"

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def acquire(
        self, chat_id: ChatId, priority: Priority = Priority.FINAL, *, reserve: int = 0
    ) -> None:
        """Wait until one write is allowed in ``chat_id`` (in every process) and take its tokens.

        As :meth:`bot.flood.FloodControl.acquire`: one token from the chat's bucket (which must
        hold ``1 + reserve`` first) and one from the bot's (an ``EDIT`` must leave
        ``edit_bot_reserve``); ``chat_id=None`` takes only a bot token. Waits while a 429 blocks
        the chat or the bot. While Redis is unreachable, takes the tokens of :attr:`local`.
        """
        try:
            await self._acquire_shared(chat_id, priority, reserve)
        except (RedisConnectionError, RedisTimeoutError) as error:
            self._redis_failed(error)
            await self.local.acquire(chat_id, priority, reserve=reserve)

    async def _acquire_shared(self, chat_id: ChatId, priority: Priority, reserve: int) -> None:
        await self._unblocked(chat_id)
        if chat_id is not None:
            bucket = self._bucket(chat_id)
            need = 1.0 + max(0, reserve)
            while wait := await bucket.take(self._algorithm, need, self._now_ms()):
                await self._sleep(wait)
                await self._unblocked(chat_id)
        bot_need = self._edit_bot_need if priority == Priority.EDIT else 1.0
        await self._take_bot(int(priority), bot_need)

    async def _unblocked(self, chat_id: ChatId) -> None:
        """Return once no 429 blocks the chat (nor the bot)."""
        keys = [self._block_key(None)] + ([] if chat_id is None else [self._block_key(chat_id)])
        while True:
            values = await self.redis.mget(keys)
            here = [self._blocked.get(key, 0.0) for key in keys]  # set before Redis has it
            until = max([float(v) for v in values if v is not None] + here)
            wait = until - self._clock()
            if wait <= 0:
                return
            await self._sleep(wait)

    async def _take_bot(self, priority: int, need: float) -> None:
        """Take a bot token, after the writes of this process with a higher priority (only the
        first waiting write asks Redis; the others wait until they are first)."""
        self._seq += 1
        entry = _Waiter(priority, self._seq)
        heapq.heappush(self._queue, entry)
        try:
            while True:
                entry.event.clear()
                wait: float | None = None
                if self._queue[0] is entry and not self._polling:
                    self._polling = True
                    try:
                        wait = await self._bot.take(self._algorithm, need, self._now_ms())
                    finally:
                        self._polling = False
                    if not wait:
                        return
                    if self._queue[0] is not entry:
                        self._queue[0].event.set()  # a higher priority came meanwhile: its turn
                        continue
                try:
                    await asyncio.wait_for(entry.event.wait(), wait)
                except TimeoutError:
                    pass
        finally:
            self._queue.remove(entry)
            heapq.heapify(self._queue)
            if self._queue:
                self._queue[0].event.set()

    def _redis_failed(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= 60.0:
            self._warned_at = now
            _LOGGER.warning(
                "Redis is unreachable (%s): this process paces its writes alone until it answers",
                error,
            )

    def refund(self, chat_id: ChatId) -> None:
        """Nothing: a token taken from the shared buckets is spent (see the module docstring)."""

    def penalize(self, chat_id: ChatId, retry_after: float) -> None:
        """Record a 429: no process writes to ``chat_id`` (``None``: to any chat) for
        ``retry_after`` seconds. Returns at once; the Redis write runs in a task (a failure is
        logged)."""
        seconds = max(0.0, retry_after)
        if seconds <= 0:
            return
        _LOGGER.info("Flood control: chat %s blocked for %.1f s in every process", chat_id, seconds)
        self.local.penalize(chat_id, seconds)
        key = self._block_key(chat_id)
        self._blocked[key] = max(self._blocked.get(key, 0.0), self._clock() + seconds)
        task = asyncio.get_running_loop().create_task(self.block(chat_id, seconds))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def block(self, chat_id: ChatId, seconds: float) -> None:
        """Block writes to ``chat_id`` (``None``: the bot) for ``seconds`` in every process."""
        until, expiry_ms = self._clock() + seconds, math.ceil(seconds * 1000)
        try:
            await self.redis.set(self._block_key(chat_id), repr(until), px=expiry_ms)
        except Exception:  # noqa: BLE001 - a lost block costs at most one more 429
            _LOGGER.warning("Could not share the 429 block of chat %s", chat_id, exc_info=True)

    async def aclose(self) -> None:
        """Finish the pending block writes and close the Redis client."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2.0)
        await self.redis.aclose(close_connection_pool=True)
