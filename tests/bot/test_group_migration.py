"""A group upgraded to a supergroup (``migrate_to_chat_id``) while the bot writes a reply: the
reply is delivered in the supergroup, and the group's history goes on there."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.storage import Store
from tests.bot.conftest import RunningBot
from tests.fakes.providers import Reply
from tests.fakes.telegram import FakeTelegram

GROUP, SUPERGROUP, USER = -4001, -1004001, 7
MENTION = [{"type": "mention", "offset": 0, "length": 13}]
LONG = " ".join(f"word{i}" for i in range(120)) + "."


async def test_reply_follows_the_group_into_its_supergroup_with_the_history(
    make_bot: Callable[..., RunningBot], telegram: FakeTelegram, database: Path
) -> None:
    bot = make_bot()
    await bot.start()
    bot.providers.push(
        "openai",
        Reply("First answer."),
        Reply(LONG, delta_chars=10, delay=0.1),
        Reply("Third answer."),
    )
    telegram.send_message(GROUP, "@test_llm_bot first question", chat_type="group",
                          user_id=USER, entities=MENTION)
    await bot.wait_for_text(GROUP, "First answer.")
    telegram.send_message(GROUP, "@test_llm_bot second question", chat_type="group",
                          user_id=USER, entities=MENTION)
    await bot.wait_bot_text(GROUP, lambda ms: any(m.text and m.text.startswith("word") for m in ms))

    telegram.migrate_group(GROUP, SUPERGROUP, user_id=USER)

    await bot.wait_for_text(SUPERGROUP, LONG, timeout=30)  # the reply lands in the supergroup
    telegram.send_message(SUPERGROUP, "@test_llm_bot third question", chat_type="supergroup",
                          user_id=USER, entities=MENTION)
    await bot.wait_for_text(SUPERGROUP, "Third answer.")

    # The supergroup's conversation is the group's: the model sees all of it.
    assert bot.provider_history() == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "First answer."},
        {"role": "user", "content": "second question"},
        {"role": "assistant", "content": LONG},
        {"role": "user", "content": "third question"},
    ]
    assert not any(m.text == LONG for m in telegram.bot_messages(GROUP))
    store = await Store.open(f"sqlite+aiosqlite:///{database}", migrate=False)
    try:
        assert await store.get_chat(GROUP) is None
        chat = await store.get_chat(SUPERGROUP)
        assert chat is not None and chat.type == "supergroup"
        assert [m.status.value for m in await store.history(SUPERGROUP)] == ["complete"] * 6
    finally:
        await store.close()
