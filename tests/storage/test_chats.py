"""Chats: get or create, model, settings, and data that survives closing the database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.storage import ChatRecord, Store

SUPERGROUP = -1_001_234_567_890  # Bot API supergroup ids are "-100" + a 64-bit-range number
LARGE = 2**62


async def test_get_or_create_chat_creates_once(store: Store) -> None:
    before = datetime.now(UTC)
    created = await store.get_or_create_chat(SUPERGROUP, "supergroup")
    again = await store.get_or_create_chat(SUPERGROUP, "private")

    assert created == again
    assert (created.id, created.type, created.model, created.settings) == (
        SUPERGROUP,
        "supergroup",
        None,
        {},
    )
    assert created.created_at.tzinfo is not None
    assert created.created_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=5) <= created.created_at <= datetime.now(UTC)


async def test_get_chat_of_unknown_chat_is_none(store: Store) -> None:
    assert await store.get_chat(LARGE) is None


async def test_set_model_creates_the_chat_and_can_reset_it(store: Store) -> None:
    await store.set_model(LARGE, "gpt-4o")
    chat = await store.get_chat(LARGE)
    assert chat is not None and chat.model == "gpt-4o" and chat.type == "private"

    await store.set_model(LARGE, None)
    chat = await store.get_chat(LARGE)
    assert chat is not None and chat.model is None


async def test_update_settings_merges_and_none_removes(store: Store) -> None:
    await store.get_or_create_chat(5, "group")
    first = await store.update_settings(5, temperature=0.5, language="ru")
    second = await store.update_settings(5, language=None, stream=True)

    assert first.settings == {"temperature": 0.5, "language": "ru"}
    assert second.settings == {"temperature": 0.5, "stream": True}
    stored = await store.get_chat(5)
    assert stored is not None and stored.settings == second.settings and stored.type == "group"


async def test_records_are_frozen_copies(store: Store) -> None:
    chat = await store.update_settings(6, nested={"a": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        chat.model = "x"  # type: ignore[misc]
    chat.settings["injected"] = True

    stored = await store.get_chat(6)
    assert stored is not None and stored.settings == {"nested": {"a": 1}}
    assert isinstance(stored, ChatRecord)


async def test_data_survives_closing_and_reopening(store: Store, store_url: str) -> None:
    await store.set_model(7, "dalle")
    await store.update_settings(7, stream=False)
    user = await store.append_user_message(7, "draw a cat", telegram_message_id=70)
    reply = await store.start_reply(7, model="dalle", provider="Bing")
    await store.update_reply(reply.id, content="done", telegram_message_ids=[71, 72])
    await store.close()

    reopened = await Store.open(store_url)
    try:
        chat = await reopened.get_chat(7)
        history = await reopened.history(7)
    finally:
        await reopened.close()

    assert chat is not None and chat.model == "dalle" and chat.settings == {"stream": False}
    assert [(m.id, m.content, m.telegram_message_ids) for m in history] == [
        (user.id, "draw a cat", [70]),
        (reply.id, "done", [71, 72]),
    ]


async def test_chats_with_a_setting_are_found_in_one_query(store: Store) -> None:
    await store.update_settings(1, language="ru")
    await store.update_settings(2, voice=True)  # other settings only: not listed
    await store.update_settings(SUPERGROUP, language="en", voice=False)
    await store.update_settings(3, language="de")
    await store.update_settings(3, language=None)  # the choice removed again
    assert await store.chats_with_setting("language") == {1: "ru", SUPERGROUP: "en"}
    assert await store.chats_with_setting("nothing") == {}
