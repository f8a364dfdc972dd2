"""Database URLs and engines: SQLite (aiosqlite) by default, PostgreSQL (asyncpg) when asked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/bot.db"
BUSY_TIMEOUT_MS = 5000
"""How long (milliseconds) SQLite waits for another writer's lock before "database is locked"."""

WRITE = {"storage_write": True}
"""Execution options of a unit of work that writes: on SQLite it starts with BEGIN IMMEDIATE,
taking the write lock up front (waiting up to the busy timeout) instead of failing at once with
SQLITE_BUSY when a read transaction later tries to write (sqlite.org/lang_transaction.html)."""


def default_database_url() -> str:
    """The URL used when ``DATABASE_URL`` is not set: ``sqlite+aiosqlite:///data/bot.db``
    (a path relative to the working directory)."""
    return DEFAULT_DATABASE_URL


def database_url_from_env() -> str:
    """``DATABASE_URL`` from the environment, or ``default_database_url()`` when unset/empty."""
    return os.environ.get("DATABASE_URL") or default_database_url()


def create_engine(url: str, *, foreign_keys: bool = True, **kwargs: Any) -> AsyncEngine:
    """An ``AsyncEngine`` for ``url`` (``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://``).

    SQLite: the database file's parent directory is created if missing, and every new
    connection gets ``journal_mode=WAL``, ``busy_timeout`` of ``BUSY_TIMEOUT_MS``,
    ``synchronous=NORMAL`` (safe in WAL mode: a power loss can lose the last commits, never
    corrupt the file) and ``foreign_keys=ON`` (``foreign_keys=False`` is for migrations, whose
    batch table rebuilds must not cascade). SQLAlchemy emits BEGIN itself (the sqlite3 module's
    own transaction control is off), ``BEGIN IMMEDIATE`` for units of work run with ``WRITE``.
    Extra ``kwargs`` go to ``create_async_engine``. Raises ``sqlalchemy.exc.ArgumentError`` for
    a malformed URL.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        from .models import add_postgresql_options

        add_postgresql_options()
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(parsed, **kwargs)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed, **kwargs)
    _configure_sqlite(engine, foreign_keys=foreign_keys)
    return engine


def _configure_sqlite(engine: AsyncEngine, *, foreign_keys: bool) -> None:
    pragmas = (
        f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
        "PRAGMA synchronous=NORMAL",
        f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}",
    )
    locked = engine.dialect.loaded_dbapi.OperationalError
    dbapi_error = engine.dialect.loaded_dbapi.Error

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (its legacy mode does not
        # BEGIN before SELECT); the "begin" hook below emits BEGIN instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except locked as error:
            # Only a new database's first connections race to switch it (the mode is stored
            # in the file: a no-op once set); the winner's switch serves this connection too.
            if "locked" not in str(error):
                raise
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get("storage_write", False)
        begin = "BEGIN IMMEDIATE" if writes else "BEGIN"
        # Straight to aiosqlite (SQLAlchemy's AdaptedConnection.run_async): one hop to its
        # thread, where SQLAlchemy's cursor (open, execute, close) takes three. Its errors
        # ("database is locked" past the busy timeout) are wrapped as SQLAlchemy wraps a
        # statement's, so that callers (and bot.storage.retry) see the same exceptions.
        adapted = connection.connection.dbapi_connection
        try:
            adapted.run_async(lambda driver: driver.execute(begin))  # type: ignore[union-attr]
        except dbapi_error as error:
            raise DBAPIError.instance(begin, None, error, dbapi_error) from error


def describe_database_error(error: BaseException, url: str) -> str:
    """One line naming the database (password hidden) and what went wrong.

    For a SQLAlchemy error the driver's own message is used (SQLAlchemy's adds a line of SQL
    parameters and a "Background on this error" link), e.g. ``SQLite database data/bot.db:
    attempt to write a readonly database (is the file, and its folder, writable by uid 10001?)``.
    """
    parsed = make_url(url)
    cause: BaseException = getattr(error, "orig", None) or error
    reason = " ".join(str(cause).split()) or type(cause).__name__
    if parsed.get_backend_name() == "sqlite":
        where = f"SQLite database {parsed.database or ':memory:'}"
        if "readonly" in reason or "unable to open" in reason:
            reason += f" (is the file, and its folder, writable by uid {os.getuid()}?)"
    else:
        where = f"database {parsed.render_as_string(hide_password=True)}"
    return f"{where}: {reason}"
