"""Upgrading the schema without keeping Alembic in memory.

Alembic (about 11 MiB of resident memory once imported) is needed only while the schema is
upgraded. :func:`upgrade_to_head` imports it only when called; :func:`upgrade_in_subprocess`
runs ``python -m bot.storage upgrade`` in a child process, so a long-running bot never loads it,
and starts no child at all when the database is already at :func:`head_revision` (one query).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from .engine import create_engine

#: The folder holding the ``bot`` package, so the child finds it even when the project is not
#: installed and the working directory is elsewhere.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


#: The Alembic scripts (``migrations/versions``).
VERSIONS = PACKAGE_ROOT / "migrations" / "versions"

_REVISION = re.compile(r"^(down_revision|revision)\b[^=\n]*=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def head_revision(versions: Path = VERSIONS) -> str | None:
    """The newest revision id among the migration scripts in ``versions``, read from their
    ``revision = "..."`` and ``down_revision = ...`` lines without importing Alembic: the one
    revision no other script revises. ``None`` when that is not exactly one (no scripts, or
    several heads): then start-up lets the upgrade child decide.
    ``tests/storage/test_schema_skip.py`` checks it against Alembic's own head.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in versions.glob("*.py"):
        for name, value in _REVISION.findall(script.read_text(encoding="utf-8")):
            found = set(_QUOTED.findall(value))
            (revisions if name == "revision" else revised).update(found)
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None


class SchemaUpgradeError(RuntimeError):
    """The database could not be upgraded; the message says why (the child's last line)."""


async def upgrade_to_head(url: str) -> None:
    """Upgrade the database at ``url`` to the newest migration, in this process."""
    from .migrate import upgrade_to_head as upgrade

    await upgrade(url)


async def stored_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at, read from Alembic's ``alembic_version``
    table without Alembic; ``None`` when there is none (an empty database) or it cannot be read
    (then the upgrade child says why)."""
    try:
        engine = create_engine(url, poolclass=NullPool)
    except (SQLAlchemyError, OSError):  # a malformed URL, a database folder we cannot create
        return None
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            revisions = rows.scalars().all()
    except (SQLAlchemyError, OSError):
        return None
    finally:
        await engine.dispose()
    return revisions[0] if len(revisions) == 1 else None


async def upgrade_in_subprocess(url: str) -> bool:
    """Upgrade the database at ``url`` to the newest migration in a child process.

    Returns False, starting no child, when the database is already at :func:`head_revision`
    (the usual restart: the child costs about 0.35 s of CPU and 60 MiB); True after an upgrade.
    The URL travels in the child's environment (``DATABASE_URL``), never on its command line
    (where other users could read a password). Raises SchemaUpgradeError with the last line of
    the child's error output (one line naming the database and the problem) when the upgrade
    fails.
    """
    head = head_revision()
    if head is not None and await stored_revision(url) == head:
        return False
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.storage",
        "upgrade",
        env={**os.environ, "DATABASE_URL": url, "PYTHONPATH": _python_path()},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, error = await process.communicate()
    if process.returncode != 0:
        lines = error.decode(errors="replace").strip().splitlines()
        reason = lines[-1].removeprefix("error: ") if lines else f"exit {process.returncode}"
        raise SchemaUpgradeError(f"database upgrade failed: {reason}")
    return True


def _python_path() -> str:
    paths = [str(PACKAGE_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return os.pathsep.join(paths)
