"""Engines: the default URL, SQLite's directory, pragmas on every connection, foreign keys."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.storage import Store, create_engine, default_database_url, upgrade_to_head
from bot.storage.engine import BUSY_TIMEOUT_MS


def test_default_database_url() -> None:
    assert default_database_url() == "sqlite+aiosqlite:///data/bot.db"


async def test_sqlite_pragmas_hold_on_every_pooled_connection(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a' / 'b' / 'bot.db'}"
    engine = create_engine(url)
    ready = asyncio.Event()
    seen: list[tuple[object, ...]] = []

    async def read_pragmas() -> None:
        async with engine.connect() as connection:
            values = []
            for pragma in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous"):
                values.append((await connection.exec_driver_sql(f"PRAGMA {pragma}")).scalar())
            seen.append(tuple(values))
            if len(seen) == 3:
                ready.set()
            await ready.wait()  # hold the connection so that the next task opens another

    try:
        await asyncio.gather(read_pragmas(), read_pragmas(), read_pragmas())
    finally:
        await engine.dispose()

    assert (tmp_path / "a" / "b" / "bot.db").is_file()
    assert seen == [("wal", BUSY_TIMEOUT_MS, 1, 1)] * 3  # synchronous 1 = NORMAL


async def test_sqlite_enforces_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await upgrade_to_head(url)
    engine = create_engine(url)
    try:
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO conversations (chat_id, thread_id, created_at)"
                        " VALUES (404, 0, '2026-01-01 00:00:00')"
                    )
                )
    finally:
        await engine.dispose()


async def test_store_open_without_migrate_leaves_the_database_empty(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    store = await Store.open(url, migrate=False)
    try:
        async with store.engine.connect() as connection:
            tables = (
                await connection.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type='table'"
                )
            ).all()
    finally:
        await store.close()
    assert tables == []
