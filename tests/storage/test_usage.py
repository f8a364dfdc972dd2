"""Migration 0006 (usage) and the usage figures: a reply's tokens and cost ride on the write of
its final state, survive ``/forget`` and a group's move to a supergroup, and add up per user and
per chat for a day and a month (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text

from bot.storage import ReplyStatus, Store, create_engine, upgrade_to_head
from bot.storage.migrate import current_revision, downgrade, head_revision
from bot.storage.records import UsageEntry
from bot.storage.usage import UsageStore, UsageTotals

from .conftest import BACKENDS

backends = pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


@backends
async def test_0006_adds_usage_and_keeps_older_messages(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)
    await downgrade(empty_database_url, "0005")
    assert "usage" not in await _tables(empty_database_url)
    store = await Store.open(empty_database_url, migrate=False)
    try:  # a turn written by the 0005 schema
        reply = await store.record_turn(7, user_message="old words", model="m")
    finally:
        await store.close()

    await upgrade_to_head(empty_database_url)

    assert await current_revision(empty_database_url) == head_revision()
    store = await Store.open(empty_database_url, migrate=False)
    try:
        assert [m.content for m in await store.history(7)] == ["old words", ""]
        usage = UsageEntry(7, 42, prompt_tokens=10, completion_tokens=5, cost=0.25)
        await store.update_reply(reply.id, content="an answer", usage=usage)
        now = datetime.now(UTC)
        hour_ago = now - timedelta(hours=1)
        day, month = await UsageStore(store.engine).totals(hour_ago, hour_ago, user_id=42)
        assert day == month == UsageTotals(1, 0, 10, 5, 0.25)
    finally:
        await store.close()

    await downgrade(empty_database_url, "0005")
    assert "usage" not in await _tables(empty_database_url)
    assert "messages" in await _tables(empty_database_url)


T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
DAY = datetime(2026, 11, 29, tzinfo=UTC)
MONTH = datetime(2026, 11, 1, tzinfo=UTC)


async def _usage_at(store: Store, when: datetime, chat_id: int, user_id: int | None,
                    prompt: int | None, completion: int | None, cost: float | None) -> None:
    """A usage row as ``update_reply`` writes it, then dated ``when``."""
    reply = await store.record_turn(chat_id, user_message="q", model="m")
    entry = UsageEntry(chat_id, user_id, prompt, completion, cost)
    await store.update_reply(reply.id, status=ReplyStatus.COMPLETE, usage=entry)
    async with store.engine.begin() as connection:
        stamp = when if store.engine.dialect.name == "postgresql" else when.replace(tzinfo=None)
        await connection.execute(
            text("UPDATE usage SET created_at = :when WHERE id = (SELECT max(id) FROM usage)"),
            {"when": stamp},
        )


async def test_totals_per_user_and_chat_for_the_day_and_the_month(store: Store) -> None:
    await _usage_at(store, T0, 1, 42, 100, 20, 0.5)           # today, chat 1
    await _usage_at(store, T0, 2, 42, None, None, None)       # today, no usage reported
    await _usage_at(store, DAY - timedelta(days=3), 1, 42, 1000, 1, None)  # this month
    await _usage_at(store, MONTH - timedelta(days=1), 1, 42, 7, 7, 7.0)    # last month
    await _usage_at(store, T0, 1, 43, 5, 5, None)             # someone else, chat 1
    usage = UsageStore(store.engine)

    day, month = await usage.totals(DAY, MONTH, user_id=42)
    assert day == UsageTotals(replies=2, unknown=1, prompt_tokens=100, completion_tokens=20,
                              cost=0.5)
    assert month == UsageTotals(3, 1, 1100, 21, 0.5)
    assert await usage.tokens_used(42, DAY, MONTH) == (120, 1121)

    day, month = await usage.totals(DAY, MONTH, chat_id=1)
    assert day == UsageTotals(2, 0, 105, 25, 0.5)
    assert month == UsageTotals(3, 0, 1105, 26, 0.5)
    assert await usage.totals(DAY, MONTH, user_id=99) == (UsageTotals(), UsageTotals())

    top = await usage.top_users(MONTH)
    assert [(user.user_id, user.totals.tokens) for user in top] == [(42, 1121), (43, 10)]
    in_chat_2 = await usage.top_users(MONTH, chat_id=2)
    assert [(user.user_id, user.totals.replies) for user in in_chat_2] == [(42, 1)]
    with pytest.raises(ValueError, match="exactly one"):
        await usage.totals(DAY, MONTH)


async def test_usage_survives_forget_and_moves_with_a_group(store: Store) -> None:
    await _usage_at(store, T0, -5, 42, 10, 10, None)
    assert await store.delete_chat(-5) == 2  # /forget: the messages go
    usage = UsageStore(store.engine)
    assert await usage.tokens_used(42, DAY, MONTH) == (20, 20)  # the budget does not reset

    await _usage_at(store, T0, -6, 42, 1, 2, None)
    assert await store.move_chat(-6, -1006)
    _, month = await usage.totals(DAY, MONTH, chat_id=-1006)
    assert month.replies == 1 and month.tokens == 3


async def test_usage_of_a_reply_deleted_meanwhile_is_kept(store: Store) -> None:
    reply = await store.record_turn(8, user_message="q", model="m")
    await store.delete_chat(8)  # /forget while the reply was written
    with pytest.raises(LookupError):
        await store.update_reply(reply.id, content="late", usage=UsageEntry(8, 42, 3, 4))
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert await UsageStore(store.engine).tokens_used(42, hour_ago, hour_ago) == (7, 7)
