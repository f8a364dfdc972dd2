"""The ingress while PostgreSQL restarts: 503 (Telegram sends the update again), then 200."""

from __future__ import annotations

import asyncio
import json

from aiohttp.test_utils import TestClient, TestServer

from bot.job_queue import job_app, psycopg_url
from bot.storage import Inbox, Store, upgrade_to_head
from bot.webhook import SECRET_HEADER, WebhookIngress
from tests.scale.deployment import count
from tests.scale.test_webhook_workers import an_update
from tests.storage.private_postgres import PrivatePostgres


async def test_the_ingress_answers_503_while_postgresql_is_down(
    private_postgres: PrivatePostgres,
) -> None:
    url = private_postgres.url
    await upgrade_to_head(url)
    store = await Store.open(psycopg_url(url), migrate=False)
    ingress = WebhookIngress(
        Inbox(store), job_app(url), secret="s", path="/telegram", max_body_bytes=10_000
    )
    headers = {SECRET_HEADER: "s", "Content-Type": "application/json"}
    try:
        async with TestClient(TestServer(ingress.web_app())) as client:
            first = await client.post("/telegram", data=json.dumps(an_update(1, 42, "a")),
                                      headers=headers)
            assert first.status == 200

            await asyncio.to_thread(private_postgres.stop)
            during = await client.post("/telegram", data=json.dumps(an_update(2, 42, "b")),
                                       headers=headers)
            assert during.status == 503
            await asyncio.to_thread(private_postgres.start)

            again = await client.post("/telegram", data=json.dumps(an_update(2, 42, "b")),
                                      headers=headers)
            assert again.status == 200
    finally:
        await store.close()
    # The update refused during the outage was queued once, when sent again.
    assert await count(url, "SELECT count(*) FROM procrastinate_jobs") == 2
    assert await count(url, "SELECT count(*) FROM inbox") == 2
