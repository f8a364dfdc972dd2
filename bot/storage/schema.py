"""Upgrading the schema without keeping Alembic in memory.

Alembic (about 11 MiB of resident memory once imported) is needed only while the schema is
upgraded. :func:`upgrade_to_head` imports it only when called; :func:`upgrade_in_subprocess`
runs ``python -m bot.storage upgrade`` in a child process, so a long-running bot never loads it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

#: The folder holding the ``bot`` package, so the child finds it even when the project is not
#: installed and the working directory is elsewhere.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class SchemaUpgradeError(RuntimeError):
    """The database could not be upgraded; the message says why (the child's last line)."""


async def upgrade_to_head(url: str) -> None:
    """Upgrade the database at ``url`` to the newest migration, in this process."""
    from .migrate import upgrade_to_head as upgrade

    await upgrade(url)


async def upgrade_in_subprocess(url: str) -> None:
    """Upgrade the database at ``url`` to the newest migration in a child process.

    The URL travels in the child's environment (``DATABASE_URL``), never on its command line
    (where other users could read a password). Raises SchemaUpgradeError with the last line of
    the child's error output (one line naming the database and the problem) when the upgrade
    fails.
    """
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


def _python_path() -> str:
    paths = [str(PACKAGE_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return os.pathsep.join(paths)
