"""Webhook delivery for the fake Bot API, as Telegram does it.

Sources: ``/work/shared/docs/telegram-api.md`` 3.5 and 4 (the setWebhook page) and the official
server's ``WebhookActor.cpp`` (tdlib/telegram-bot-api). One ``Update`` per HTTPS POST (here HTTP
on loopback) with the header ``X-Telegram-Bot-Api-Secret-Token`` set to ``secret_token`` when one
was given; at most ``max_connections`` (1-100, default 40) requests at once. Updates are queued
per chat (``WebhookActor``'s ``queue_updates_`` by ``queue_id``): a chat's next update is sent
only once the one before it was acknowledged, so a chat's updates arrive one at a time and in
order, while different chats' go in parallel (an update without a chat has a queue of its own).
An update is sent again when the answer is not 2xx or does not come in time, until it is
acknowledged (Telegram drops it after about 23 hours; this fake never does).

Choices where the server differs or is silent: the answer timeout is ``timeout`` seconds
(default 10); a failed update waits ``retry_delay`` seconds (default 0.5) before it is sent
again (the server: at once after the first failure, then 2, 4, ... at most 60-120 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def queue_of(update: dict) -> object:
    """The delivery queue of an update: its chat (the message's, or the message of a button
    tap), else the update alone."""
    for kind in ("message", "edited_message", "channel_post", "edited_channel_post"):
        if kind in update:
            return update[kind]["chat"]["id"]
    message = update.get("callback_query", {}).get("message")
    if message is not None:
        return message["chat"]["id"]
    return ("update", update["update_id"])


@dataclass(frozen=True)
class Delivery:
    """One POST of an update: its HTTP status (0: no answer in time or no connection) and the
    seconds the answer took."""

    update_id: int
    status: int
    seconds: float


class WebhookDelivery:
    """Posts the updates of ``pending()`` to ``url``; ``acknowledged(update_id)`` is called
    for each one answered 2xx (the fake drops it then). ``wake()`` returns the fake's current
    wake-up event (set, and replaced, when an update is queued); ``notify()`` sets it."""

    def __init__(
        self,
        url: str,
        secret: str | None,
        max_connections: int,
        pending: Callable[[], list[dict]],
        acknowledged: Callable[[int], None],
        wake: Callable[[], asyncio.Event],
        notify: Callable[[], None],
        *,
        timeout: float = 10.0,
        retry_delay: float = 0.5,
    ) -> None:
        self.url, self.secret = url, secret
        self.max_connections = max(1, min(100, max_connections))
        self.pending, self.acknowledged = pending, acknowledged
        self.wake, self.notify = wake, notify
        self.timeout, self.retry_delay = timeout, retry_delay
        self.deliveries: list[Delivery] = []
        self._in_flight: set[int] = set()
        self._not_before: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(self.max_connections)
        self._posts: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            connector=aiohttp.TCPConnector(limit=self.max_connections),
        )
        self._task = asyncio.create_task(self._run(), name="fake webhook delivery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for post in list(self._posts):
            post.cancel()
        await asyncio.gather(*self._posts, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        while True:
            event = self.wake()
            now = time.monotonic()
            waiting, busy = [], set()  # busy: chats whose head update is out or waits to retry
            for update in self.pending():
                queue, update_id = queue_of(update), update["update_id"]
                if queue in busy:
                    continue
                busy.add(queue)
                if update_id not in self._in_flight and self._not_before.get(update_id, 0) <= now:
                    waiting.append(update)
            for update in waiting:
                await self._slots.acquire()
                self._in_flight.add(update["update_id"])
                post = asyncio.create_task(self._post(update))
                self._posts.add(post)
                post.add_done_callback(self._posts.discard)
            retry_at = [t for t in self._not_before.values() if t > now]
            wait = min(retry_at) - now if retry_at else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), wait)

    async def _post(self, update: dict) -> None:
        assert self._session is not None
        update_id = update["update_id"]
        headers = {SECRET_HEADER: self.secret} if self.secret else {}
        started = time.monotonic()
        status = 0
        try:
            async with self._session.post(self.url, json=update, headers=headers) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        finally:
            self.deliveries.append(Delivery(update_id, status, time.monotonic() - started))
            self._in_flight.discard(update_id)
            self._slots.release()
        if 200 <= status < 300:
            self._not_before.pop(update_id, None)
            self.acknowledged(update_id)
        else:
            self._not_before[update_id] = time.monotonic() + self.retry_delay
        self.notify()  # the chat's next update may go, or the next retry time changed
