"""Migration 0005 (reasoning): messages gain ``reasoning``, kept apart from the content; data
written at 0003 survives the upgrade, and the downgrade to 0003 drops only the column."""

from __future__ import annotations

import pytest

from bot.storage import ReplyStatus, Store, upgrade_to_head
from bot.storage.migrate import current_revision, downgrade, head_revision

from .conftest import BACKENDS
from .schema_helpers import columns, old_chat

backends = pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)


@backends
async def test_0005_adds_reasoning_apart_from_the_history(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)
    await downgrade(empty_database_url, "0003")
    assert "reasoning" not in await columns(empty_database_url)
    await old_chat(empty_database_url, 7, ("user", "old question"), ("assistant", "old answer"))

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
    assert "reasoning" not in await columns(empty_database_url)
    assert "attachments" in await columns(empty_database_url)
