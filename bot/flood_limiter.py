"""Flood control inside python-telegram-bot: which Bot API requests are writes, a 429's
``retry_after`` in seconds, and :class:`FloodRateLimiter`, the ``BaseRateLimiter`` that makes
every write of the bot (command answers, notices) wait for its tokens in a
:class:`bot.flood.FloodBudget`.

We do not use PTB's ``AIORateLimiter`` (``telegram/ext/_aioratelimiter.py``): it has no
per-private-chat limiter, no priorities, and pauses *all* requests of the bot for
``retry_after`` on any ``RetryAfter``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.flood import ChatId, FloodBudget, Priority

__all__ = ["FloodRateLimiter", "is_write", "limited", "retry_after_seconds"]


def is_write(endpoint: str) -> bool:
    """True for Bot API methods that create or change a message (they count for flood control).

    ``send*`` (but not sendChatAction: Telegram documents no limit for it and our fake server
    never answers it 429), ``edit*``, copy/forward and stopPoll. sendMessageDraft counts:
    its limits are unpublished, so we stay on the safe side.
    """
    name = endpoint.lower()
    if name == "sendchataction":
        return False
    return name.startswith(("send", "edit", "copymessage", "forwardmessage", "stoppoll"))


def limited(endpoint: str, rate_limit_args: dict[str, Any] | None) -> bool:
    """Whether this request needs a flood-control token here: a write (:func:`is_write`) not
    already ``paced`` by its sender (the reply streamer acquires its own tokens)."""
    return is_write(endpoint) and not (rate_limit_args or {}).get("paced")


def retry_after_seconds(exc: RetryAfter) -> float:
    """``exc.retry_after`` in seconds, whether PTB holds it as an int or a timedelta."""
    value = getattr(exc, "_retry_after", None)  # PTB >= 22.2 stores a timedelta here
    if not isinstance(value, timedelta):
        with warnings.catch_warnings():  # the int form is deprecated since PTB 22.2
            warnings.simplefilter("ignore")
            value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _chat_key(chat_id: Any) -> ChatId:
    if isinstance(chat_id, str):
        try:
            return int(chat_id)
        except ValueError:
            return chat_id  # "@channelusername": treated like a group
    return chat_id if isinstance(chat_id, int) else None


class FloodRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """python-telegram-bot rate limiter backed by a :class:`FloodBudget`.

    Use with ``ApplicationBuilder().rate_limiter(FloodRateLimiter(flood))``. Every write (see
    :func:`is_write`) waits for its tokens at ``rate_limit_args["priority"]`` (default
    ``Priority.ANSWER``: the bot's own writes outside the reply streamer answer commands and
    button taps; answerCallbackQuery is no write and never waits). A ``RetryAfter`` penalizes the
    chat and the call is retried up to ``max_retries`` times, then re-raised. Calls made with
    ``rate_limit_args={"paced": True}`` (the reply streamer's, which acquired their tokens
    already) pass straight through, ``RetryAfter`` included. Non-writes are never delayed.
    """

    def __init__(self, flood: FloodBudget, *, max_retries: int = 3) -> None:
        self.flood = flood
        self.max_retries = max_retries

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Pace one Bot API request; see the class docstring."""
        if not limited(endpoint, rate_limit_args):
            return await callback(*args, **kwargs)
        options = rate_limit_args or {}
        chat_id = _chat_key(data.get("chat_id"))
        priority = Priority(options.get("priority", Priority.ANSWER))
        attempt = 0
        while True:
            await self.flood.acquire(chat_id, priority)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.flood.penalize(chat_id, retry_after_seconds(exc))
                if attempt >= self.max_retries:
                    raise
                attempt += 1
