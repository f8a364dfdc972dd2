"""Usage and budgets through the service (no Telegram): a reply's ``Usage`` chunk is stored with
it, a reply without one counts with unknown tokens, a user over a budget is refused before the
provider is asked, and a budget reached in the middle of a reply lets it finish."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.budget import Budget, period_starts
from bot.console import ConsoleSink
from bot.service import ChatService, ChatTarget
from bot.settings import Settings
from bot.storage import ReplyStatus, Store
from bot.storage.records import UsageEntry
from bot.storage.usage import UsageStore, UsageTotals
from bot.usage import describe
from providers import ModelRegistry, Usage
from tests.fakes.scripted import MODEL, Scripted, scripted_provider

USER, ADMIN = 501, 502
CHAT = ChatTarget(7001)


def settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, telegram_bot_token="1:test", default_model=MODEL,  # type: ignore[call-arg]
                    admin_user_ids=str(ADMIN), **overrides)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    yield store
    await store.close()


@pytest.fixture
def provider() -> type[Scripted]:
    return scripted_provider()


def service(store: Store, provider: type[Scripted], **overrides: object) -> ChatService:
    return ChatService(store, ModelRegistry([provider]), settings(**overrides))


def month_of_now() -> tuple[datetime, datetime]:
    return period_starts(datetime.now(UTC))


async def test_a_reply_stores_the_usage_its_provider_reported(
    store: Store, provider: type[Scripted]
) -> None:
    chats = service(store, provider)
    provider.push("Hello ", "there", Usage(12, 3, 0.0021))
    out = io.StringIO()
    result = await chats.run_turn(CHAT, "hi", ConsoleSink(out), user_id=USER)
    assert (result.status, result.text) == (ReplyStatus.COMPLETE, "Hello there")
    assert out.getvalue() == "Hello there\n"  # the usage is not shown as text
    day, month = month_of_now()
    assert await chats.usage.totals(day, month, user_id=USER) == (
        UsageTotals(1, 0, 12, 3, 0.0021), UsageTotals(1, 0, 12, 3, 0.0021)
    )
    assert (await chats.usage.totals(day, month, chat_id=CHAT.chat_id))[0].tokens == 15


async def test_a_reply_without_usage_counts_with_unknown_tokens(
    store: Store, provider: type[Scripted]
) -> None:
    chats = service(store, provider)
    provider.push("no usage here")
    await chats.run_turn(CHAT, "hi", ConsoleSink(io.StringIO()), user_id=USER)
    today, _ = await chats.usage.totals(*month_of_now(), user_id=USER)
    assert today == UsageTotals(replies=1, unknown=1)  # no token count invented
    assert describe(today) == "1 reply; 1 of them without a token count"


def test_usage_wording_is_plural_correct() -> None:
    assert describe(UsageTotals()) == "no replies"
    assert describe(UsageTotals(1, 0, 1, 0)) == "1 reply, 1 token (1 in, 0 out)"
    assert describe(UsageTotals(3, 2, 1000, 234, 0.5)) == (
        "3 replies, 1,234 tokens (1,000 in, 234 out), cost 0.5000; "
        "2 of them without a token count"
    )


async def test_budget_reached_mid_reply_finishes_it_and_refuses_the_next(
    store: Store, provider: type[Scripted]
) -> None:
    chats = service(store, provider, daily_token_limit=100)
    provider.push("a long answer", Usage(90, 60))  # 150 tokens: over the limit in this reply
    first = await chats.run_turn(CHAT, "write a lot", ConsoleSink(io.StringIO()), user_id=USER)
    assert (first.status, first.text) == (ReplyStatus.COMPLETE, "a long answer")

    out = io.StringIO()
    second = await chats.run_turn(CHAT, "and more", ConsoleSink(out), user_id=USER)
    assert second.status is ReplyStatus.FAILED and second.text == ""
    assert "daily budget of 100 tokens (150 used)" in out.getvalue()
    assert "resets at midnight UTC" in out.getvalue()
    assert len(provider.requests) == 1  # the provider was not asked again
    # Nothing of the refused turn is stored: the history ends with the first reply.
    assert [m.content for m in await store.history(CHAT.chat_id)] == ["write a lot",
                                                                      "a long answer"]
    # /retry is refused too, and keeps the reply it would replace.
    assert (await chats.retry(CHAT, ConsoleSink(io.StringIO()), user_id=USER)).status is (
        ReplyStatus.FAILED)
    assert len(await store.history(CHAT.chat_id)) == 2

    # Admins, other users and unknown senders have their own (or no) budget.
    for user in (ADMIN, USER + 1, None):
        provider.push("fine", Usage(200, 200))
        result = await chats.run_turn(CHAT, "hi", ConsoleSink(io.StringIO()), user_id=user)
        assert result.status is ReplyStatus.COMPLETE
    assert len(provider.requests) == 4


async def test_no_budget_set_means_no_query(store: Store, provider: type[Scripted]) -> None:
    chats = service(store, provider)
    assert not chats.budget.applies_to(USER)
    await store.close()  # a query would now fail
    assert await chats.budget.refusal(USER) is None


async def _usage_at(store: Store, when: datetime, user_id: int, tokens: int) -> None:
    reply = await store.record_turn(CHAT.chat_id, user_message="q", model="m")
    await store.update_reply(reply.id, usage=UsageEntry(CHAT.chat_id, user_id, tokens, 0))
    async with store.engine.begin() as connection:
        await connection.execute(
            text("UPDATE usage SET created_at = :when WHERE id = (SELECT max(id) FROM usage)"),
            {"when": when.replace(tzinfo=None)},
        )


async def test_refusals_say_when_the_budget_resets(store: Store) -> None:
    now = datetime(2026, 12, 31, 21, 40, 30, tzinfo=UTC)
    await _usage_at(store, now - timedelta(hours=1), USER, 600)
    await _usage_at(store, datetime(2026, 12, 2, tzinfo=UTC), USER, 3000)
    await _usage_at(store, datetime(2026, 11, 30, tzinfo=UTC), USER, 99_999)  # last month

    usage = UsageStore(store.engine)
    daily = Budget(settings(daily_token_limit=500), usage, clock=lambda: now)
    assert await daily.refusal(USER) == (
        "⛔ You have used your daily budget of 500 tokens (600 used). "
        "It resets at midnight UTC, in 2 h 20 min."
    )
    monthly = Budget(settings(monthly_token_limit=3600), usage, clock=lambda: now)
    assert await monthly.refusal(USER) == (
        "⛔ You have used your monthly budget of 3,600 tokens (3,600 used). "
        "It resets on 2027-01-01 at 00:00 UTC, in 2 h 20 min."
    )
    under = Budget(settings(daily_token_limit=601, monthly_token_limit=3601), usage,
                   clock=lambda: now)
    assert await under.refusal(USER) is None
    next_day = Budget(settings(daily_token_limit=500), usage,
                      clock=lambda: datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC))
    assert await next_day.refusal(USER) is None  # a new day (and month): the budget is back
