"""The scaled deployment for real: ``python -m bot webhook`` and ``python -m bot worker``
processes on PostgreSQL, the fake Bot API delivering updates by webhook (flood control on)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from benchmarks.streaming import chat_limited_429s
from bot.app import INTERRUPTED
from bot.handlers import NOTHING_RUNNING
from tests.fakes.providers import FakeProviders, Reply
from tests.fakes.telegram import FakeTelegram
from tests.scale.deployment import SECRET, Deployment

JOBS = "SELECT count(*) FROM procrastinate_jobs"
INBOX = "SELECT count(*) FROM inbox"


def final_texts(telegram: FakeTelegram, chat_id: int) -> list[str]:
    """The texts of the bot's messages in the chat, oldest first."""
    return [m.text or "" for m in telegram.bot_messages(chat_id)]


def answered(telegram: FakeTelegram, chat_id: int, prompts: list[str]) -> bool:
    return final_texts(telegram, chat_id) == [f"Answer to: {p}" for p in prompts]


async def post(url: str, body: bytes, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
        return response.status


def an_update(update_id: int, chat_id: int, text: str) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1_700_000_000, "text": text,
            "chat": {"id": chat_id, "type": "private", "first_name": "U"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "U"},
        },
    }


async def test_three_workers_answer_thirty_chats_in_order(
    deployment: Deployment, telegram: FakeTelegram, providers: FakeProviders
) -> None:
    await deployment.start_ingress()
    for _ in range(3):
        await deployment.start_worker()
    chats = list(range(7001, 7031))
    prompts = {chat: [f"chat {chat} turn {turn}" for turn in range(3)] for chat in chats}
    for turn in range(3):  # each chat's three messages queued at once: order is the queue's job
        for chat in chats:
            telegram.send_message(chat, prompts[chat][turn])

    try:
        await telegram.wait_for(
            lambda: all(answered(telegram, chat, prompts[chat]) for chat in chats), timeout=90
        )
    except TimeoutError:
        wrong = {c: final_texts(telegram, c) for c in chats if not answered(telegram, c, prompts[c])}
        pytest.fail(f"not answered in order: {wrong}\n{deployment.logs()}")
    assert len(providers.requests_for("openai")) == 90  # each message answered once
    # Every update was acknowledged by the ingress at once, none needed a second delivery.
    assert telegram.webhook is not None
    assert [d.status for d in telegram.webhook.deliveries] == [200] * 90
    # The three workers share one flood budget (FLOOD_BACKEND=redis): Telegram never said 429.
    assert telegram.count_429() == 0, f"{chat_limited_429s(telegram)} of them chat-limited"


async def test_a_wrong_secret_is_refused_and_nothing_is_queued(deployment: Deployment) -> None:
    await deployment.start_ingress()
    body = json.dumps(an_update(900, 42, "hello")).encode()

    assert await post(deployment.url, body, "wrong-secret") == 401
    assert await post(deployment.url, body, None) == 401
    assert await deployment.count(INBOX) == 0 and await deployment.count(JOBS) == 0
    # Bad input: a body past WEBHOOK_MAX_BODY_BYTES (413), one that is no update (400).
    assert await post(deployment.url, b"x" * 1_000_001, SECRET) == 413
    assert await post(deployment.url, b"{not json", SECRET) == 400
    assert await post(deployment.url, b'{"message": {}}', SECRET) == 400
    assert await deployment.count(INBOX) == 0 and await deployment.count(JOBS) == 0

    assert await post(deployment.url, body, SECRET) == 200
    assert await deployment.count(JOBS) == 1


async def test_a_duplicate_delivery_is_answered_once(
    deployment: Deployment, telegram: FakeTelegram, providers: FakeProviders
) -> None:
    await deployment.start_ingress()
    await deployment.start_worker()
    telegram.send_message(7100, "first")
    await telegram.wait_for(lambda: answered(telegram, 7100, ["first"]), timeout=30)
    delivered = telegram.webhook.deliveries[0].update_id if telegram.webhook else 0
    again = {**an_update(delivered, 7100, "first"), "update_id": delivered}

    # Telegram sends the same update again (a slow answer, a redeploy): 200, not queued again.
    assert await post(deployment.url, json.dumps(again).encode(), SECRET) == 200
    telegram.send_message(7100, "second")

    await telegram.wait_for(lambda: answered(telegram, 7100, ["first", "second"]), timeout=30)
    assert len(providers.requests_for("openai")) == 2


async def test_a_worker_killed_mid_reply_leaves_the_chat_told_and_the_others_answer(
    deployment: Deployment, telegram: FakeTelegram, providers: FakeProviders
) -> None:
    await deployment.start_ingress()
    first = await deployment.start_worker()
    slow = " ".join(f"word{i}" for i in range(200))
    providers.push("openai", Reply(slow, delay=0.05))  # 10 s of streaming
    telegram.send_message(7200, "slow one")
    await telegram.wait_for(lambda: any("word" in t for t in final_texts(telegram, 7200)),
                            timeout=30)
    for _ in range(2):
        await deployment.start_worker()
    telegram.send_message(7200, "after the crash")  # waits behind the reply being written
    telegram.send_message(7201, "another chat")

    deployment.kill(first)

    def told() -> bool:
        texts = final_texts(telegram, 7200)
        # (With no partial text saved yet, the interrupted message is merged into the next.)
        return INTERRUPTED in texts and texts[-1].startswith("Answer to: ") and (
            texts[-1].endswith("after the crash")
        )

    try:
        await telegram.wait_for(
            lambda: told() and answered(telegram, 7201, ["another chat"]), timeout=40
        )
    except TimeoutError:
        pytest.fail(f"{final_texts(telegram, 7200)}\n{deployment.logs()}")
    prompts = [r.json["messages"][-1]["content"] for r in providers.requests_for("openai")
               if r.json]
    assert prompts.count("slow one") == 1  # not answered twice
    assert len(prompts) == 3 and prompts[-1].endswith("after the crash")


async def test_a_stop_reaches_the_reply_another_worker_writes(
    deployment: Deployment, telegram: FakeTelegram, providers: FakeProviders
) -> None:
    """``/stop`` taken by one worker ends the reply being written by another (STOP_BACKEND=redis):
    the writer takes one update at a time, so while it streams the /stop can only go elsewhere."""
    await deployment.start_ingress()
    await deployment.start_worker(env={"WORKER_CONCURRENCY": "1"})
    slow = " ".join(f"word{i}" for i in range(200))
    providers.push("openai", Reply(slow, delay=0.05))  # 10 s of streaming
    telegram.send_message(7400, "slow one")
    await telegram.wait_for(lambda: any("word" in t for t in final_texts(telegram, 7400)),
                            timeout=30)
    await deployment.start_worker()
    telegram.send_message(7400, "/stop")

    stopped = "SELECT count(*) FROM messages WHERE status = 'stopped'"
    for _ in range(100):  # stored as stopped once its final text is shown
        if await deployment.count(stopped):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail(f"{final_texts(telegram, 7400)}\n{deployment.logs()}")
    texts = final_texts(telegram, 7400)
    assert not any("word199" in t for t in texts)  # cut short, not streamed to its end
    assert NOTHING_RUNNING not in texts  # the worker that took /stop found the reply elsewhere


async def test_the_ingress_acknowledges_while_no_worker_runs_and_the_backlog_is_answered(
    deployment: Deployment, telegram: FakeTelegram
) -> None:
    await deployment.start_ingress()
    for chat in range(7300, 7305):
        telegram.send_message(chat, f"backlog {chat}")
    assert telegram.webhook is not None
    await telegram.wait_for(lambda: len(telegram.webhook.deliveries) == 5, timeout=20)  # type: ignore[union-attr]
    assert [d.status for d in telegram.webhook.deliveries] == [200] * 5
    assert telegram.pending_updates == []  # all acknowledged: Telegram would send none again
    await asyncio.sleep(0.5)
    assert all(final_texts(telegram, chat) == [] for chat in range(7300, 7305))

    await deployment.start_worker()

    await telegram.wait_for(
        lambda: all(answered(telegram, c, [f"backlog {c}"]) for c in range(7300, 7305)),
        timeout=30,
    )
    # SIGTERM: both leave cleanly (the worker's shutdown is polling's: bot.lifecycle.shut_down).
    await deployment.stop()
    assert deployment.ingress is not None and deployment.ingress.returncode == 0
    assert [worker.returncode for worker in deployment.workers] == [0]
