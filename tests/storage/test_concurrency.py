"""Concurrent writers: nothing lost, nothing interleaved out of order, no "database is locked"."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot.storage import Store, engine
from bot.storage.retry import is_transient

CHATS = 50
APPENDS = 20


async def test_many_chats_writing_at_once_lose_nothing(store: Store) -> None:
    async def writer(chat_id: int) -> None:
        for number in range(APPENDS):
            await store.append_user_message(chat_id, f"{chat_id}:{number}")

    await asyncio.gather(*(writer(chat_id) for chat_id in range(1, CHATS + 1)))

    for chat_id in range(1, CHATS + 1):
        history = await store.history(chat_id, limit=APPENDS + 1)
        assert [m.content for m in history] == [f"{chat_id}:{n}" for n in range(APPENDS)]


async def test_every_append_at_once_gets_its_own_increasing_id(store: Store) -> None:
    appended = await asyncio.gather(
        *(
            store.append_user_message(chat_id, f"{chat_id}:{number}")
            for chat_id in range(1, CHATS + 1)
            for number in range(APPENDS)
        )
    )

    assert len({m.id for m in appended}) == CHATS * APPENDS
    for chat_id in range(1, CHATS + 1):
        history = await store.history(chat_id, limit=APPENDS + 1)
        ids = [m.id for m in history]
        assert ids == sorted(ids)
        assert {m.content for m in history} == {f"{chat_id}:{n}" for n in range(APPENDS)}
        assert len({m.conversation_id for m in history}) == 1


async def test_two_turns_of_one_chat_at_once_keep_each_turns_order(store: Store) -> None:
    async def turn(name: str) -> None:
        for number in range(10):
            await store.append_user_message(7, f"{name}{number}")
            reply = await store.start_reply(7)
            await store.update_reply(reply.id, content=f"{name}{number} reply")

    await asyncio.gather(turn("a"), turn("b"), store.history(7), store.context(7))

    history = await store.history(7, limit=100)
    assert len(history) == 40
    assert [m.id for m in history] == sorted(m.id for m in history)
    for name in ("a", "b"):
        own = [m.content for m in history if m.content.startswith(name)]
        assert own == [f"{name}{n}{suffix}" for n in range(10) for suffix in ("", " reply")]


async def test_first_messages_at_once_share_one_conversation(store: Store) -> None:
    conversations = await asyncio.gather(*(store.current_conversation(9, 3) for _ in range(20)))
    appended = await asyncio.gather(*(store.append_user_message(10, str(n)) for n in range(20)))

    assert len(set(conversations)) == 1
    assert len({m.conversation_id for m in appended}) == 1
    assert len(await store.history(10)) == 20


async def test_settings_changed_at_once_are_all_kept(store: Store) -> None:
    await asyncio.gather(*(store.update_settings(11, **{f"key{n}": n}) for n in range(20)))

    chat = await store.get_chat(11)
    assert chat is not None and chat.settings == {f"key{n}": n for n in range(20)}


async def test_two_stores_on_one_database_write_at_once(store: Store, store_url: str) -> None:
    """Two stores (like two processes: each with its own pool and, on SQLite, its own
    in-process lock) contend in the database itself: SQLite's BEGIN IMMEDIATE + busy timeout
    queue them, PostgreSQL's row locks order them."""
    other = await Store.open(store_url, migrate=False)
    try:
        await asyncio.gather(
            *(
                target.append_user_message(chat_id, f"{index}:{number}")
                for index, target in enumerate((store, other))
                for chat_id in range(1, 11)
                for number in range(10)
            )
        )
    finally:
        await other.close()

    for chat_id in range(1, 11):
        history = await store.history(chat_id, limit=100)
        assert sorted(m.content for m in history) == sorted(
            f"{index}:{number}" for index in (0, 1) for number in range(10)
        )
        assert len({m.conversation_id for m in history}) == 1


async def test_sqlite_writer_waits_for_another_connections_write_lock(tmp_path: Path) -> None:
    """A write lock held elsewhere (another process's transaction) makes an append wait for
    it, not fail with "database is locked"."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    store = await Store.open(url)
    holder = sqlite3.connect(tmp_path / "bot.db", isolation_level=None, check_same_thread=False)
    try:
        await store.append_user_message(1, "before")
        holder.execute("BEGIN IMMEDIATE")
        waiting = asyncio.create_task(store.append_user_message(1, "while locked"))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # it cannot finish (nor should it fail) while locked
        holder.execute("COMMIT")
        appended = await waiting
        assert [m.content for m in await store.history(1)] == ["before", appended.content]
    finally:
        holder.close()
        await store.close()


async def test_sqlite_write_lock_held_past_the_busy_timeout_is_a_transient_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BEGIN IMMEDIATE (sent to the driver directly) fails as SQLAlchemy's own statements do:
    an ``OperationalError`` that ``bot.storage.retry`` retries, not the driver's bare error."""
    monkeypatch.setattr(engine, "BUSY_TIMEOUT_MS", 100)
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    store = await Store.open(url)
    holder = sqlite3.connect(tmp_path / "bot.db", isolation_level=None, check_same_thread=False)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="database is locked") as caught:
            await store.append_user_message(1, "while locked")
        assert is_transient(caught.value)
        holder.execute("ROLLBACK")
        await store.append_user_message(1, "after")  # the connection is usable again
        assert [m.content for m in await store.history(1)] == ["after"]
    finally:
        holder.close()
        await store.close()
