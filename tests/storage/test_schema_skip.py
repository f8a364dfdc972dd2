"""Start-up skips the schema-upgrade child when the database is already at the newest revision."""

from __future__ import annotations

import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest

from bot.storage import SchemaUpgradeError, upgrade_in_subprocess
from bot.storage.migrate import head_revision
from bot.storage.schema import HEAD_REVISION, stored_revision

from .conftest import BACKENDS

backends = pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)


def test_head_revision_is_alembics_head() -> None:
    # A new migration must update HEAD_REVISION, or every start would skip the upgrade.
    assert HEAD_REVISION == head_revision()


@backends
async def test_an_empty_database_is_upgraded_in_a_child_then_skipped(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert await stored_revision(empty_database_url) is None

    assert await upgrade_in_subprocess(empty_database_url) is True
    assert await stored_revision(empty_database_url) == HEAD_REVISION

    # No child this time: with no Python to start, the up-to-date database still passes.
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    assert await upgrade_in_subprocess(empty_database_url) is False
    assert await stored_revision(empty_database_url) == HEAD_REVISION


async def test_a_database_at_another_revision_goes_to_the_child(tmp_path: Path) -> None:
    # e.g. a database a newer version of the bot upgraded: the child (Alembic) says what is wrong.
    database = tmp_path / "newer.db"
    with closing(sqlite3.connect(database)) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        connection.execute("INSERT INTO alembic_version VALUES ('9999')")
        connection.commit()
    url = f"sqlite+aiosqlite:///{database}"
    assert await stored_revision(url) == "9999"

    with pytest.raises(SchemaUpgradeError, match="9999"):
        await upgrade_in_subprocess(url)


async def test_an_unusable_database_goes_to_the_child_which_says_why(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    url = f"sqlite+aiosqlite:///{tmp_path / 'a-file' / 'bot.db'}"
    assert await stored_revision(url) is None

    with pytest.raises(SchemaUpgradeError, match="database upgrade failed"):
        await upgrade_in_subprocess(url)
