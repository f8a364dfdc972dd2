"""Keeping the endpoints' model lists fresh while the bot runs.

:func:`keep_model_lists_fresh` is an asyncio task of the running bot (:func:`bot.app.serve`
starts it after the first refresh and cancels it at shutdown): every ``MODELS_REFRESH``
seconds it asks every endpoint's ``GET /models`` again; an endpoint whose list failed is asked
again after ``MODELS_RETRY`` seconds (only that one), until it answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from providers import ModelRegistry

log = logging.getLogger(__name__)

__all__ = ["keep_model_lists_fresh"]


async def keep_model_lists_fresh(
    registry: ModelRegistry,
    failing: set[str],
    every: float,
    retry: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Refresh ``registry``'s model lists forever (until cancelled): all of them every
    ``every`` seconds, the ``failing`` ones (names of endpoints whose last attempt failed)
    every ``retry`` seconds in between. ``sleep`` is injectable for tests."""
    until_full = every
    while True:
        wait = min(retry, until_full) if failing else until_full
        await sleep(wait)
        until_full -= wait
        try:
            if until_full <= 0:
                failing = await registry.refresh()
                until_full = every
            else:
                failing = await registry.refresh(only=failing)
        except Exception:  # noqa: BLE001 - a bug here must not stop the bot; logged
            log.exception("refreshing the model lists failed")
