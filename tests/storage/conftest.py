"""Fixtures: a migrated ``Store`` on SQLite (a temp file) and on PostgreSQL.

PostgreSQL comes from ``TEST_DATABASE_URL`` (a role that may CREATE DATABASE). The session gets
its own scratch database, migrated once and dropped at the end; each test starts from empty
tables (TRUNCATE ... RESTART IDENTITY). Without ``TEST_DATABASE_URL`` the PostgreSQL cases are
skipped, unless ``REQUIRE_POSTGRES=1``: then they fail, as they do when it is unreachable.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage import Store, upgrade_to_head

BACKENDS = ["sqlite", "postgresql"]
TABLES = "messages, conversations, chats, inbox, usage"
PREFIX = "storage_test_"
T = TypeVar("T")


def _postgres_server_url() -> str:
    """TEST_DATABASE_URL, or skip/fail as REQUIRE_POSTGRES says."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    required = os.environ.get("REQUIRE_POSTGRES") == "1"
    if not url:
        if required:
            pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set", pytrace=False)
        pytest.skip("TEST_DATABASE_URL is not set")
    return url


def run_in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on a fresh event loop in another thread, so a sync
    fixture never disturbs the test's own event loop."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


async def _admin(server_url: str, *statements: str) -> None:
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _scratch_names(server_url: str) -> list[str]:
    engine = create_async_engine(server_url)
    try:
        async with engine.connect() as connection:
            query = text(f"SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'")
            return list((await connection.execute(query)).scalars())
    finally:
        await engine.dispose()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PostgresScratch:
    """Creates and drops scratch databases next to TEST_DATABASE_URL's, named after the test
    process so that those of a killed run can be told apart and dropped."""

    def __init__(self, server_url: str):
        self.server_url = server_url

    def drop_stale(self) -> None:
        for name in run_in_thread(_scratch_names(self.server_url)):
            pid = name.removeprefix(PREFIX).split("_")[0]
            if pid.isdigit() and not _process_alive(int(pid)):
                self.drop(make_url(self.server_url).set(database=name).render_as_string(False))

    def create(self) -> str:
        name = f"{PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"
        run_in_thread(_admin(self.server_url, f'CREATE DATABASE "{name}"'))
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def create_migrated(self) -> str:
        """A new scratch database upgraded to the newest schema; its URL."""
        url = self.create()
        run_in_thread(upgrade_to_head(url))
        return url

    def drop(self, url: str) -> None:
        name = make_url(url).database
        statement = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        for attempt in range(50):
            try:
                run_in_thread(_admin(self.server_url, statement))
                return
            except DBAPIError:
                # FORCE cannot end an autovacuum worker that just visited the new database
                # (the bot role may not signal it); it finishes within moments.
                if attempt == 49:
                    raise
                time.sleep(0.1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresScratch]:
    server_url = _postgres_server_url()
    scratch = PostgresScratch(server_url)
    try:
        run_in_thread(_admin(server_url, "SELECT 1"))
    except Exception as error:
        message = f"PostgreSQL at TEST_DATABASE_URL is unreachable: {error!r}"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    scratch.drop_stale()
    yield scratch


@pytest.fixture(scope="session")
def postgres_store_url(postgres: PostgresScratch) -> Iterator[str]:
    """A scratch database migrated to head once for the whole session."""
    url = postgres.create_migrated()
    try:
        yield url
    finally:
        postgres.drop(url)


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database of the parametrised backend (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    postgres: PostgresScratch = request.getfixturevalue("postgres")
    url = postgres.create()
    try:
        yield url
    finally:
        postgres.drop(url)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a database migrated to head with empty tables."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    url: str = request.getfixturevalue("postgres_store_url")
    run_in_thread(_admin(url, f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """A migrated ``Store`` (closed after the test)."""
    opened = await Store.open(store_url)
    try:
        yield opened
    finally:
        await opened.close()
