"""``/usage`` and a budget refusal end to end, through the fake Bot API: figures per user and
per chat (UTC days), the top users for admins, and a user over budget refused before the
provider is asked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.storage import ReplyStatus, Store
from bot.storage.records import UsageEntry
from tests.bot.conftest import RunningBot

CHAT, OTHER_CHAT, ADMIN = 9101, 9102, 9103


async def seed(database: Path, chat_id: int, user_id: int, *usage: tuple[int, int] | None) -> None:
    """Replies of ``user_id`` in ``chat_id`` with these (prompt, completion) tokens (None:
    the endpoint reported none), stored as the bot stores them."""
    store = await Store.open(f"sqlite+aiosqlite:///{database}")
    try:
        for tokens in usage:
            reply = await store.record_turn(chat_id, user_message="q", model="gpt-4o-mini")
            entry = UsageEntry(chat_id, user_id, *(tokens or (None, None)))
            await store.update_reply(reply.id, status=ReplyStatus.COMPLETE, content="a",
                                     usage=entry)
    finally:
        await store.close()


async def test_usage_shows_the_user_and_the_chat_and_admins_see_top_users(
    make_bot: Callable[..., RunningBot], database: Path,
) -> None:
    await seed(database, CHAT, CHAT, (100, 20), None)
    await seed(database, OTHER_CHAT, OTHER_CHAT, (1, 1))
    bot = make_bot(admin_user_ids=str(ADMIN))
    await bot.start()

    bot.telegram.send_message(CHAT, "/usage")
    report = await bot.wait_for_containing(CHAT, "Usage (days and months in UTC")
    figures = "2 replies, 120 tokens (100 in, 20 out); 1 of them without a token count"
    assert report.text == "\n".join([
        "Usage (days and months in UTC; today began at 00:00 UTC)",
        "You:", f"  today: {figures}", f"  this month: {figures}",
        "This chat:", f"  today: {figures}", f"  this month: {figures}",
    ])  # no top users for a user who is not an admin

    bot.telegram.send_message(ADMIN, "/usage")
    report = await bot.wait_for_containing(ADMIN, "Top users this month, all chats:")
    assert report.text.endswith("\n".join([
        "Top users this month, all chats:",
        f"  user {CHAT}: {figures}",
        f"  user {OTHER_CHAT}: 1 reply, 2 tokens (1 in, 1 out)",
    ]))
    assert "You:\n  today: no replies\n  this month: no replies" in report.text


async def test_a_user_over_budget_is_refused_before_the_provider(
    make_bot: Callable[..., RunningBot], database: Path,
) -> None:
    await seed(database, CHAT, CHAT, (900, 100))
    bot = make_bot(monthly_token_limit=1000)
    await bot.start()
    bot.telegram.send_message(CHAT, "hello?")
    refusal = await bot.wait_for_containing(CHAT, "monthly budget")
    assert refusal.text.startswith(
        "⛔ You have used your monthly budget of 1,000 tokens (1,000 used). It resets on ")
    assert "at 00:00 UTC, in " in refusal.text
    chat_requests = [r for r in bot.providers.requests_for("openai")
                     if r.path.endswith("/chat/completions")]
    assert chat_requests == []
