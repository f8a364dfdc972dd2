"""A group upgraded to a supergroup: everything stored moves to the new chat id."""

from __future__ import annotations

from bot.storage import Store

GROUP, SUPERGROUP = -100, -1001234


async def test_move_chat_moves_history_model_and_settings(store: Store) -> None:
    await store.get_or_create_chat(GROUP, "group")
    await store.set_model(GROUP, "gpt-4o")
    await store.update_settings(GROUP, lang="en")
    reply = await store.record_turn(GROUP, chat_type="group", user_message="q", model="gpt-4o")
    await store.update_reply(reply.id, content="a")
    await store.append_user_message(GROUP, "in a topic", thread_id=5)

    assert await store.move_chat(GROUP, SUPERGROUP) is True

    assert await store.get_chat(GROUP) is None
    assert await store.history(GROUP) == []
    moved = await store.get_chat(SUPERGROUP)
    assert moved is not None
    assert (moved.type, moved.model, moved.settings) == ("supergroup", "gpt-4o", {"lang": "en"})
    assert [m.content for m in await store.history(SUPERGROUP)] == ["q", "a"]
    assert [m.content for m in await store.history(SUPERGROUP, 5)] == ["in a topic"]
    # The reply being written keeps its id: its final state lands in the supergroup's history.
    await store.update_reply(reply.id, content="a, finished")
    assert (await store.history(SUPERGROUP))[-1].content == "a, finished"
    # Both migration service messages arrive: the second move finds nothing to move.
    assert await store.move_chat(GROUP, SUPERGROUP) is False


async def test_move_chat_keeps_what_the_new_chat_has(store: Store) -> None:
    await store.set_model(GROUP, "gpt-4o")
    await store.get_or_create_chat(SUPERGROUP, "supergroup")
    await store.set_model(SUPERGROUP, "dalle")

    assert await store.move_chat(GROUP, SUPERGROUP) is True
    moved = await store.get_chat(SUPERGROUP)
    assert moved is not None and moved.model == "dalle"
