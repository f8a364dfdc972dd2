"""Alembic, run programmatically: upgrade to head at start-up, downgrade, current revision.

The scripts live in the ``migrations`` package and are found through its path, so this works
from any working directory and when the project is installed. Alembic's commands are
synchronous; they run on one connection of an async engine through ``run_sync`` (the Alembic
cookbook's "programmatic API use with asyncio"), which ``migrations/env.py`` picks up from
``Config.attributes["connection"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from .engine import WRITE, create_engine

MIGRATION_LOCK_KEY = 0x626F7473746F7265  # PostgreSQL advisory lock key ("botstore")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's ``include_name`` hook: the job queue's tables (``procrastinate_*``, made by
    revision 0007 from procrastinate's own SQL) are not the models', so autogenerate and
    schema comparisons leave them out."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))


def migrations_path() -> Path:
    """The folder of the Alembic scripts (the ``migrations`` package)."""
    import migrations

    return Path(migrations.__file__).resolve().parent


def alembic_config(url: str) -> Config:
    """An Alembic ``Config`` for ``url`` without an ini file (so no logging is reconfigured)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    # ConfigParser interpolation: a literal "%" in a password must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def _run(url: str, action: str, revision: str) -> str | None:
    config = alembic_config(url)
    engine = create_engine(url, foreign_keys=False, poolclass=NullPool)

    def run(connection: Connection) -> str | None:
        config.attributes["connection"] = connection
        if action == "upgrade":
            command.upgrade(config, revision)
        elif action == "downgrade":
            command.downgrade(config, revision)
        return MigrationContext.configure(connection).get_current_revision()

    try:
        async with engine.connect() as connection:
            # Two processes migrating at once take turns: SQLite's BEGIN IMMEDIATE (WRITE),
            # a transaction-scoped advisory lock on PostgreSQL.
            await connection.execution_options(**WRITE)
            async with connection.begin():
                if connection.dialect.name == "postgresql":
                    lock = text("SELECT pg_advisory_xact_lock(:key)")
                    await connection.execute(lock, {"key": MIGRATION_LOCK_KEY})
                return await connection.run_sync(run)
    finally:
        await engine.dispose()


async def upgrade_to_head(url: str) -> None:
    """Upgrade the database at ``url`` to the newest migration (creates the tables if empty).

    One transaction; concurrent callers (several processes starting at once) take turns.
    SQLite runs it with ``foreign_keys=OFF`` (batch table rebuilds must not cascade). Raises
    SQLAlchemy/Alembic errors unchanged (e.g. an unreachable server).
    """
    await _run(url, "upgrade", "head")


async def upgrade(url: str, revision: str = "head") -> str | None:
    """Upgrade to ``revision``; returns the revision the database is at afterwards."""
    return await _run(url, "upgrade", revision)


async def downgrade(url: str, revision: str) -> str | None:
    """Downgrade to ``revision`` ("base" drops every table); returns the revision after it."""
    return await _run(url, "downgrade", revision)


async def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at (``None`` for an empty database)."""
    return await _run(url, "current", "")


def head_revision() -> str | None:
    """The newest revision among the migration scripts."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
