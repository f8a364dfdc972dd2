"""End to end: ``/stop``, ``/forget`` and ``/new`` act at once, on the reply being written and on
the messages waiting for one; in groups they are for administrators (getChatMember) and
``ADMIN_USER_IDS``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from bot.storage import MessageRecord, ReplyStatus, Store
from tests.bot.conftest import RunningBot
from tests.fakes.providers import Reply

CHAT = 4001
GROUP = -1004001
MEMBER, OTHER_MEMBER, GROUP_ADMIN, BOT_ADMIN = 71, 72, 73, 74
MENTION = "@test_llm_bot "

#: A reply that streams for about 40 s unless stopped.
SLOW = Reply(" ".join(f"w{i}" for i in range(800)), delta_chars=3, delay=0.05)


async def stored(database: Path, chat_id: int) -> list[MessageRecord]:
    store = await Store.open(f"sqlite+aiosqlite:///{database}", migrate=False)
    try:
        return await store.history(chat_id, limit=100)
    finally:
        await store.close()


def chat_requests(bot: RunningBot) -> list[list[dict[str, str]]]:
    """The ``messages`` of every chat request the OpenAI-compatible fake received."""
    return [
        r.json["messages"]
        for r in bot.providers.requests_for("openai")
        if r.path.endswith("/chat/completions")
    ]


async def reply_started(bot: RunningBot, chat_id: int) -> None:
    await bot.wait_bot_text(chat_id, lambda ms: any(len(m.text or "") > 20 for m in ms))


async def backlog(bot: RunningBot) -> None:
    """Messages m1..m5: m1's reply is being written (slowly), m2..m5 wait; the next reply the
    provider gives is "fresh"."""
    bot.providers.push("openai", SLOW, Reply("fresh"))
    for i in range(1, 6):
        bot.telegram.send_message(CHAT, f"m{i}")
    await reply_started(bot, CHAT)


def say(bot: RunningBot, text: str, user_id: int) -> None:
    """``user_id`` writes ``text`` in the group (a leading MENTION is marked as a mention)."""
    entities = [{"type": "mention", "offset": 0, "length": 13}] if text.startswith(MENTION) else None
    bot.telegram.send_message(
        GROUP, text, chat_type="supergroup", user_id=user_id, entities=entities
    )


async def stored_when(
    database: Path, chat_id: int, predicate: Callable[[list[MessageRecord]], bool]
) -> list[MessageRecord]:
    """The chat's stored history once ``predicate`` holds for it (checked every 0.1 s, 15 s at
    most: a reply is stored just after its final text is shown)."""
    for _ in range(150):
        history = await stored(database, chat_id)
        if predicate(history):
            return history
        await asyncio.sleep(0.1)
    raise TimeoutError(f"stored history of chat {chat_id}: {history}")


# -- defect 8: a backlog can be cancelled ----------------------------------------------------


async def test_stop_also_drops_the_messages_waiting_and_records_them_as_stopped(
    bot: RunningBot, database: Path
) -> None:
    await backlog(bot)

    bot.telegram.send_message(CHAT, "/stop")
    bot.telegram.send_message(CHAT, "after")  # queued behind m2..m5
    await bot.wait_for_text(CHAT, "fresh", timeout=30)

    requests = chat_requests(bot)
    assert [r[-1]["content"] for r in requests] == ["m1", "after"]  # m2..m5 never reached it
    history = await stored_when(database, CHAT, lambda h: bool(h) and h[-1].content == "fresh")
    shown = [(m.role, m.content if m.role == "user" else m.status) for m in history]
    assert shown == [
        ("user", "m1"), ("assistant", ReplyStatus.STOPPED),
        ("user", "m2"), ("assistant", ReplyStatus.STOPPED),
        ("user", "m3"), ("assistant", ReplyStatus.STOPPED),
        ("user", "m4"), ("assistant", ReplyStatus.STOPPED),
        ("user", "m5"), ("assistant", ReplyStatus.STOPPED),
        ("user", "after"), ("assistant", ReplyStatus.COMPLETE),
    ]
    assert [m.content for m in history[3:10:2]] == ["", "", "", ""]  # dropped: never answered
    assert "Nothing is being written right now." not in bot.bot_texts(CHAT)


async def test_forget_acts_at_once_and_drops_the_waiting_messages_unrecorded(
    bot: RunningBot, database: Path
) -> None:
    await backlog(bot)

    bot.telegram.send_message(CHAT, "/forget")
    # m1's reply is stopped and stored before the deletion, so it is counted (and gone).
    await bot.wait_for_text(CHAT, "Deleted everything stored for this chat (2 messages).")
    assert len(chat_requests(bot)) == 1

    bot.telegram.send_message(CHAT, "after")
    await bot.wait_for_text(CHAT, "fresh", timeout=30)
    assert chat_requests(bot)[-1] == [{"role": "user", "content": "after"}]
    history = await stored_when(database, CHAT, lambda h: bool(h) and h[-1].content == "fresh")
    assert [(m.role, m.content) for m in history] == [("user", "after"), ("assistant", "fresh")]


async def test_new_does_not_wait_behind_the_reply_or_the_waiting_messages(
    bot: RunningBot, database: Path
) -> None:
    bot.providers.push("openai", SLOW, Reply("fresh"))
    bot.telegram.send_message(CHAT, "m1")
    bot.telegram.send_message(CHAT, "m2")
    await reply_started(bot, CHAT)

    bot.telegram.send_message(CHAT, "/new")
    await bot.wait_for_text(CHAT, "Started a new conversation.")
    assert len(chat_requests(bot)) == 1  # m1's reply is still being written, m2 still waits

    bot.telegram.send_message(CHAT, "/stop")  # ends m1's reply and drops m2 (stored as stopped)
    bot.telegram.send_message(CHAT, "m3")
    await bot.wait_for_text(CHAT, "fresh", timeout=30)
    # m1 and its reply stay in the old conversation; m2 and m3 are in the new one, and m2,
    # dropped by /stop, is stored but never sent to the model.
    assert chat_requests(bot)[-1] == [{"role": "user", "content": "m3"}]
    history = await stored_when(database, CHAT, lambda h: bool(h) and h[-1].content == "fresh")
    assert [(m.role, m.content, m.status) for m in history] == [
        ("user", "m2", ReplyStatus.STOPPED), ("assistant", "", ReplyStatus.STOPPED),
        ("user", "m3", ReplyStatus.COMPLETE), ("assistant", "fresh", ReplyStatus.COMPLETE),
    ]


# -- defect 7: in a group, /forget and /stop of someone else's reply are for administrators ----


async def test_forget_in_a_group_is_for_its_administrators_and_bot_admins(
    make_bot: Callable[..., RunningBot], database: Path
) -> None:
    bot = make_bot(admin_user_ids=str(BOT_ADMIN))
    await bot.start()
    bot.providers.push("openai", Reply("remembered"))
    say(bot, MENTION + "remember 42", MEMBER)
    await bot.wait_for_text(GROUP, "remembered")
    await stored_when(database, GROUP, lambda h: len(h) == 2 and h[1].content == "remembered")
    bot.telegram.set_member_status(GROUP, GROUP_ADMIN, "administrator")

    say(bot, "/forget", MEMBER)
    await bot.wait_for_text(GROUP, "Only this group's administrators can delete its history.")
    assert len(await stored(database, GROUP)) == 2  # nothing deleted
    checked = bot.telegram.calls_for("getChatMember", GROUP)
    assert checked and checked[-1].params["user_id"] == MEMBER

    say(bot, "/forget", GROUP_ADMIN)
    await bot.wait_for_text(GROUP, "Deleted everything stored for this chat (2 messages).")
    assert await stored(database, GROUP) == []

    bot.providers.push("openai", Reply("noted"))
    say(bot, MENTION + "remember 7", MEMBER)
    await bot.wait_for_text(GROUP, "noted")
    await stored_when(database, GROUP, lambda h: len(h) == 2 and h[1].content == "noted")
    say(bot, "/forget", BOT_ADMIN)  # a member of the group, and in ADMIN_USER_IDS
    await bot.wait_bot_text(
        GROUP, lambda ms: sum("Deleted everything" in (m.text or "") for m in ms) == 2
    )
    assert await stored(database, GROUP) == []


async def test_stop_in_a_group_is_for_the_asker_and_administrators(
    bot: RunningBot, database: Path
) -> None:
    bot.telegram.add_chat(GROUP, chat_type="supergroup")
    bot.telegram.set_member_status(GROUP, GROUP_ADMIN, "creator")
    bot.providers.push("openai", SLOW, SLOW, Reply("third"))
    say(bot, MENTION + "count slowly", MEMBER)
    await reply_started(bot, GROUP)

    say(bot, "/stop", OTHER_MEMBER)
    notice = "Only this group's administrators can stop a reply to someone else."
    await bot.wait_for_text(GROUP, notice)
    say(bot, "/stop", MEMBER)  # the asker may
    say(bot, MENTION + "count again", OTHER_MEMBER)
    await bot.wait_bot_text(GROUP, lambda ms: len(ms) >= 3 and len(ms[-1].text or "") > 20)
    history = await stored_when(database, GROUP, lambda h: len(h) == 4)
    assert history[1].status == ReplyStatus.STOPPED and history[1].content  # text so far kept

    say(bot, "/stop", GROUP_ADMIN)  # the group's owner may stop anyone's reply
    say(bot, MENTION + "and now?", MEMBER)
    await bot.wait_for_text(GROUP, "third", timeout=30)
    history = await stored_when(database, GROUP, lambda h: bool(h) and h[-1].content == "third")
    statuses = [m.status for m in history if m.role == "assistant"]
    assert statuses == [ReplyStatus.STOPPED, ReplyStatus.STOPPED, ReplyStatus.COMPLETE]
    assert bot.bot_texts(GROUP).count(notice) == 1


async def test_a_member_s_stop_drops_only_their_own_waiting_messages(
    bot: RunningBot, database: Path
) -> None:
    bot.telegram.add_chat(GROUP, chat_type="supergroup")
    bot.providers.push("openai", SLOW, Reply("for the other member"), Reply("done"))
    say(bot, MENTION + "count slowly", MEMBER)
    say(bot, MENTION + "my second question", MEMBER)
    say(bot, MENTION + "someone else's question", OTHER_MEMBER)
    await reply_started(bot, GROUP)

    say(bot, "/stop", MEMBER)
    await bot.wait_for_text(GROUP, "for the other member", timeout=30)
    say(bot, MENTION + "thanks", MEMBER)
    await bot.wait_for_text(GROUP, "done", timeout=30)
    asked = [r[-1]["content"] for r in chat_requests(bot)]
    assert asked == ["count slowly", "someone else's question", "thanks"]
