"""The statements a turn's storage work sends (SQLite and PostgreSQL): as few as the work needs,
built once, and the first message of a chat still creates what it needs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from bot.storage import ReplyStatus, Store
from bot.storage.queries import append_to_current, update_message


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL statements (first word and table) the store sends through SQLAlchemy's cursor
    while the block runs (``BEGIN`` on SQLite goes to the driver directly and is not seen)."""
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        sent.append(" ".join(sql.split()[:3]))

    event.listen(store.engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", seen)


async def test_a_turn_in_an_existing_conversation_sends_one_statement_per_message(
    store: Store,
) -> None:
    await store.record_turn(5, user_message="first", model="m")

    with statements(store) as sent:
        reply = await store.record_turn(5, user_message="second", telegram_message_id=9, model="m")
        await store.update_reply(reply.id, content="partial")
        await store.update_reply(reply.id, content="done", status=ReplyStatus.COMPLETE)

    # The user message and the empty reply (INSERT ... SELECT each; no chat upsert: the
    # conversation's chat exists), then one UPDATE per change.
    assert sent == ["INSERT INTO messages"] * 2 + ["UPDATE messages SET"] * 2
    history = await store.history(5)
    assert [(m.role, m.content, m.status) for m in history][-2:] == [
        ("user", "second", ReplyStatus.COMPLETE),
        ("assistant", "done", ReplyStatus.COMPLETE),
    ]
    assert history[-2].telegram_message_ids == [9]


async def test_the_first_turn_of_a_group_creates_the_chat_with_its_type(store: Store) -> None:
    reply = await store.record_turn(-100, chat_type="group", thread_id=3, user_message="hi")

    chat = await store.get_chat(-100)
    assert chat is not None and chat.type == "group"
    assert reply.thread_id == 3 and reply.status is ReplyStatus.STREAMING
    assert [m.content for m in await store.history(-100, 3)] == ["hi", ""]
    assert await store.history(-100, 0) == []  # another topic: nothing


async def test_a_missing_message_is_reported_with_or_without_changes(store: Store) -> None:
    with pytest.raises(LookupError, match="12345"):
        await store.update_reply(12345, content="x")
    with pytest.raises(LookupError, match="12345"):
        await store.update_reply(12345)


def test_statements_are_built_once_per_set_of_columns() -> None:
    assert append_to_current(("role", "content")) is append_to_current(("role", "content"))
    assert update_message(("content",)) is update_message(("content",))
    assert update_message(("content",)) is not update_message(("content", "status"))
