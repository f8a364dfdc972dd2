"""Retrying a unit of work that can wait while the database is unavailable for a while.

A write that can wait (recording a turn, a reply's final state, storing received updates) is
tried again when it fails for a reason that passes by itself: SQLite's "database is locked"
(another process holds the write lock past the busy timeout) or "database or disk is full",
a PostgreSQL server that stopped, restarts or cannot be reached. Other errors (a constraint
violated, a bad statement) are raised at once. Backoff and deadline come from tenacity.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds between attempts: 0.25, 0.5, 1, ... at most this.
MAX_WAIT = 5.0


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is a database failure that may pass by itself (see the module doc)."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    # A refused connection (PostgreSQL stopped) can arrive unwrapped, as the OSError it is.
    return isinstance(error, OSError)


async def retrying(call: Callable[[], Awaitable[T]], *, within: float, what: str) -> T:
    """Await ``call()``; while it fails with a transient error (:func:`is_transient`), call it
    again with exponential backoff (0.25 s doubling, at most ``MAX_WAIT``) until ``within``
    seconds have passed since the first attempt. Raises the last error when time is up, and any
    other error at once. ``what`` names the work in the log lines."""

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        log.warning("%s failed (attempt %d), retrying: %s", what, state.attempt_number, error)

    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_delay(within),
        wait=wait_exponential(multiplier=0.25, max=MAX_WAIT),
        before_sleep=before_sleep,
        reraise=True,
    ):
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover
