"""Messages and conversations: appending, replies, history, /new, /retry, start-up, deletion."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.storage import ReplyStatus, Store

CHAT = -1_009_876_543_210
TOPIC = 42


async def test_append_user_message(store: Store) -> None:
    message = await store.append_user_message(CHAT, "hello", telegram_message_id=2**40)

    assert message.role == "user" and message.content == "hello"
    assert message.status is ReplyStatus.COMPLETE
    assert message.telegram_message_ids == [2**40]
    assert (message.chat_id, message.thread_id) == (CHAT, 0)
    assert message.conversation_id == await store.current_conversation(CHAT)
    assert message.created_at.utcoffset() == timedelta(0)
    assert await store.get_message(message.id) == message
    assert await store.get_chat(CHAT) is not None


async def test_reply_streams_then_records_its_final_state(store: Store) -> None:
    await store.append_user_message(CHAT, "tell a story")
    reply = await store.start_reply(CHAT, model="gpt-4o", provider="AiAsk")
    assert (reply.role, reply.content, reply.status) == ("assistant", "", ReplyStatus.STREAMING)
    assert (reply.model, reply.provider, reply.telegram_message_ids) == ("gpt-4o", "AiAsk", [])

    await store.update_reply(reply.id, content="Once", telegram_message_ids=[10])
    partial = await store.get_message(reply.id)
    assert partial is not None
    assert (partial.content, partial.status, partial.model) == (
        "Once",
        ReplyStatus.STREAMING,
        "gpt-4o",
    )

    await store.update_reply(
        reply.id, content="Once upon a time", status=ReplyStatus.COMPLETE, provider="Other"
    )
    final = await store.get_message(reply.id)
    assert final is not None
    assert (final.content, final.status, final.provider, final.model) == (
        "Once upon a time",
        ReplyStatus.COMPLETE,
        "Other",
        "gpt-4o",
    )
    assert final.telegram_message_ids == [10]  # not given, so unchanged
    assert final.created_at == reply.created_at


async def test_failed_reply_keeps_error_and_image_reference(store: Store) -> None:
    reply = await store.start_reply(CHAT, model="dalle")
    await store.update_reply(
        reply.id,
        status=ReplyStatus.FAILED,
        error="provider timed out",
        image_file_id="AgACAgIAAxkBAAIB",
        image_url="http://127.0.0.1/image.png",
    )
    failed = await store.get_message(reply.id)
    assert failed is not None
    assert (failed.status, failed.error, failed.content) == (
        ReplyStatus.FAILED,
        "provider timed out",
        "",
    )
    assert (failed.image_file_id, failed.image_url) == (
        "AgACAgIAAxkBAAIB",
        "http://127.0.0.1/image.png",
    )


async def test_update_reply_of_unknown_message_raises(store: Store) -> None:
    with pytest.raises(LookupError):
        await store.update_reply(12345, content="x")
    with pytest.raises(LookupError):
        await store.update_reply(12345)
    reply = await store.start_reply(CHAT)
    await store.update_reply(reply.id)  # nothing given: nothing changes, no error
    assert await store.get_message(reply.id) == reply


async def test_get_message_of_unknown_id_is_none(store: Store) -> None:
    assert await store.get_message(999) is None


async def test_history_is_oldest_first_and_limited_to_the_newest(store: Store) -> None:
    for number in range(7):
        await store.append_user_message(CHAT, f"m{number}")

    assert [m.content for m in await store.history(CHAT)] == [f"m{n}" for n in range(7)]
    assert [m.content for m in await store.history(CHAT, limit=3)] == ["m4", "m5", "m6"]
    assert await store.history(CHAT + 1) == []


async def test_new_conversation_starts_empty_and_keeps_the_old_one(store: Store) -> None:
    old = await store.append_user_message(CHAT, "before /new")
    first = await store.current_conversation(CHAT)

    second = await store.new_conversation(CHAT)
    assert second != first
    assert await store.current_conversation(CHAT) == second
    assert await store.history(CHAT) == []
    assert await store.get_message(old.id) == old

    after = await store.append_user_message(CHAT, "after /new")
    assert after.conversation_id == second
    assert [m.content for m in await store.history(CHAT)] == ["after /new"]


async def test_forum_topics_keep_their_own_history_and_share_the_model(store: Store) -> None:
    await store.set_model(CHAT, "claude")
    await store.append_user_message(CHAT, "general")
    topic = await store.append_user_message(CHAT, "in a topic", thread_id=TOPIC)

    assert topic.thread_id == TOPIC
    assert [m.content for m in await store.history(CHAT)] == ["general"]
    assert [m.content for m in await store.history(CHAT, TOPIC)] == ["in a topic"]
    await store.new_conversation(CHAT, TOPIC)
    assert await store.history(CHAT, TOPIC) == []
    assert [m.content for m in await store.history(CHAT)] == ["general"]
    chat = await store.get_chat(CHAT)
    assert chat is not None and chat.model == "claude"


async def test_last_user_message_and_delete_last_reply(store: Store) -> None:
    assert await store.last_user_message(CHAT) is None
    await store.delete_last_reply(CHAT)  # no conversation yet: nothing to do

    await store.append_user_message(CHAT, "first")
    kept = await store.start_reply(CHAT)
    await store.update_reply(kept.id, content="answer one", status=ReplyStatus.COMPLETE)
    second = await store.append_user_message(CHAT, "second")
    for text in ("partial", "more"):
        reply = await store.start_reply(CHAT)
        await store.update_reply(reply.id, content=text, status=ReplyStatus.STOPPED)

    assert await store.last_user_message(CHAT) == second
    await store.delete_last_reply(CHAT)
    assert [m.content for m in await store.history(CHAT)] == ["first", "answer one", "second"]
    await store.delete_last_reply(CHAT)  # nothing after the last user message: no change
    assert len(await store.history(CHAT)) == 3


async def test_mark_interrupted_marks_only_streaming_replies(store: Store) -> None:
    await store.append_user_message(CHAT, "q1")
    left = await store.start_reply(CHAT, model="m")
    await store.update_reply(left.id, content="half an ans")
    done = await store.start_reply(CHAT, thread_id=TOPIC)
    await store.update_reply(done.id, content="whole", status=ReplyStatus.COMPLETE)
    other = await store.start_reply(CHAT + 1, thread_id=TOPIC)

    interrupted = await store.mark_interrupted()

    assert [(m.id, m.chat_id, m.thread_id, m.content) for m in interrupted] == [
        (left.id, CHAT, 0, "half an ans"),
        (other.id, CHAT + 1, TOPIC, ""),
    ]
    assert all(m.status is ReplyStatus.INTERRUPTED for m in interrupted)
    assert [m.status for m in await store.history(CHAT)] == [
        ReplyStatus.COMPLETE,
        ReplyStatus.INTERRUPTED,
    ]
    finished = await store.get_message(done.id)
    assert finished is not None and finished.status is ReplyStatus.COMPLETE
    assert await store.mark_interrupted() == []


async def test_delete_chat_removes_everything_of_that_chat_only(store: Store) -> None:
    await store.update_settings(CHAT, stream=True)
    await store.append_user_message(CHAT, "old conversation")
    await store.new_conversation(CHAT)
    await store.append_user_message(CHAT, "new conversation")
    await store.start_reply(CHAT)
    await store.append_user_message(CHAT, "topic", thread_id=TOPIC)
    neighbour = await store.append_user_message(CHAT + 1, "someone else")

    assert await store.delete_chat(CHAT) == 4

    assert await store.get_chat(CHAT) is None
    assert await store.history(CHAT) == [] and await store.history(CHAT, TOPIC) == []
    assert await store.history(CHAT + 1) == [neighbour]
    assert await store.delete_chat(CHAT) == 0

    again = await store.append_user_message(CHAT, "fresh start")
    assert again.id > neighbour.id  # ids are never reused, so old references stay dead
    chat = await store.get_chat(CHAT)
    assert chat is not None and chat.settings == {}
