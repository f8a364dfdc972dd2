"""Nothing is left half-written: every reply ends in a recorded final state with the text so far,
whatever fails (Telegram refusing writes, the database locked, full or stopped), and the user is
told when the bot could not keep a message."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

import providers.settings
from bot.console import ConsoleSink
from bot.service import ChatService, ChatTarget
from bot.settings import Settings
from bot.storage import MessageRecord, ReplyStatus, Store
from bot.storage.engine import BUSY_TIMEOUT_MS
from bot.stored_reply import NOT_KEPT
from providers import default_registry
from tests.bot.conftest import RunningBot
from tests.fakes.providers import FakeProviders, Reply
from tests.fakes.telegram import FakeTelegram

CHAT = 6001
LONG = " ".join(f"word{i}" for i in range(300))


async def wait_stored(
    store: Store, chat_id: int, predicate: Callable[[list[MessageRecord]], bool],
    timeout: float = 30,
) -> list[MessageRecord]:
    """Wait until the chat's stored history meets ``predicate``; returns it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        history = await store.history(chat_id)
        if predicate(history):
            return history
        if loop.time() > deadline:
            raise TimeoutError(f"stored history of chat {chat_id}: {history}")
        await asyncio.sleep(0.1)


def settled(history: list[MessageRecord]) -> bool:
    return bool(history) and history[-1].role == "assistant" and (
        history[-1].status is not ReplyStatus.STREAMING
    )


async def test_blocked_mid_reply_ends_failed_with_the_text_so_far(
    make_bot: Callable[..., RunningBot], telegram: FakeTelegram,
    fake_providers: FakeProviders, database: Path,
) -> None:
    bot = make_bot()
    await bot.start()
    fake_providers.push("openai", Reply(LONG, delta_chars=10, delay=0.03))
    telegram.send_message(CHAT, "write a lot")
    await bot.wait_bot_text(CHAT, lambda ms: any(len(m.text or "") > 30 for m in ms))
    telegram.block(CHAT)  # 403 Forbidden: bot was blocked by the user

    store = await Store.open(f"sqlite+aiosqlite:///{database}", migrate=False)
    try:
        history = await wait_stored(store, CHAT, settled)
    finally:
        await store.close()
    reply = history[-1]
    shown = telegram.bot_messages(CHAT)[0].text or ""
    assert reply.status is ReplyStatus.FAILED
    assert reply.error == "the reply could not be delivered: Forbidden"
    # The text the model sent before the stream was stopped: at least what was shown.
    assert LONG.startswith(reply.content) and len(reply.content) >= len(shown) > 0


@pytest.fixture
async def service(
    tmp_path: Path, fake_providers: FakeProviders
) -> AsyncIterator[Callable[..., Awaitable[ChatService]]]:
    """A chat service on a SQLite file (``tmp_path/bot.db``) with the fake providers."""
    stores: list[Store] = []

    async def make(**overrides: Any) -> ChatService:
        url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, telegram_bot_token="1:test", database_url=url,
            default_model="gpt-4o-mini", **overrides,
        )
        providers.settings.configure(settings)
        store = await Store.open(url)
        stores.append(store)
        return ChatService(store, default_registry(settings), settings)

    yield make
    for store in stores:
        await store.close()
    providers.settings.configure(None)


async def test_a_locked_sqlite_database_delays_the_records_instead_of_losing_them(
    service: Callable[..., Awaitable[ChatService]], fake_providers: FakeProviders,
    tmp_path: Path,
) -> None:
    """Another process holds SQLite's write lock past the busy timeout while four chats talk:
    their exchanges are recorded once it lets go, none vanishes."""
    chats = await service()
    fake_providers.push("openai", *(Reply("An answer.") for _ in range(4)))
    out = io.StringIO()
    locker = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")
        turns = [
            asyncio.create_task(chats.run_turn(ChatTarget(100 + n), f"question {n}",
                                               ConsoleSink(out)))
            for n in range(4)
        ]
        await asyncio.sleep(BUSY_TIMEOUT_MS / 1000 + 2)  # "database is locked" by now
        assert not any(turn.done() for turn in turns)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    results = await asyncio.wait_for(asyncio.gather(*turns), 60)

    assert [r.status for r in results] == [ReplyStatus.COMPLETE] * 4
    for n in range(4):
        history = await chats.store.history(100 + n)
        assert [(m.role, m.content, m.status) for m in history] == [
            ("user", f"question {n}", ReplyStatus.COMPLETE),
            ("assistant", "An answer.", ReplyStatus.COMPLETE),
        ]
    assert NOT_KEPT not in out.getvalue()


async def test_a_full_disk_shows_the_reply_and_tells_the_user_it_was_not_kept(
    service: Callable[..., Awaitable[ChatService]], fake_providers: FakeProviders,
    tmp_path: Path,
) -> None:
    """SQLITE_FULL ("database or disk is full", from ``PRAGMA max_page_count``): the reply is
    shown, the writes are retried for STORAGE_RETRY_TIMEOUT, then the user is told."""
    chats = await service(storage_retry_timeout=1.0)
    with sqlite3.connect(tmp_path / "bot.db") as probe:
        pages = probe.execute("PRAGMA page_count").fetchone()[0]

    @event.listens_for(chats.store.engine.sync_engine, "connect")
    def full_disk(connection: Any, _record: Any) -> None:
        connection.execute(f"PRAGMA max_page_count={pages}")

    fake_providers.push("openai", Reply("The answer."))
    out = io.StringIO()
    result = await chats.run_turn(ChatTarget(7), "a long question " * 500, ConsoleSink(out))

    assert "The answer." in out.getvalue()  # shown
    assert out.getvalue().rstrip().endswith(NOT_KEPT)  # and the user is told it was not kept
    assert result.status is ReplyStatus.COMPLETE
    assert await chats.store.history(7) == []
