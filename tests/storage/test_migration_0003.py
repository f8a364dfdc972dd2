"""Migration 0003 (media): messages gain ``attachments``; data written at 0001 survives the
upgrade, and the downgrade to 0001 drops only the column."""

from __future__ import annotations

import pytest

from bot.storage import Store, upgrade_to_head
from bot.storage.migrate import current_revision, downgrade, head_revision

from .conftest import BACKENDS
from .schema_helpers import columns, old_chat

backends = pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)


@backends
async def test_0003_adds_attachments_and_keeps_older_messages(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)
    await downgrade(empty_database_url, "0001")
    assert "attachments" not in await columns(empty_database_url)
    await old_chat(empty_database_url, 7, ("user", "old words"))  # by the 0001 schema

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
    assert "attachments" not in await columns(empty_database_url)
    assert "content" in await columns(empty_database_url)
