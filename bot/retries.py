"""Retries of one-shot Bot API writes: command answers, refusals, button answers' edits.

The reply streamer retries its own writes (:mod:`bot.draft`). Every other write of the bot goes
through the application's rate limiter, :class:`bot.flood_limiter.FloodRateLimiter`, which waits for
flood-control tokens and retries a 429 (``RetryAfter``). :class:`RetryingRateLimiter` is that
limiter, also retrying what the streamer retries for a final write: a server error (HTTP 5xx)
or a failed connection, after the streamer's backoff (:func:`bot.draft.backoff`). Each retry
goes through the flood control again (a retry is a new write).

Not retried: a timeout (``TimedOut``: the message may have been delivered, and a retry would
show it twice) and errors another attempt cannot fix (``BadRequest``, ``Forbidden``, ...).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.error import BadRequest, NetworkError, TimedOut

from bot.draft import backoff
from bot.flood import FloodBudget
from bot.flood_limiter import FloodRateLimiter, limited

log = logging.getLogger(__name__)

#: Attempts of a one-shot write failing with a server or connection error (waits between them
#: 0.25, 0.5, 1, 2 s: about 4 s in all).
WRITE_ATTEMPTS = 5


def retryable(error: BaseException) -> bool:
    """A server error (HTTP 5xx) or a failed connection: a later attempt may succeed."""
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest | TimedOut)


class RetryingRateLimiter(FloodRateLimiter):
    """:class:`FloodRateLimiter` that also retries a write failing with a server or connection
    error, up to ``attempts`` times in all, ``sleep``-ing :func:`bot.draft.backoff` seconds
    between attempts; the last error is raised. Paced writes (the streamer's) and reads pass
    through as in :class:`FloodRateLimiter`."""

    def __init__(
        self,
        flood: FloodBudget,
        *,
        attempts: int = WRITE_ATTEMPTS,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        max_retries: int = 3,
    ) -> None:
        super().__init__(flood, max_retries=max_retries)
        self.attempts = attempts
        self.sleep = sleep

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Pace one Bot API request and retry it; see the class docstring."""
        if not limited(endpoint, rate_limit_args):
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )
        failures = 0
        while True:
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except NetworkError as error:
                failures += 1
                if not retryable(error) or failures >= self.attempts:
                    raise
                wait = backoff(failures)
                log.warning(
                    "%s to chat %s failed (%s); attempt %d of %d in %.2f s",
                    endpoint, data.get("chat_id"), error, failures + 1, self.attempts, wait,
                )
                await self.sleep(wait)
