"""``Store.begin_turn``: a turn's start (chat, user message, context, empty reply) in one unit
of work, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from bot.storage import ReplyStatus, Store

CHAT = 88


async def test_begin_turn_creates_the_chat_and_returns_the_context_and_an_empty_reply(
    store: Store,
) -> None:
    turn = await store.begin_turn(
        CHAT, chat_type="group", user_message="hello", telegram_message_id=5,
        system_prompt="Be brief.",
    )

    assert turn.chat.id == CHAT and turn.chat.type == "group" and turn.chat.model is None
    assert turn.context == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]
    assert turn.reply.role == "assistant" and turn.reply.status is ReplyStatus.STREAMING
    assert turn.reply.content == ""
    history = await store.history(CHAT)
    assert [(m.role, m.content, m.telegram_message_ids) for m in history] == [
        ("user", "hello", [5]),
        ("assistant", "", []),
    ]
    assert history[1].id == turn.reply.id


async def test_begin_turn_sees_earlier_turns_and_the_chats_model(store: Store) -> None:
    first = await store.begin_turn(CHAT, user_message="q1")
    await store.update_reply(first.reply.id, content="a1", status=ReplyStatus.COMPLETE)
    await store.set_model(CHAT, "gpt-4o")

    second = await store.begin_turn(CHAT, user_message="q2", limit=20, max_chars=1000)

    assert second.chat.model == "gpt-4o"
    assert second.context == [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
    ]


async def test_begin_turn_without_a_user_message_answers_the_last_one_again(store: Store) -> None:
    first = await store.begin_turn(CHAT, user_message="q1")
    await store.update_reply(first.reply.id, content="broken", status=ReplyStatus.FAILED)
    await store.delete_last_reply(CHAT)

    retried = await store.begin_turn(CHAT)

    assert retried.context == [{"role": "user", "content": "q1"}]
    assert [m.role for m in await store.history(CHAT)] == ["user", "assistant"]


async def test_concurrent_turns_of_many_chats_all_land(store: Store) -> None:
    chats = range(1000, 1030)
    turns = await asyncio.gather(
        *(store.begin_turn(chat, user_message=f"hi {chat}") for chat in chats)
    )

    assert [t.context for t in turns] == [[{"role": "user", "content": f"hi {c}"}] for c in chats]
    assert len({t.reply.id for t in turns}) == len(chats)
    for chat in chats:
        assert [m.content for m in await store.history(chat)] == [f"hi {chat}", ""]
