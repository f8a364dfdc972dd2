"""A turn's start: ``Store.turn_context`` (read only, the user's new message pending) and
``Store.record_turn`` (the user's message and the empty reply in one unit of work), on SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio

from bot.storage import ReplyStatus, Store

CHAT = 88


async def test_a_first_turn_reads_no_chat_then_records_it(store: Store) -> None:
    chat, context = await store.turn_context(CHAT, pending="hello", system_prompt="Be brief.")

    assert chat is None
    assert context == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]
    assert await store.history(CHAT) == []  # reading stores nothing

    reply = await store.record_turn(
        CHAT, chat_type="group", user_message="hello", telegram_message_id=5, model="m"
    )

    assert reply.role == "assistant" and reply.status is ReplyStatus.STREAMING
    assert reply.content == "" and reply.model == "m"
    stored = await store.get_chat(CHAT)
    assert stored is not None and stored.type == "group"
    history = await store.history(CHAT)
    assert [(m.role, m.content, m.telegram_message_ids) for m in history] == [
        ("user", "hello", [5]),
        ("assistant", "", []),
    ]
    assert history[1].id == reply.id


async def test_the_pending_message_follows_earlier_turns_within_the_limits(store: Store) -> None:
    first = await store.record_turn(CHAT, user_message="q1")
    await store.update_reply(first.id, content="a1", status=ReplyStatus.COMPLETE)
    second = await store.record_turn(CHAT, user_message="q2")
    await store.update_reply(second.id, content="a2", status=ReplyStatus.COMPLETE)
    await store.set_model(CHAT, "gpt-4o")

    chat, context = await store.turn_context(CHAT, pending="q3", limit=3)

    assert chat is not None and chat.model == "gpt-4o"
    assert context == [
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": "a2"},
        {"role": "user", "content": "q3"},
    ][-3:]
    _, budgeted = await store.turn_context(CHAT, pending="q3", max_chars=4)
    # "a2" fits the budget too, but a context starts with the user's turn (roles alternate).
    assert budgeted == [{"role": "user", "content": "q3"}]


async def test_a_retry_reads_and_records_without_a_new_user_message(store: Store) -> None:
    first = await store.record_turn(CHAT, user_message="q1")
    await store.update_reply(first.id, content="broken", status=ReplyStatus.FAILED)
    await store.delete_last_reply(CHAT)

    _, context = await store.turn_context(CHAT)
    await store.record_turn(CHAT)

    assert context == [{"role": "user", "content": "q1"}]
    assert [m.role for m in await store.history(CHAT)] == ["user", "assistant"]


async def test_concurrent_turns_of_many_chats_all_land(store: Store) -> None:
    chats = range(1000, 1030)
    replies = await asyncio.gather(
        *(store.record_turn(chat, user_message=f"hi {chat}") for chat in chats)
    )

    assert len({r.id for r in replies}) == len(chats)
    for chat in chats:
        assert [m.content for m in await store.history(chat)] == [f"hi {chat}", ""]
        assert (await store.turn_context(chat))[1] == [{"role": "user", "content": f"hi {chat}"}]
