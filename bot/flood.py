"""Flood control: our own model of Telegram's write limits, as token buckets.

Telegram publishes no exact limits. The Bot FAQ ("My bot is hitting limits, how do I avoid
this?", https://core.telegram.org/bots/faq) says: about 1 message per second in one chat
with short bursts, 20 messages per minute in a group, about 30 messages per second for the
whole bot; edits count. We model that as three kinds of token buckets, a little below the
limits the project's fake Bot API server enforces (private 1/s burst 3, group 20/60 s burst 5,
bot 30/s burst 30):

* per private chat (``chat_id > 0``): 0.9 tokens/s, capacity 3;
* per group, supergroup or channel (``chat_id < 0`` or an ``@username`` string):
  18 tokens per 60 s, capacity 4;
* per bot (all chats): 28 tokens/s, capacity 28.

The margin is in the rates (7-10 % below) and in the group and bot capacities: a write reaches
Telegram a few milliseconds after we take its token, and a later write may overtake an earlier
one; a slower refill absorbs that jitter (about 0.1 s per token in a private chat, 0.3 s in a
group, 2 tokens' worth bot-wide).
A private chat keeps Telegram's burst of 3 because a streamed reply needs it: intermediate edits
leave 2 tokens, one for the reply's final write and one for the first text of the next reply,
so both go out at once even when the user answers right away.

A write (sendMessage, editMessageText, sendPhoto, ...) takes one token from its chat bucket
AND one from the bot bucket. The bot bucket is granted by priority (:class:`Priority`:
``ANSWER`` before ``FINAL`` before ``FIRST`` before ``EDIT``, FIFO within a priority): when
hundreds of chats stream at once, answers to commands and button taps go first (one write each,
which a user waits for), then final texts, then first messages, intermediate edits last.
An intermediate edit also leaves ``edit_bot_reserve`` bot tokens for the first and final texts
of other chats (default: all but one: edits use the refill, never the burst). Without it, 20
chats streaming in step spend 20 of the 28 tokens on edits that the final texts supersede a
moment later, and the next first texts wait behind the refill; with it, those first and final
texts find the burst, and an edit still waiting when its reply ends is replaced by the final text.

A 429 answer (``RetryAfter``) blocks only the chat it came from (:meth:`FloodControl.penalize`),
never the whole bot: a 429 cannot tell a chat limit from a bot-wide one, our bot bucket already
stays below Telegram's 30/s, and stalling every chat would delay final texts everywhere.

:class:`bot.flood_limiter.FloodRateLimiter` plugs the same buckets into python-telegram-bot.
"""

from __future__ import annotations

import asyncio
import bisect
import enum
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "FloodBudget",
    "FloodControl",
    "FloodLimits",
    "Priority",
]

_LOGGER = logging.getLogger(__name__)
_EPS = 1e-9
_MAX_BUCKETS = 1024

ChatId = int | str | None


class Priority(enum.IntEnum):
    """Order in which waiting writes get the bot-wide budget (lower goes first)."""

    ANSWER = 0  # answers a command or a button tap (one write a user is waiting for)
    FINAL = 1  # completes a reply: the complete text, a notice, a photo
    FIRST = 2  # the first visible text of a reply
    EDIT = 3  # an intermediate edit of a growing reply


class FloodBudget(Protocol):
    """What the reply streamer and :class:`FloodRateLimiter` need of a flood control:
    :class:`FloodControl` (one process, the default) or
    :class:`bot.shared_flood.SharedFloodControl` (a budget shared by several processes)."""

    async def acquire(
        self, chat_id: ChatId, priority: Priority = Priority.FINAL, *, reserve: int = 0
    ) -> None:
        """Wait until one write is allowed in ``chat_id`` and take its tokens."""

    def refund(self, chat_id: ChatId) -> None:
        """Give back the tokens of a write that was acquired but not made (if it can)."""

    def penalize(self, chat_id: ChatId, retry_after: float) -> None:
        """Record a 429 for ``chat_id``: no write there for ``retry_after`` seconds."""


@dataclass(slots=True)
class _Bucket:
    rate: float  # tokens per second
    capacity: float  # tokens
    tokens: float
    stamp: float  # clock value of the last refill, seconds
    blocked_until: float = -math.inf

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def ready(self, now: float, need: float) -> bool:
        return now >= self.blocked_until and self.tokens >= need - _EPS

    def ready_at(self, now: float, need: float) -> float:
        missing = max(0.0, need - self.tokens)
        return max(self.blocked_until, now + missing / self.rate)


@dataclass(frozen=True, slots=True)
class FloodLimits:
    """The limits a :class:`FloodControl` keeps: rates in tokens (writes) per second, bursts in
    tokens; ``edit_bot_need``: bot tokens an intermediate edit needs (1 + its reserve)."""

    private_rate: float
    private_burst: float
    group_rate: float
    group_burst: float
    bot_rate: float
    bot_burst: float
    edit_bot_need: float


@dataclass(order=True, slots=True)
class _Waiter:
    priority: int
    seq: int
    chat: _Bucket | None = field(compare=False)
    need: float = field(compare=False)
    future: asyncio.Future[None] = field(compare=False)


class FloodControl:
    """Token buckets per chat and per bot, granted by priority.

    Rates are in tokens per second, bursts (capacities) in tokens; a token is one write.
    ``edit_bot_reserve``: bot tokens a ``Priority.EDIT`` write must leave (default
    ``bot_burst - 1``; capped so that a full bot bucket always suffices).
    ``clock`` returns seconds (``time.monotonic`` by default) and ``sleep`` is awaited with
    seconds; both are injectable so tests run on a fake clock with exact grants.
    """

    def __init__(
        self,
        *,
        private_rate: float = 0.9,
        private_burst: float = 3,
        group_rate: float = 18 / 60,
        group_burst: float = 4,
        bot_rate: float = 28.0,
        bot_burst: float = 28,
        edit_bot_reserve: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._private = (private_rate, private_burst)
        self._group = (group_rate, group_burst)
        self._clock = clock
        self._sleep = sleep
        self._bot = _Bucket(bot_rate, bot_burst, bot_burst, clock())
        reserve = bot_burst - 1 if edit_bot_reserve is None else edit_bot_reserve
        self._edit_bot_need = min(1.0 + max(0.0, reserve), bot_burst)  # bot tokens an EDIT needs
        #: The limits above (what :class:`bot.shared_flood.SharedFloodControl` shares).
        self.limits = FloodLimits(
            private_rate, private_burst, group_rate, group_burst, bot_rate, bot_burst,
            self._edit_bot_need,
        )
        self._chats: dict[int | str, _Bucket] = {}
        self._waiters: list[_Waiter] = []
        self._seq = 0
        self._timer: asyncio.Task[None] | None = None
        self._timer_at = math.inf

    def _bucket(self, chat_id: ChatId) -> _Bucket | None:
        if chat_id is None:
            return None
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if len(self._chats) >= _MAX_BUCKETS:
                self._prune()
            private = isinstance(chat_id, int) and chat_id > 0
            rate, burst = self._private if private else self._group
            bucket = self._chats[chat_id] = _Bucket(rate, burst, burst, self._clock())
        return bucket

    def _prune(self) -> None:
        """Forget buckets that are full, unblocked and unused: a new one is the same."""
        now = self._clock()
        busy = {id(w.chat) for w in self._waiters}
        for key, bucket in list(self._chats.items()):
            bucket.refill(now)
            idle = bucket.tokens >= bucket.capacity and now >= bucket.blocked_until
            if id(bucket) not in busy and idle:
                del self._chats[key]

    def tokens(self, chat_id: ChatId) -> float:
        """Tokens (writes) available now in the chat's bucket; 0 while the chat is penalized.

        ``chat_id=None`` (e.g. an inline message) reports the bot bucket.
        """
        now = self._clock()
        bucket = self._bucket(chat_id) or self._bot
        bucket.refill(now)
        return 0.0 if now < bucket.blocked_until else bucket.tokens

    async def acquire(
        self, chat_id: ChatId, priority: Priority = Priority.FINAL, *, reserve: int = 0
    ) -> None:
        """Wait until one write is allowed in ``chat_id`` and take its tokens.

        Takes one token from the chat bucket and one from the bot bucket. With ``reserve=n``
        the chat bucket must hold ``1 + n`` tokens first (n stay for later, e.g. the final
        write of a reply); the reserve is capped so that a full bucket always suffices.
        ``chat_id=None`` takes only a bot token. Cancelling a waiting call takes nothing;
        cancelling it right after the grant gives the tokens back.
        """
        chat = self._bucket(chat_id)
        need = 1.0 if chat is None else min(1.0 + max(0, reserve), chat.capacity)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        bisect.insort(self._waiters, _Waiter(int(priority), self._seq, chat, need, future))
        self._dispatch()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.refund(chat_id)
            else:
                self._dispatch()  # drop this waiter now; the ones behind it may go
            raise

    def refund(self, chat_id: ChatId) -> None:
        """Give back the tokens of a write that was acquired but not made."""
        now = self._clock()
        for bucket in (self._bucket(chat_id), self._bot):
            if bucket is not None:
                bucket.refill(now)
                bucket.tokens = min(bucket.capacity, bucket.tokens + 1)
        self._dispatch()

    def penalize(self, chat_id: ChatId, retry_after: float) -> None:
        """Record a 429 for ``chat_id``: no write there for ``retry_after`` seconds.

        The chat bucket is emptied and blocked until now + ``retry_after``; it refills at its
        rate from now on. The bot bucket is left alone (see the module docstring).
        ``chat_id=None`` does nothing.
        """
        bucket = self._bucket(chat_id)
        if bucket is None:
            return
        now = self._clock()
        bucket.refill(now)
        bucket.tokens = 0.0
        bucket.blocked_until = max(bucket.blocked_until, now + max(0.0, retry_after))
        _LOGGER.info("Flood control: chat %s blocked for %.1f s", chat_id, retry_after)
        self._dispatch()

    def _dispatch(self) -> None:
        """Grant every waiter that can go now, in priority order; schedule the next check."""
        now = self._clock()
        bot = self._bot
        bot.refill(now)
        wake = math.inf
        bot_blocked = False
        remaining: list[_Waiter] = []
        for waiter in self._waiters:
            if waiter.future.done():
                continue  # cancelled
            chat = waiter.chat
            if not bot_blocked and chat is not None:
                chat.refill(now)
                if not chat.ready(now, waiter.need):
                    wake = min(wake, chat.ready_at(now, waiter.need))
                    remaining.append(waiter)
                    continue
            bot_need = self._edit_bot_need if waiter.priority == Priority.EDIT else 1.0
            if bot_blocked or not bot.ready(now, bot_need):
                if not bot_blocked:
                    wake = min(wake, bot.ready_at(now, bot_need))
                    # strict priority: nobody behind may take the bot's next token
                    bot_blocked = True
                remaining.append(waiter)
                continue
            bot.tokens -= 1
            if chat is not None:
                chat.tokens -= 1
            waiter.future.set_result(None)
        self._waiters = remaining
        self._schedule(now, wake if remaining else math.inf)

    def _schedule(self, now: float, wake: float) -> None:
        timer = self._timer
        if timer is not None and not timer.done():
            if wake == math.inf:
                timer.cancel()
                self._timer, self._timer_at = None, math.inf
                return
            if self._timer_at <= wake + _EPS:
                return  # an earlier check is already due; it will reschedule
            timer.cancel()
        if wake == math.inf:
            self._timer, self._timer_at = None, math.inf
            return
        self._timer_at = wake
        self._timer = asyncio.get_running_loop().create_task(self._tick(max(0.0, wake - now)))

    async def _tick(self, delay: float) -> None:
        await self._sleep(delay)
        self._timer, self._timer_at = None, math.inf
        self._dispatch()
