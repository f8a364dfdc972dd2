"""Migration 0003 (media): messages gain ``attachments``; data written at 0001 survives the
upgrade, and the downgrade to 0001 drops only the column."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from bot.storage import Store, create_engine, upgrade_to_head
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
async def test_0003_adds_attachments_and_keeps_older_messages(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)
    await downgrade(empty_database_url, "0001")
    assert "attachments" not in await _columns(empty_database_url)
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as connection:  # a message written by the 0001 schema
            await connection.execute(text(
                "INSERT INTO chats (id, type, settings, created_at) "
                "VALUES (7, 'private', '{}', CURRENT_TIMESTAMP)"))
            await connection.execute(text(
                "INSERT INTO conversations (chat_id, thread_id, created_at) "
                "VALUES (7, 0, CURRENT_TIMESTAMP)"))
            await connection.execute(text(
                "INSERT INTO messages (conversation_id, role, content, telegram_message_ids, "
                "status, created_at) SELECT id, 'user', 'old words', '[]', 'complete', "
                "CURRENT_TIMESTAMP FROM conversations"))
    finally:
        await engine.dispose()

    await upgrade_to_head(empty_database_url)

    assert await current_revision(empty_database_url) == head_revision()
    store = await Store.open(empty_database_url, migrate=False)
    try:
        [old] = await store.history(7)
        assert (old.content, old.attachments) == ("old words", [])
        photo = [{"kind": "photo", "file_id": "AgAC-1"}]
        await store.record_turn(7, user_message="", attachments=photo, model="m")
        history = await store.history(7)
        assert history[-2].attachments == photo and history[-2].content == ""
        # A photo without a caption is context (it has an attachment); the empty reply is not,
        # so the two user messages in a row are sent as one (roles alternate).
        assert await store.context(7) == [
            {"role": "user", "content": "old words", "attachments": photo},
        ]
    finally:
        await store.close()

    await downgrade(empty_database_url, "0001")
    assert "attachments" not in await _columns(empty_database_url)
    assert "content" in await _columns(empty_database_url)
