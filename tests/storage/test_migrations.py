"""Alembic: empty -> head gives the models' schema; downgrade and upgrade again; the CLI."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from bot.storage import Inbox, InboxEntry, Store, create_engine, upgrade_to_head
from bot.storage.migrate import current_revision, downgrade, head_revision, include_name
from bot.storage.models import Base

from .conftest import BACKENDS

REPOSITORY = Path(__file__).resolve().parents[2]
TABLES = {"chats", "conversations", "messages", "inbox", "usage"}

backends = pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)


async def _schema(url: str) -> tuple[set[str], list[object]]:
    """The database's table names and its differences from the models (Alembic's view)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:

            def inspect_schema(sync_connection: object) -> tuple[set[str], list[object]]:
                context = MigrationContext.configure(
                    sync_connection,
                    opts={"compare_type": True, "include_name": include_name},  # type: ignore[arg-type]
                )
                tables = set(inspect(sync_connection).get_table_names())
                return tables, compare_metadata(context, Base.metadata)

            return await connection.run_sync(inspect_schema)
    finally:
        await engine.dispose()


@backends
async def test_upgrade_from_empty_gives_the_models_schema(empty_database_url: str) -> None:
    assert await current_revision(empty_database_url) is None

    await upgrade_to_head(empty_database_url)

    tables, differences = await _schema(empty_database_url)
    assert tables >= TABLES
    assert differences == []
    assert await current_revision(empty_database_url) == head_revision() == "0007"


@backends
async def test_downgrade_to_base_and_upgrade_again(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)

    assert await downgrade(empty_database_url, "base") is None
    tables, _ = await _schema(empty_database_url)
    assert tables & TABLES == set()

    await upgrade_to_head(empty_database_url)
    tables, differences = await _schema(empty_database_url)
    assert tables >= TABLES and differences == []
    store = await Store.open(empty_database_url)
    try:
        message = await store.append_user_message(1, "works after the round trip")
        assert await store.history(1) == [message]
    finally:
        await store.close()


@backends
async def test_upgrade_at_head_keeps_the_data(empty_database_url: str) -> None:
    store = await Store.open(empty_database_url)
    try:
        message = await store.append_user_message(1, "kept")
    finally:
        await store.close()

    await upgrade_to_head(empty_database_url)

    store = await Store.open(empty_database_url)
    try:
        assert await store.history(1) == [message]
    finally:
        await store.close()


@backends
async def test_inbox_migration_up_and_down_keeps_the_conversations(
    empty_database_url: str,
) -> None:
    """0002 adds the inbox; going below it drops only the inbox, and coming back keeps the
    conversations written before."""
    await upgrade_to_head(empty_database_url)
    store = Store(create_engine(empty_database_url))
    try:
        message = await store.append_user_message(1, "written at head")
        assert await Inbox(store).put([InboxEntry(7, {"update_id": 7}, 1, 70)]) == [7]
    finally:
        await store.close()

    assert await downgrade(empty_database_url, "0001") == "0001"
    tables, _ = await _schema(empty_database_url)
    assert "inbox" not in tables and tables >= TABLES - {"inbox", "usage"}

    await upgrade_to_head(empty_database_url)
    tables, differences = await _schema(empty_database_url)
    assert "inbox" in tables and differences == []
    store = Store(create_engine(empty_database_url))
    try:
        assert [m.content for m in await store.history(1)] == [message.content]
        assert await Inbox(store).take_pending() == []  # the inbox starts empty again
    finally:
        await store.close()


async def test_upgrade_finds_migrations_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    await upgrade_to_head("sqlite+aiosqlite:///nested/dir/bot.db")

    assert (tmp_path / "nested" / "dir" / "bot.db").is_file()
    tables, differences = await _schema("sqlite+aiosqlite:///nested/dir/bot.db")
    assert tables >= TABLES and differences == []


def _cli(
    *args: str, cwd: Path, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")]))
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "bot.storage", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_command_upgrades_the_default_database_alone(tmp_path: Path) -> None:
    upgraded = _cli("upgrade", cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "now at 0007" in upgraded.stdout
    assert (tmp_path / "data" / "bot.db").is_file()

    current = _cli("current", cwd=tmp_path)
    assert current.returncode == 0, current.stderr
    assert "at 0007; head is 0007" in current.stdout


def test_command_reads_database_url_and_downgrades(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'elsewhere.db'}"
    assert _cli("upgrade", cwd=tmp_path, database_url=url).returncode == 0
    assert (tmp_path / "elsewhere.db").is_file() and not (tmp_path / "data").exists()

    downgraded = _cli("downgrade", "base", cwd=tmp_path, database_url=url)
    assert downgraded.returncode == 0, downgraded.stderr
    assert "now at base" in downgraded.stdout
    assert "at base (empty)" in _cli("current", cwd=tmp_path, database_url=url).stdout


def test_command_reports_errors_with_a_nonzero_status(tmp_path: Path) -> None:
    failed = _cli("--database-url", "nonsense://", "upgrade", cwd=tmp_path)
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: ")


@backends
async def test_concurrent_upgrades_take_turns(empty_database_url: str) -> None:
    """Several processes starting at once each upgrade: one creates the schema, the others
    find it at head (no "table already exists", no "database is locked")."""
    await asyncio.gather(*(upgrade_to_head(empty_database_url) for _ in range(3)))

    tables, differences = await _schema(empty_database_url)
    assert tables >= TABLES and differences == []
    assert await current_revision(empty_database_url) == head_revision()
    if empty_database_url.startswith("sqlite"):
        with closing(sqlite3.connect(make_url(empty_database_url).database or "")) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
