"""The fake Bot API's getChatMember, driven by python-telegram-bot's real ``Bot``."""

from __future__ import annotations

import pytest
import telegram
from telegram import ChatMemberAdministrator, ChatMemberBanned, ChatMemberOwner
from telegram.error import BadRequest

from tests.fakes.telegram import FakeTelegram

GROUP = -100600


async def test_statuses_set_by_the_test_are_reported_as_ptb_types(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    fake.add_chat(GROUP, chat_type="supergroup")
    fake.set_member_status(GROUP, 1, "creator")
    fake.set_member_status(GROUP, 2, "administrator")
    fake.set_member_status(GROUP, 3, "kicked")
    assert isinstance(await bot.get_chat_member(GROUP, 1), ChatMemberOwner)
    admin = await bot.get_chat_member(GROUP, 2)
    assert isinstance(admin, ChatMemberAdministrator) and admin.user.id == 2
    assert isinstance(await bot.get_chat_member(GROUP, 3), ChatMemberBanned)
    assert [c.status for c in fake.calls_for("getChatMember", GROUP)] == [200, 200, 200]


async def test_a_user_who_wrote_is_a_member_and_one_who_did_not_has_left(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    fake.send_message(GROUP, "hi", chat_type="supergroup", user_id=7)
    fake.send_message(-100601, "elsewhere", chat_type="supergroup", user_id=8)
    assert (await bot.get_chat_member(GROUP, 7)).status == "member"
    assert (await bot.get_chat_member(GROUP, 8)).status == "left"


async def test_unknown_users_and_chats_are_refused(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.add_chat(GROUP, chat_type="supergroup")
    with pytest.raises(BadRequest, match="User not found"):
        await bot.get_chat_member(GROUP, 999)
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.get_chat_member(-999, 1)
    with pytest.raises(ValueError):
        fake.set_member_status(GROUP, 1, "restricted")
