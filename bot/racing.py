"""Running a step unless an event comes first (``/stop``, a finished reply or a shutdown cutting
a wait short), and cancelling background tasks. No Telegram here, so the reply streamer, the
service and the lifecycle share it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Coroutine
from typing import Any


async def race(step: Awaitable[Any], event: asyncio.Event) -> bool:
    """Run ``step`` unless ``event`` is set first (then cancel it); True if ``step`` completed."""
    if event.is_set():
        if isinstance(step, Coroutine):
            step.close()  # never awaited: no "coroutine was never awaited" warning
        return False
    task, waiter = asyncio.ensure_future(step), asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    if task.cancelled():
        return False
    task.result()
    return True


async def cancel_all(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel the given background tasks still running (None: never started) and wait for each
    to end; their CancelledError is swallowed, another exception is raised."""
    for task in tasks:
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
