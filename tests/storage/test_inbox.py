"""The inbox: updates stored before they count as taken, pending until handled."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import Insert, event, text
from sqlalchemy.exc import DBAPIError

from bot.storage import Inbox, InboxEntry, Store

CHAT = 42


def entry(update_id: int, message_id: int | None = None) -> InboxEntry:
    payload = {"update_id": update_id, "message": {"message_id": message_id, "text": "hi"}}
    return InboxEntry(update_id, payload, None if message_id is None else CHAT, message_id)


async def test_put_stores_a_batch_and_skips_updates_sent_again(store: Store) -> None:
    inbox = Inbox(store)

    assert await inbox.put([entry(1, 10), entry(2, 11)]) == [1, 2]
    # Telegram sends 2 again (its offset was not confirmed before a crash) with a new one.
    assert await inbox.put([entry(2, 11), entry(3, 12)]) == [3]
    assert await inbox.put([]) == []

    pending = await inbox.take_pending()
    assert [e.update_id for e in pending] == [1, 2, 3]
    assert pending[0].payload == entry(1, 10).payload
    assert (pending[0].chat_id, pending[0].message_id) == (CHAT, 10)


async def test_handled_updates_are_no_longer_pending(store: Store) -> None:
    inbox = Inbox(store)
    await inbox.put([entry(1, 10), entry(2), entry(3, 12)])

    await inbox.mark_handled(2)
    await inbox.mark_handled(99)  # unknown: nothing happens

    assert [e.update_id for e in await inbox.take_pending()] == [1, 3]


async def test_pending_update_whose_message_is_stored_is_not_handled_again(store: Store) -> None:
    """The turn of update 1 was recorded before a crash (its reply is told "interrupted"):
    only update 2, fetched but never stored as a message, is taken again."""
    inbox = Inbox(store)
    await inbox.put([entry(1, 10), entry(2, 11)])
    await store.record_turn(CHAT, user_message="hi", telegram_message_id=10, model="m")

    assert [e.update_id for e in await inbox.take_pending()] == [2]
    assert [e.update_id for e in await inbox.take_pending()] == [2]  # 1 is marked handled


async def test_prune_deletes_only_old_handled_updates(store: Store) -> None:
    inbox = Inbox(store)
    await inbox.put([entry(1, 10), entry(2, 11)])
    await inbox.mark_handled(1)

    assert await inbox.prune(timedelta(days=1)) == 0  # handled, but received just now
    assert await inbox.prune(timedelta(seconds=-1)) == 1  # handled and "old": only 1
    assert [e.update_id for e in await inbox.take_pending()] == [2]
    # Deleted, so a copy sent again would be stored anew: prune only past Telegram's 24 hours.
    assert await inbox.put([entry(1, 10)]) == [1]


async def test_marks_asked_for_together_are_committed_together(store: Store) -> None:
    """20 turns ending at once: 20 marks, but one transaction for the first and one for all
    those that queued while it was written; each caller returns once its mark is committed."""
    inbox = Inbox(store)
    await inbox.put([entry(i, 100 + i) for i in range(1, 22)])
    commits = 0

    def count(_connection: object) -> None:
        nonlocal commits
        commits += 1

    event.listen(store.engine.sync_engine, "commit", count)
    try:
        await asyncio.gather(*(inbox.mark_handled(i) for i in range(1, 21)))
    finally:
        event.remove(store.engine.sync_engine, "commit", count)

    assert commits <= 2
    assert [e.update_id for e in await inbox.take_pending()] == [21]


async def test_a_failed_mark_raises_to_every_caller_of_its_batch(store: Store) -> None:
    inbox = Inbox(store)
    await inbox.put([entry(1, 10), entry(2, 11)])
    async with store._write() as session:  # the next writes fail: no such table
        await session.execute(text("ALTER TABLE inbox RENAME TO inbox_away"))

    results = await asyncio.gather(
        inbox.mark_handled(1), inbox.mark_handled(2), return_exceptions=True
    )

    # "no such table" (SQLite's OperationalError, PostgreSQL's ProgrammingError) for both.
    assert all(isinstance(result, DBAPIError) for result in results), results
    async with store._write() as session:
        await session.execute(text("ALTER TABLE inbox_away RENAME TO inbox"))
    await inbox.mark_handled(2)  # works again once the database does
    assert [e.update_id for e in await inbox.take_pending()] == [1]


async def test_storing_a_batch_reuses_the_compiled_statement(store: Store) -> None:
    """Batches of any size are one cached INSERT (SQLAlchemy compiles it once), not a new
    statement per batch."""
    inbox = Inbox(store)
    await inbox.put([entry(1, 10)])  # compiled: one row, and several
    await inbox.put([entry(2, 11), entry(3, 12)])
    seen: list[object] = []

    def after_execute(connection: Any, statement: Any, *args: Any) -> None:
        if isinstance(statement, Insert):
            seen.append(args[-1].context.cache_hit)  # args[-1]: the CursorResult

    event.listen(store.engine.sync_engine, "after_execute", after_execute)
    try:
        assert await inbox.put([entry(4, 13), entry(5, 14), entry(6, 15), entry(1, 10)]) == [
            4, 5, 6
        ]
        assert await inbox.put([entry(7, 16)]) == [7]
    finally:
        event.remove(store.engine.sync_engine, "after_execute", after_execute)

    cache_hit = store.engine.dialect.CACHE_HIT
    assert seen == [cache_hit, cache_hit]
