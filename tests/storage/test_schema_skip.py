"""Start-up skips the schema-upgrade child when the database is already at the newest revision."""

from __future__ import annotations

import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest

from bot.storage import SchemaUpgradeError, migrate, upgrade_in_subprocess
from bot.storage.schema import head_revision, stored_revision

from .conftest import BACKENDS

backends = pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)


def test_head_revision_is_alembics_head() -> None:
    # Read from the scripts without Alembic; it must agree, or a start would skip an upgrade.
    assert head_revision() is not None
    assert head_revision() == migrate.head_revision()


def _script(folder: Path, name: str, revision: str, down: str) -> None:
    (folder / name).write_text(
        f'"""{name}"""\n\nrevision: str = "{revision}"\ndown_revision: str | None = {down}\n'
        "branch_labels = None\n"
    )


def test_head_revision_reads_the_chain_and_gives_up_on_several_heads(tmp_path: Path) -> None:
    assert head_revision(tmp_path) is None  # no scripts
    _script(tmp_path, "0001_a.py", "0001", "None")
    _script(tmp_path, "0002_b.py", "0002", '"0001"')
    _script(tmp_path, "0003_c.py", "0003", '"0002"')
    assert head_revision(tmp_path) == "0003"
    _script(tmp_path, "0004_d.py", "0004", '"0002"')  # a second branch from 0002
    assert head_revision(tmp_path) is None  # two heads: the upgrade child decides
    _script(tmp_path, "0005_merge.py", "0005", '("0003", "0004")')
    assert head_revision(tmp_path) == "0005"


@backends
async def test_an_empty_database_is_upgraded_in_a_child_then_skipped(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert await stored_revision(empty_database_url) is None

    assert await upgrade_in_subprocess(empty_database_url) is True
    assert await stored_revision(empty_database_url) == head_revision()

    # No child this time: with no Python to start, the up-to-date database still passes.
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    assert await upgrade_in_subprocess(empty_database_url) is False
    assert await stored_revision(empty_database_url) == head_revision()


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
