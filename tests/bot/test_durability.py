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
from tests.storage.private_postgres import PrivatePostgres

CHAT = 6001
LONG = " ".join(f"word{i}" for i in range(300))


async def settled_history(url: str, chat_id: int, timeout: float = 30) -> list[MessageRecord]:
    """The chat's stored history once its last reply is no longer ``STREAMING``."""
    store = await Store.open(url, migrate=False)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            history = await store.history(chat_id)
            if history and history[-1].role == "assistant" and (
                history[-1].status is not ReplyStatus.STREAMING
            ):
                return history
            if loop.time() > deadline:
                raise TimeoutError(f"stored history of chat {chat_id}: {history}")
            await asyncio.sleep(0.1)
    finally:
        await store.close()


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

    history = await settled_history(f"sqlite+aiosqlite:///{database}", CHAT)
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


async def test_postgresql_stopped_while_a_reply_streams_gets_the_final_text_once_back(
    private_postgres: PrivatePostgres, make_bot: Callable[..., RunningBot],
    telegram: FakeTelegram, fake_providers: FakeProviders,
) -> None:
    bot = make_bot(database_url=private_postgres.url)
    await bot.start()
    answer = " ".join(LONG.split()[:80])
    fake_providers.push("openai", Reply(answer, delta_chars=10, delay=0.05))
    telegram.send_message(CHAT, "write a lot")
    await bot.wait_bot_text(CHAT, lambda ms: any(len(m.text or "") > 30 for m in ms))

    await asyncio.to_thread(private_postgres.stop)
    await bot.wait_for_text(CHAT, answer)  # the reply is still written to the end
    await asyncio.sleep(1)  # its final save fails meanwhile
    await asyncio.to_thread(private_postgres.start)

    history = await settled_history(private_postgres.url, CHAT)
    assert [(m.role, m.content, m.status) for m in history] == [
        ("user", "write a lot", ReplyStatus.COMPLETE),
        ("assistant", answer, ReplyStatus.COMPLETE),
    ]


async def test_a_message_while_postgresql_is_down_is_kept_and_answered_once_it_is_back(
    private_postgres: PrivatePostgres, make_bot: Callable[..., RunningBot],
    telegram: FakeTelegram, fake_providers: FakeProviders,
) -> None:
    bot = make_bot(database_url=private_postgres.url)
    await bot.start()
    await telegram.wait_for(lambda: telegram.long_polls_waiting > 0)  # it polls
    await asyncio.to_thread(private_postgres.stop)
    fake_providers.push("openai", Reply("Here I am."))

    telegram.send_message(CHAT, "are you there?")
    told = await bot.wait_for_containing(CHAT, "can't store messages right now")
    assert telegram.pending_updates  # not taken: Telegram keeps it meanwhile
    await asyncio.to_thread(private_postgres.start)
    await bot.wait_for_text(CHAT, "Here I am.", timeout=30)

    history = await settled_history(private_postgres.url, CHAT)
    assert [(m.role, m.content, m.status) for m in history] == [
        ("user", "are you there?", ReplyStatus.COMPLETE),
        ("assistant", "Here I am.", ReplyStatus.COMPLETE),
    ]
    assert told.reply_to_message_id is not None
    assert sum("can't store" in t for t in bot.bot_texts(CHAT)) == 1  # told once
