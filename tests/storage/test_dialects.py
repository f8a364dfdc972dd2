"""A bot on SQLite never loads SQLAlchemy's PostgreSQL dialect; on PostgreSQL the models still
say JSONB and partial indexes, as the migrations build them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex

from bot.storage import create_engine
from bot.storage.models import PARTIAL_INDEXES, Base, InboxUpdate, Message

REPOSITORY = Path(__file__).resolve().parents[2]

# The bot's wiring imported, then a SQLite store used as a turn uses it: every statement
# (upserts of the inbox and of chats included) compiled at least once.
SQLITE_TURN = """
import asyncio, sys
import bot.app
from bot.storage import Inbox, InboxEntry, ReplyStatus, Store, upgrade_in_subprocess

async def main(url):
    await upgrade_in_subprocess(url)  # as bot.app does: Alembic in a child process
    store = await Store.open(url, migrate=False)
    inbox = Inbox(store)
    await inbox.put([InboxEntry(1, {"update_id": 1}, 5, 7)])
    await store.turn_context(5, pending="hi")
    reply = await store.record_turn(5, user_message="hi", telegram_message_id=7, model="m")
    await store.update_reply(reply.id, content="hello", status=ReplyStatus.COMPLETE)
    await inbox.mark_handled(1)
    assert [m.content for m in await store.history(5)] == ["hi", "hello"]
    await store.close()

asyncio.run(main(sys.argv[1]))
print(sorted(m for m in sys.modules if m.startswith("sqlalchemy.dialects.postgresql")))
"""


def test_sqlite_bot_never_imports_the_postgresql_dialect(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    result = subprocess.run(
        [sys.executable, "-c", SQLITE_TURN, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_postgresql_engine_gives_the_models_jsonb_and_partial_indexes() -> None:
    engine = create_engine("postgresql+asyncpg://bot@127.0.0.1:1/none")  # never connects
    dialect = postgresql.asyncpg.dialect()
    assert Message.__table__.c.attachments.type.compile(dialect=dialect) == "JSONB"
    assert InboxUpdate.__table__.c.payload.type.compile(dialect=dialect) == "JSONB"
    for table, name, condition in PARTIAL_INDEXES:
        (index,) = (i for i in Base.metadata.tables[table].indexes if i.name == name)
        ddl = str(CreateIndex(index).compile(dialect=dialect))
        assert ddl.endswith(f"WHERE {condition}"), ddl
    create_engine("postgresql+asyncpg://bot@127.0.0.1:1/none")  # a second engine: no change
    assert str(CreateIndex(index).compile(dialect=dialect)).count("WHERE") == 1
    engine.sync_engine.dispose()
