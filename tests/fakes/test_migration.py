"""The fake's group upgrade: service messages, then ChatMigrated for the old id (PTB's view)."""

from __future__ import annotations

import pytest
import telegram
from telegram.error import ChatMigrated

from tests.fakes.telegram import FakeTelegram

GROUP, SUPERGROUP = -300, -100300


async def test_a_migrated_group_answers_with_migrate_to_chat_id(
    fake: FakeTelegram, bot: telegram.Bot
) -> None:
    fake.send_message(GROUP, "hello", chat_type="group", title="Team", user_id=7)
    sent = await bot.send_message(GROUP, "before the upgrade")

    fake.migrate_group(GROUP, SUPERGROUP, user_id=7)

    for call in (
        bot.send_message(GROUP, "after"),
        bot.edit_message_text("edited", GROUP, sent.message_id),
        bot.send_chat_action(GROUP, "typing"),
    ):
        with pytest.raises(ChatMigrated) as migrated:
            await call
        assert migrated.value.new_chat_id == SUPERGROUP
    assert fake.calls[-1].description == (
        "Bad Request: group chat was upgraded to a supergroup chat"
    )
    updates = await bot.get_updates()
    service = [u.message for u in updates if u.message and not u.message.text]
    assert [(m.chat.id, m.chat.type, m.migrate_to_chat_id, m.migrate_from_chat_id)
            for m in service if m] == [
        (GROUP, "group", SUPERGROUP, None),
        (SUPERGROUP, "supergroup", None, GROUP),
    ]
    assert service[1] is not None and service[1].chat.title == "Team"
    assert (await bot.send_message(SUPERGROUP, "there")).chat.id == SUPERGROUP


def test_only_a_known_group_can_be_migrated(fake: FakeTelegram) -> None:
    fake.send_message(5, "hi")
    with pytest.raises(ValueError):
        fake.migrate_group(5, SUPERGROUP, user_id=5)
    with pytest.raises(ValueError):
        fake.migrate_group(-999, SUPERGROUP, user_id=5)
