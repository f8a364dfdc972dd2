"""Migration 0005 (reasoning): messages gain ``reasoning``, kept apart from the content; data
written at 0003 survives the upgrade, and the downgrade to 0003 drops only the column."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from bot.storage import ReplyStatus, Store, create_engine, upgrade_to_head
from bot.storage.migrate import current_revision, downgrade, head_revision

from .conftest import BACKENDS

backends = pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)


async def _columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: {column["name"] for column in inspect(sync).get_columns("messages")}
            )
    finally:
        await engine.dispose()


@backends
async def test_0005_adds_reasoning_apart_from_the_history(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)
    await downgrade(empty_database_url, "0003")
    assert "reasoning" not in await _columns(empty_database_url)
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as connection:  # a reply written by the 0003 schema
            await connection.execute(text(
                "INSERT INTO chats (id, type, settings, created_at) "
                "VALUES (7, 'private', '{}', CURRENT_TIMESTAMP)"))
            await connection.execute(text(
                "INSERT INTO conversations (chat_id, thread_id, created_at) "
                "VALUES (7, 0, CURRENT_TIMESTAMP)"))
            for role, content in (("user", "old question"), ("assistant", "old answer")):
                await connection.execute(text(
                    "INSERT INTO messages (conversation_id, role, content, telegram_message_ids, "
                    f"status, created_at) SELECT id, '{role}', '{content}', '[]', 'complete', "
                    "CURRENT_TIMESTAMP FROM conversations"))
    finally:
        await engine.dispose()

    await upgrade_to_head(empty_database_url)

    assert await current_revision(empty_database_url) == head_revision()
    store = await Store.open(empty_database_url, migrate=False)
    try:
        old = await store.history(7)
        assert [(m.content, m.reasoning) for m in old] == [
            ("old question", None), ("old answer", None)]
        reply = await store.record_turn(7, user_message="new question", model="m")
        await store.update_reply(reply.id, content="new answer", reasoning="I thought hard.",
                                 status=ReplyStatus.COMPLETE)
        stored = await store.get_message(reply.id)
        assert stored is not None
        assert (stored.content, stored.reasoning) == ("new answer", "I thought hard.")
        context = await store.context(7)
        assert context[-1] == {"role": "assistant", "content": "new answer"}
        assert "I thought hard." not in repr(context)
    finally:
        await store.close()

    await downgrade(empty_database_url, "0003")
    assert "reasoning" not in await _columns(empty_database_url)
    assert "attachments" in await _columns(empty_database_url)
