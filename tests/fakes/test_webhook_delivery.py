"""The fake Bot API's webhook delivery: the secret header, ``max_connections``, redelivery."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
import telegram
from aiohttp import web
from telegram.error import Conflict

from tests.fakes.telegram import FakeTelegram
from tests.fakes.webhook_delivery import SECRET_HEADER


@dataclass
class Receiver:
    """A webhook endpoint on loopback: records each request; ``answer(update_id, attempt)``
    gives (HTTP status, seconds to wait before answering)."""

    answer: Callable[[int, int], tuple[int, float]] = lambda update_id, attempt: (200, 0.0)
    received: list[tuple[int, str | None]] = field(default_factory=list)
    running: int = 0
    most_at_once: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        update = json.loads(await request.read())
        self.received.append((update["update_id"], request.headers.get(SECRET_HEADER)))
        attempt = sum(1 for uid, _ in self.received if uid == update["update_id"])
        status, wait = self.answer(update["update_id"], attempt)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(wait)
        finally:
            self.running -= 1
        return web.Response(status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield found
    await runner.cleanup()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as running:
        running.webhook_timeout, running.webhook_retry_delay = 0.5, 0.05
        yield running


async def test_updates_are_posted_with_the_secret_at_most_max_connections_at_once(
    fake: FakeTelegram, receiver: Receiver
) -> None:
    receiver.answer = lambda update_id, attempt: (200, 0.1)
    for chat in range(1, 7):
        fake.send_message(chat, "hi")
    async with telegram.Bot(fake.token, base_url=fake.base_url) as bot:
        await bot.set_webhook(receiver.url, secret_token="s3cret", max_connections=2)

        await fake.wait_for(lambda: not fake.pending_updates, timeout=10)
        assert sorted(uid for uid, _ in receiver.received) == [1, 2, 3, 4, 5, 6]
        assert {secret for _, secret in receiver.received} == {"s3cret"}
        assert receiver.most_at_once == 2
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()


async def test_an_update_not_acknowledged_is_sent_again(
    fake: FakeTelegram, receiver: Receiver
) -> None:
    # Update 1: a 500, then a 200. Update 2: an answer slower than the timeout, then a 200.
    def answer(update_id: int, attempt: int) -> tuple[int, float]:
        if attempt > 1:
            return 200, 0.0
        return (500, 0.0) if update_id == 1 else (200, 2.0)

    receiver.answer = answer
    fake.send_message(1, "one")
    fake.send_message(2, "two")
    async with telegram.Bot(fake.token, base_url=fake.base_url) as bot:
        await bot.set_webhook(receiver.url)

    await fake.wait_for(lambda: not fake.pending_updates, timeout=10)
    assert sorted(uid for uid, _ in receiver.received) == [1, 1, 2, 2]
    assert receiver.received[0][1] is None  # no secret_token: no header
    assert fake.webhook is not None
    statuses = {(d.update_id, d.status) for d in fake.webhook.deliveries}
    assert statuses == {(1, 500), (1, 200), (2, 0), (2, 200)}  # 0: no answer in time


async def test_no_delivery_to_a_url_off_loopback(fake: FakeTelegram) -> None:
    fake.send_message(1, "hi")
    async with telegram.Bot(fake.token, base_url=fake.base_url) as bot:
        await bot.set_webhook("https://example.invalid/hook")
    assert fake.webhook is None and len(fake.pending_updates) == 1


async def test_a_chats_updates_go_one_at_a_time_in_order(
    fake: FakeTelegram, receiver: Receiver
) -> None:
    # Each answer takes 0.1 s; a chat's next update waits for it, other chats do not.
    receiver.answer = lambda update_id, attempt: (500 if (update_id, attempt) == (1, 1) else 200, 0.1)
    for text in ("a", "b", "c"):
        fake.send_message(1, text)
    fake.send_message(2, "other")
    async with telegram.Bot(fake.token, base_url=fake.base_url) as bot:
        await bot.set_webhook(receiver.url, max_connections=40)

    await fake.wait_for(lambda: not fake.pending_updates, timeout=10)
    chat_1 = [uid for uid, _ in receiver.received if uid != 4]
    assert chat_1 == [1, 1, 2, 3]  # update 1 failed once: 2 and 3 waited behind it
    assert receiver.received[0][0] in (1, 4) and receiver.most_at_once == 2
