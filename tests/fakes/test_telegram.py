"""The fake Telegram Bot API server, driven by python-telegram-bot's real ``Bot`` as the client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)

from tests.fakes.conftest import ManualClock
from tests.fakes.telegram import FakeTelegram, check_entities, parse_text, utf16_len

CHAT = 42
GROUP = -100500


@pytest.fixture
async def flood_fake(clock: ManualClock) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(clock=clock) as server:
        yield server


@pytest.fixture
async def flood_bot(flood_fake: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    client = telegram.Bot(
        flood_fake.token, base_url=flood_fake.base_url, base_file_url=flood_fake.base_file_url
    )
    async with client:
        yield client


# ---- identity, updates -----------------------------------------------------------------------


async def test_get_me_describes_the_bot(bot: telegram.Bot, fake: FakeTelegram) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username, me.first_name) == (
        123456,
        True,
        "test_llm_bot",
        "Test LLM Bot",
    )
    assert fake.bot_id == 123456
    assert fake.base_url.startswith("http://127.0.0.1:") and fake.base_url.endswith("/bot")


async def test_long_poll_returns_a_queued_update_and_offset_confirms_it(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    sent = fake.send_message(CHAT, "hello")
    updates = await bot.get_updates(timeout=5)
    assert [u.update_id for u in updates] == [sent["update_id"]]
    message = updates[0].message
    assert (message.text, message.chat.id, message.chat.type, message.from_user.id) == (
        "hello",
        CHAT,
        "private",
        CHAT,
    )
    assert await bot.get_updates(timeout=0) != []  # not confirmed yet: delivered again
    assert await bot.get_updates(offset=sent["update_id"] + 1, timeout=0) == ()
    assert fake.pending_updates == []


async def test_long_poll_answers_as_soon_as_an_update_is_queued(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await fake.wait_for(lambda: fake.long_polls_waiting == 1)
    assert not poll.done()
    fake.send_message(CHAT, "wake up")
    updates = await asyncio.wait_for(poll, 10)
    assert [u.message.text for u in updates] == ["wake up"]


async def test_limit_and_allowed_updates(bot: telegram.Bot, fake: FakeTelegram) -> None:
    first = fake.send_message(CHAT, "one")
    fake.send_message(CHAT, "two")
    assert [u.message.text for u in await bot.get_updates(limit=1)] == ["one"]
    menu = await bot.send_message(
        CHAT,
        "pick",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]]),
    )
    fake.press_button(CHAT, menu.message_id, "a")
    only_queries = await bot.get_updates(
        offset=first["update_id"], allowed_updates=["callback_query"]
    )
    assert [u.callback_query.data for u in only_queries] == ["a"]


async def test_two_overlapping_long_polls_end_the_first_with_409(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await fake.wait_for(lambda: fake.long_polls_waiting == 1)
    async with telegram.Bot(
        fake.token, base_url=fake.base_url
    ) as other_instance:  # a second copy of the bot
        second = asyncio.create_task(other_instance.get_updates(timeout=30))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await asyncio.wait_for(first, 10)
        fake.send_message(CHAT, "for the second")
        assert [u.message.text for u in await asyncio.wait_for(second, 10)] == ["for the second"]
    assert [c.status for c in fake.calls_for("getUpdates")] == [409, 200]


async def test_get_updates_refused_while_a_webhook_is_set(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    await bot.set_webhook("https://example.invalid/hook")
    assert (await bot.get_webhook_info()).url == "https://example.invalid/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    fake.send_message(CHAT, "queued")
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


async def test_group_update_carries_the_replied_bot_message(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    fake.send_message(GROUP, "hi all", chat_type="supergroup", user_id=7, title="Team")
    answer = await bot.send_message(GROUP, "hello Team")
    fake.send_message(
        GROUP,
        "and you?",
        chat_type="supergroup",
        user_id=8,
        reply_to_message_id=answer.message_id,
        is_forum=False,
    )
    updates = await bot.get_updates()
    replied = updates[-1].message.reply_to_message
    assert replied is not None and replied.from_user.id == bot.id and replied.text == "hello Team"
    assert updates[-1].message.chat.title == "Team" and updates[-1].message.from_user.id == 8


async def test_user_side_validates_its_arguments(fake: FakeTelegram) -> None:
    with pytest.raises(ValueError, match="user_id is required"):
        fake.send_message(GROUP, "hi", chat_type="group")
    with pytest.raises(ValueError, match="positive"):
        fake.send_message(-5, "hi")
    command = fake.send_message(CHAT, "/model gpt-4o")["message"]
    assert command["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]


# ---- messages: state as the user sees it ------------------------------------------------------


async def test_send_edit_delete_round_trip(
    bot: telegram.Bot, fake: FakeTelegram, clock: ManualClock
) -> None:
    fake.send_message(CHAT, "question")
    sent = await bot.send_message(CHAT, "draft", reply_to_message_id=1)
    assert sent.message_id == 2 and sent.reply_to_message.text == "question"
    clock.advance(2.5)
    edited = await bot.edit_message_text(
        "final *answer*", CHAT, sent.message_id, parse_mode="MarkdownV2"
    )
    assert edited.text == "final answer" and edited.edit_date is not None
    seen = fake.bot_messages(CHAT)
    assert len(seen) == 1
    message = seen[0]
    assert (message.text, message.entities, message.edits) == (
        "final answer",
        [{"type": "bold", "offset": 6, "length": 6}],
        1,
    )
    assert message.edited_at - message.sent_at == 2.5 and message.reply_to_message_id == 1
    assert [m.from_bot for m in fake.messages(CHAT)] == [False, True]
    assert await bot.delete_message(CHAT, sent.message_id) is True
    assert fake.bot_messages(CHAT) == []
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(CHAT, sent.message_id)


async def test_message_ids_are_per_chat_and_threads_filter(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    fake.send_message(
        GROUP, "in 11", chat_type="supergroup", user_id=7, is_forum=True, message_thread_id=11
    )
    fake.add_chat(CHAT)
    reply = await bot.send_message(GROUP, "answer in 11", message_thread_id=11)
    private = await bot.send_message(CHAT, "private one")
    assert (reply.message_id, private.message_id) == (2, 1)
    assert reply.message_thread_id == 11 and reply.is_topic_message
    assert [m.text for m in fake.messages(GROUP, message_thread_id=11)] == ["in 11", "answer in 11"]
    assert fake.messages(GROUP, message_thread_id=None) == []


async def test_photo_upload_by_bytes_file_id_and_url(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.add_chat(CHAT)
    image = (
        b"\x89PNG\r\n\x1a\n"
        + b"\0\0\0\rIHDR"
        + (640).to_bytes(4, "big")
        + (480).to_bytes(4, "big")
        + b"x" * 100
    )
    sent = await bot.send_photo(CHAT, image, caption="a <b>cat</b>", parse_mode="HTML")
    assert (sent.photo[-1].width, sent.photo[-1].height) == (640, 480)
    assert sent.caption == "a cat" and sent.caption_entities[0].type == "bold"
    again = await bot.send_photo(CHAT, sent.photo[-1].file_id)
    by_url = await bot.send_photo(CHAT, "https://images.example.invalid/cat.png")
    first, second, third = fake.bot_messages(CHAT)
    assert (first.kind, first.photo, first.caption) == ("photo", image, "a cat")
    assert second.photo == image and second.photo_file_id == again.photo[-1].file_id
    assert third.photo is None and third.photo_url == "https://images.example.invalid/cat.png"
    assert by_url.photo
    upload = fake.calls_for("sendPhoto")[0]
    assert upload.params["photo"] == image and upload.params["chat_id"] == CHAT


async def test_photo_by_loopback_url_is_fetched(bot: telegram.Bot, fake: FakeTelegram) -> None:
    from aiohttp import web

    image = b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x20\x00\x40" + b"\0" * 64
    app = web.Application()

    async def serve_image(request: web.Request) -> web.Response:
        return web.Response(body=image, content_type="image/jpeg")

    app.router.add_get("/img.jpg", serve_image)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        fake.add_chat(CHAT)
        sent = await bot.send_photo(CHAT, f"http://127.0.0.1:{port}/img.jpg")
        assert fake.bot_messages(CHAT)[0].photo == image
        assert (sent.photo[-1].width, sent.photo[-1].height) == (64, 32)
        with pytest.raises(BadRequest, match="Failed to get http url content"):
            await bot.send_photo(CHAT, f"http://127.0.0.1:{port}/missing.jpg")
    finally:
        await runner.cleanup()


async def test_user_photo_can_be_downloaded_with_get_file(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    picture = b"\x89PNG\r\n\x1a\nuser picture bytes"
    update = fake.send_message(CHAT, None, photo=picture, caption="what is this?")
    file_id = update["message"]["photo"][-1]["file_id"]
    file = await bot.get_file(file_id)
    assert file.file_size == len(picture)
    assert bytes(await file.download_as_bytearray()) == picture
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("no-such-file")


async def test_keyboard_button_press_and_answer(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.add_chat(CHAT)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("GPT-4o", callback_data="model:gpt-4o")]])
    menu = await bot.send_message(CHAT, "Pick a model", reply_markup=markup)
    assert (
        fake.bot_messages(CHAT)[0].reply_markup["inline_keyboard"][0][0]["callback_data"]
        == "model:gpt-4o"
    )
    update = fake.press_button(CHAT, menu.message_id, "model:gpt-4o")
    query = (await bot.get_updates())[0].callback_query
    assert (
        query.id == update["callback_query"]["id"] and query.message.message_id == menu.message_id
    )
    assert await bot.answer_callback_query(query.id, text="Model set") is True
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(CHAT, menu.message_id, reply_markup=markup)
    await bot.edit_message_reply_markup(CHAT, menu.message_id, reply_markup=None)
    assert fake.bot_messages(CHAT)[0].reply_markup is None
    with pytest.raises(BadRequest, match="text buttons are unallowed"):
        await bot.send_message(CHAT, "x", reply_markup={"inline_keyboard": [[{"text": "plain"}]]})
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(
            CHAT,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("long", callback_data="x" * 65)]]
            ),
        )


async def test_commands_chat_action_and_draft(bot: telegram.Bot, fake: FakeTelegram) -> None:
    await bot.set_my_commands([("start", "Start"), ("model", "Choose a model")])
    assert [(c.command, c.description) for c in await bot.get_my_commands()] == [
        ("start", "Start"),
        ("model", "Choose a model"),
    ]
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Bad Command", "x")])
    fake.add_chat(CHAT)
    fake.add_chat(GROUP, chat_type="group")
    assert await bot.send_chat_action(CHAT, "typing") is True
    with pytest.raises(BadRequest, match="Wrong parameter action"):
        await bot.send_chat_action(CHAT, "dancing")
    assert await bot.send_message_draft(CHAT, 7, "Thinking *hard*", parse_mode="MarkdownV2") is True
    assert fake.drafts[-1]["text"] == "Thinking hard" and fake.drafts[-1]["draft_id"] == 7
    assert fake.bot_messages(CHAT) == []  # a draft is not a message
    with pytest.raises(BadRequest):
        await bot.send_message_draft(GROUP, 7, "no drafts in groups")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message_draft(CHAT, 7, "x" * 4097)


# ---- errors: the real texts through PTB's exception classes -----------------------------------


async def test_text_errors(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.add_chat(CHAT)
    with pytest.raises(BadRequest, match="^Message text is empty$"):
        await bot.send_message(CHAT, "")
    with pytest.raises(BadRequest, match="^Message text is empty$"):
        await bot.send_message(CHAT, "  \n ")
    with pytest.raises(BadRequest, match="^Chat not found$"):
        await bot.send_message(999, "who?")
    with pytest.raises(BadRequest, match="^Message to edit not found$"):
        await bot.edit_message_text("new", CHAT, 77)
    sent = await bot.send_message(CHAT, "same")
    with pytest.raises(BadRequest) as not_modified:
        await bot.edit_message_text("same", CHAT, sent.message_id)
    assert str(not_modified.value) == (
        "Message is not modified: specified new message content and reply markup are exactly the same "
        "as a current content and reply markup of the message"
    )
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "same  ", CHAT, sent.message_id
        )  # Telegram trims trailing spaces
    calls = fake.calls_for("editMessageText", CHAT)
    assert calls[-1].status == 400 and calls[-1].description.startswith(
        "Bad Request: message is not modified"
    )


async def test_4096_characters_pass_and_4097_fail(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.add_chat(CHAT)
    await bot.send_message(CHAT, "я" * 4096)
    with pytest.raises(BadRequest, match="^Message is too long$"):
        await bot.send_message(CHAT, "я" * 4097)
    emoji = "😀" * 4096  # 4096 code points, 8192 UTF-16 units: still allowed
    await bot.send_message(CHAT, emoji)
    await bot.send_message(
        CHAT, "*" + "a" * 4096 + "*", parse_mode="MarkdownV2"
    )  # counted after parsing
    sent = await bot.send_message(CHAT, "short")
    with pytest.raises(BadRequest, match="^Message is too long$"):
        await bot.edit_message_text("b" * 4097, CHAT, sent.message_id)
    assert [len(m.text) for m in fake.bot_messages(CHAT)] == [4096, 4096, 4096, 5]


async def test_caption_1024_passes_and_1025_fails(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.add_chat(CHAT)
    await bot.send_photo(CHAT, b"img", caption="c" * 1024)
    with pytest.raises(BadRequest, match="^Message caption is too long$"):
        await bot.send_photo(CHAT, b"img", caption="c" * 1025)
    assert [len(m.caption) for m in fake.bot_messages(CHAT)] == [1024]


async def test_photo_over_10_mb_is_refused(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.add_chat(CHAT)
    await bot.send_photo(CHAT, b"x" * (10 * 1024 * 1024))
    with pytest.raises(BadRequest, match="Photo_save_file_invalid"):
        await bot.send_photo(CHAT, b"x" * (10 * 1024 * 1024 + 1))
    with pytest.raises(BadRequest, match="Wrong file identifier/http url specified"):
        await bot.send_photo(CHAT, "not-a-file-id")


async def test_blocked_user_and_bad_token(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.send_message(CHAT, "hi")
    fake.block(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hello?")
    stranger = telegram.Bot("999:wrong", base_url=fake.base_url, base_file_url=fake.base_file_url)
    try:
        with pytest.raises(InvalidToken):
            await stranger.initialize()
    finally:
        await stranger.request.shutdown()
    assert fake.calls[-1].status == 401 and fake.calls[-1].description == "Unauthorized"


async def test_unknown_method_and_raw_http_forms(fake: FakeTelegram) -> None:
    fake.add_chat(CHAT)
    base = f"{fake.base_url}{fake.token}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/noSuchMethod") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        async with http.get(
            f"{base}/SENDMESSAGE", params={"chat_id": str(CHAT), "text": "by query"}
        ) as response:
            assert (await response.json())["result"]["text"] == "by query"
        body = {
            "chat_id": CHAT,
            "text": "by json",
            "entities": [{"type": "bold", "offset": 3, "length": 4}],
        }
        async with http.post(f"{base}/sendMessage", json=body) as response:
            assert (await response.json())["result"]["entities"] == [
                {"type": "bold", "offset": 3, "length": 4}
            ]
    assert [c.method for c in fake.calls] == ["noSuchMethod", "sendMessage", "sendMessage"]
    assert fake.calls[-1].params["entities"][0]["type"] == "bold"


# ---- parse modes and entities ------------------------------------------------------------------


async def test_invalid_markdown_v2_fails_with_tdlib_reasons(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    fake.add_chat(CHAT)
    with pytest.raises(BadRequest) as reserved:
        await bot.send_message(CHAT, "Hello world.", parse_mode="MarkdownV2")
    assert (
        str(reserved.value)
        == "Can't parse entities: character '.' is reserved and must be escaped with the preceding '\\'"
    )
    with pytest.raises(
        BadRequest, match="Can't parse entities: can't find end of bold entity at byte offset 6"
    ):
        await bot.send_message(CHAT, "Hello *world", parse_mode="MarkdownV2")
    with pytest.raises(
        BadRequest,
        match="Can't parse entities: can't find end of the entity starting at byte offset 5",
    ):
        await bot.send_message(CHAT, "Hello_world", parse_mode="Markdown")
    with pytest.raises(BadRequest, match='unsupported start tag "br" at byte offset 2'):
        await bot.send_message(CHAT, "a <br> b", parse_mode="HTML")
    with pytest.raises(BadRequest, match="unmatched end tag"):
        await bot.send_message(CHAT, "<b>x</i>", parse_mode="HTML")
    assert fake.bot_messages(CHAT) == []


async def test_valid_markdown_v2_parses_into_entities(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    fake.add_chat(CHAT)
    text = "*bold _italic_* __under__ ~gone~ ||hidden|| `x_y` [site](https://example.com/a\\)b) 1\\+1\\=2\\!\n```python\nprint(1)\n```"
    sent = await bot.send_message(CHAT, text, parse_mode="MarkdownV2")
    stored = fake.bot_messages(CHAT)[0]
    assert stored.text == "bold italic under gone hidden x_y site 1+1=2!\nprint(1)"
    assert stored.entities == [
        {"type": "bold", "offset": 0, "length": 11},
        {"type": "italic", "offset": 5, "length": 6},
        {"type": "underline", "offset": 12, "length": 5},
        {"type": "strikethrough", "offset": 18, "length": 4},
        {"type": "spoiler", "offset": 23, "length": 6},
        {"type": "code", "offset": 30, "length": 3},
        {"type": "text_link", "offset": 34, "length": 4, "url": "https://example.com/a)b"},
        {"type": "pre", "offset": 46, "length": 8, "language": "python"},
    ]
    assert sent.text == stored.text and [e.type for e in sent.entities][-1] == MessageEntity.PRE


def test_html_and_legacy_markdown_parse() -> None:
    text, entities = parse_text(
        '<b>bold</b> &lt;tag&gt; &amp; <a href="https://example.com">link</a> '
        '<pre><code class="language-py">x = 1</code></pre>',
        "HTML",
    )
    assert text == "bold <tag> & link x = 1"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "text_link", "offset": 13, "length": 4, "url": "https://example.com"},
        {"type": "pre", "offset": 18, "length": 5, "language": "py"},
    ]
    text, entities = parse_text("*b* _i_ `c` [l](http://x.org)", "Markdown")
    assert text == "b i c l"
    assert [e["type"] for e in entities] == ["bold", "italic", "code", "text_link"]
    with pytest.raises(Exception, match='Can\'t find end tag corresponding to start tag "i"'):
        parse_text("<i>open", "html")


def test_blockquote_and_trimming() -> None:
    text, entities = parse_text(">quoted line\n>second\nafter", "MarkdownV2")
    assert text == "quoted line\nsecond\nafter"
    assert entities == [{"type": "blockquote", "offset": 0, "length": 18}]
    text, entities = parse_text("  \n*hi* ", "MarkdownV2")
    assert (text, entities) == ("hi", [{"type": "bold", "offset": 0, "length": 2}])


async def test_entities_are_checked_in_utf16_units(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.add_chat(CHAT)
    text = "👍 ok"  # the emoji is 2 UTF-16 code units: "ok" is at offset 3
    assert utf16_len(text) == 5
    sent = await bot.send_message(CHAT, text, entities=[MessageEntity("bold", 3, 2)])
    assert sent.parse_entity(sent.entities[0]) == "ok"
    with pytest.raises(BadRequest, match="Can't parse entities: .*beyond the end of the text"):
        await bot.send_message(CHAT, text, entities=[MessageEntity("bold", 3, 3)])
    with pytest.raises(BadRequest, match="Can't parse entities: unsupported entity type"):
        await bot.send_message(CHAT, "x", entities=[MessageEntity("sparkle", 0, 1)])
    with pytest.raises(BadRequest, match="Can't parse entities: .*needs a valid url"):
        await bot.send_message(CHAT, "x", entities=[MessageEntity("text_link", 0, 1)])
    check_entities("code", [{"type": "pre", "offset": 0, "length": 4, "language": "go"}])


# ---- flood control ------------------------------------------------------------------------------


async def test_fourth_private_write_in_one_instant_gets_429(
    flood_bot: telegram.Bot, flood_fake: FakeTelegram, clock: ManualClock
) -> None:
    flood_fake.add_chat(CHAT)
    first = await flood_bot.send_message(CHAT, "1")
    await flood_bot.edit_message_text("1 2", CHAT, first.message_id)
    await flood_bot.send_chat_action(CHAT, "typing")  # not a write
    await flood_bot.send_message(CHAT, "3")
    with pytest.raises(RetryAfter) as flood:
        await flood_bot.send_message(CHAT, "4")
    assert flood.value.retry_after == dtm.timedelta(seconds=1)
    last = flood_fake.calls[-1]
    assert (last.status, last.retry_after, last.description) == (
        429,
        1,
        "Too Many Requests: retry after 1",
    )
    assert flood_fake.count_429() == 1
    clock.advance(0.5)
    with pytest.raises(
        RetryAfter
    ):  # half a token: still empty, and the failed call consumed nothing
        await flood_bot.send_message(CHAT, "4")
    clock.advance(0.5)
    await flood_bot.send_message(CHAT, "4")
    assert [m.text for m in flood_fake.bot_messages(CHAT)] == ["1 2", "3", "4"]


async def test_sixth_group_write_gets_429_with_three_seconds(
    flood_bot: telegram.Bot, flood_fake: FakeTelegram, clock: ManualClock
) -> None:
    flood_fake.add_chat(GROUP, chat_type="supergroup")
    for n in range(5):
        await flood_bot.send_message(GROUP, f"m{n}")
    with pytest.raises(RetryAfter) as flood:
        await flood_bot.send_message(GROUP, "m5")
    assert flood.value.retry_after == dtm.timedelta(seconds=3)  # 20 per minute: a token every 3 s
    clock.advance(2.9)
    with pytest.raises(RetryAfter) as flood:
        await flood_bot.send_message(GROUP, "m5")
    assert flood.value.retry_after == dtm.timedelta(seconds=1)
    clock.advance(0.1)
    await flood_bot.send_message(GROUP, "m5")


async def test_thirty_first_write_across_chats_hits_the_bot_bucket(
    flood_bot: telegram.Bot, flood_fake: FakeTelegram
) -> None:
    for chat in range(1, 32):
        flood_fake.add_chat(chat)
    for chat in range(1, 31):
        await flood_bot.send_message(chat, "hi")
    with pytest.raises(RetryAfter) as flood:
        await flood_bot.send_message(31, "hi")
    assert flood.value.retry_after == dtm.timedelta(seconds=1)
    async with aiohttp.ClientSession() as http:
        url = f"{flood_fake.base_url}{flood_fake.token}/sendMessage"
        async with http.post(url, data={"chat_id": "31", "text": "hi"}) as response:
            assert response.status == 429 and response.headers["Retry-After"] == "1"
            assert (await response.json())["parameters"] == {"retry_after": 1}


async def test_non_writes_and_failed_writes_are_never_429(
    flood_bot: telegram.Bot, flood_fake: FakeTelegram
) -> None:
    flood_fake.add_chat(CHAT)
    for _ in range(40):
        await flood_bot.send_chat_action(CHAT, "typing")
        with pytest.raises(BadRequest):
            await flood_bot.send_message(CHAT, "")
    await flood_bot.get_me()
    await flood_bot.get_updates()
    assert flood_fake.count_429() == 0
    for n in range(3):
        await flood_bot.send_message(CHAT, str(n))


async def test_flood_false_never_answers_429(clock: ManualClock) -> None:
    async with FakeTelegram(clock=clock, flood=False) as server:
        server.add_chat(GROUP, chat_type="group")
        async with telegram.Bot(server.token, base_url=server.base_url) as client:
            for n in range(40):
                await client.send_message(GROUP, f"m{n}")
        assert server.count_429() == 0 and len(server.bot_messages(GROUP)) == 40


# ---- fault injection ------------------------------------------------------------------------


async def test_set_failure_answers_the_next_calls_then_recovers(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    fake.add_chat(CHAT)
    sent = await bot.send_message(CHAT, "start")
    fake.set_failure(
        "editMessageText", status=429, description="Too Many Requests: retry after 7", retry_after=7
    )
    fake.set_failure("sendmessage", status=502, description="Bad Gateway", times=2)
    with pytest.raises(RetryAfter) as flood:
        await bot.edit_message_text("more", CHAT, sent.message_id)
    assert flood.value.retry_after == dtm.timedelta(seconds=7)
    await bot.edit_message_text("more", CHAT, sent.message_id)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(CHAT, "x")
    await bot.send_message(CHAT, "x")
    assert [c.status for c in fake.calls_for("sendMessage")] == [200, 502, 502, 200]
    assert fake.count_429() == 1
    with pytest.raises(ValueError):
        fake.set_failure("noSuchMethod", status=500, description="x")


async def test_delay_provokes_a_client_timeout(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.add_chat(CHAT)
    fake.delay("sendMessage", 0.5)
    with pytest.raises(telegram.error.TimedOut):
        await bot.send_message(CHAT, "slow", read_timeout=0.05)
    fake.delay("sendMessage", 0)
    await fake.wait_for(lambda: len(fake.bot_messages(CHAT)) == 1)  # the server still handled it


async def test_wait_for_times_out_with_a_helpful_message(fake: FakeTelegram) -> None:
    with pytest.raises(TimeoutError, match="still false after 0.05 s; 0 calls"):
        await fake.wait_for(lambda: False, timeout=0.05)


def test_manual_runner_serves_and_prints_the_base_url() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.telegram"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline()
        assert "http://127.0.0.1:" in line and "/bot" in line
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()


# ---- more of what the bot meets --------------------------------------------------------------


async def test_user_media_messages_parse_in_ptb(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.send_message(CHAT, None, sticker=True)
    fake.send_message(CHAT, None, voice=b"OggS voice bytes")
    fake.send_message(CHAT, None, document=b"report", caption="read this")
    sticker, voice, document = (u.message for u in await bot.get_updates())
    assert sticker.sticker is not None and sticker.text is None
    assert voice.voice.file_size == len(b"OggS voice bytes")
    assert (
        bytes(await (await voice.voice.get_file()).download_as_bytearray()) == b"OggS voice bytes"
    )
    assert document.document is not None and document.caption == "read this"
    assert [m.kind for m in fake.messages(CHAT)] == ["sticker", "voice", "document"]


@pytest.mark.parametrize(
    "markdown",
    [
        "Here is **bold**, _italic_ and `inline code`.\n\n```python\nprint('a_b*c')  # [not a link](x)\n```\n\nDone. 1 + 1 = 2! (really) #tag",
        "# Title\n\n- item one\n- item *two*\n\n> a quote\n> more\n\n1. first\n2. second\n\n[link](https://example.com/a_(b)) ~~gone~~",
        "| a | b |\n|---|---|\n| 1 | 2 |\n\nmath: a_b * c = {x} [y] & \\ backslash, emoji 😀 and *😀*",
    ],
)
async def test_telegramify_markdown_output_is_accepted(
    bot: telegram.Bot, fake: FakeTelegram, markdown: str
) -> None:
    import telegramify_markdown

    fake.add_chat(CHAT)
    await bot.send_message(
        CHAT, telegramify_markdown.markdownify(markdown), parse_mode="MarkdownV2"
    )
    shown = fake.bot_messages(CHAT)[0]
    assert shown.entities and "**" not in shown.text and "```" not in shown.text


async def test_reply_to_a_missing_message(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.add_chat(CHAT)
    with pytest.raises(BadRequest, match="^Message to be replied not found$"):
        await bot.send_message(CHAT, "answer", reply_to_message_id=99)
    sent = await bot.send_message(
        CHAT, "answer", reply_to_message_id=99, allow_sending_without_reply=True
    )
    assert sent.reply_to_message is None and fake.bot_messages(CHAT)[0].reply_to_message_id is None


async def test_edit_caption_and_text_of_the_wrong_kind(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    fake.send_message(CHAT, "mine")
    photo = await bot.send_photo(CHAT, b"img", caption="old")
    edited = await bot.edit_message_caption(
        CHAT, photo.message_id, caption="<i>new</i>", parse_mode="HTML"
    )
    assert edited.caption == "new" and fake.bot_messages(CHAT)[0].caption_entities == [
        {"type": "italic", "offset": 0, "length": 3}
    ]
    with pytest.raises(BadRequest, match="^There is no text in the message to edit$"):
        await bot.edit_message_text("text", CHAT, photo.message_id)
    with pytest.raises(BadRequest, match="^Message can't be edited$"):
        await bot.edit_message_text("not yours", CHAT, 1)
    with pytest.raises(BadRequest, match="^Unsupported parse_mode$"):
        await bot.send_message(CHAT, "x", parse_mode="BBCode")


async def test_draft_id_must_be_non_zero(bot: telegram.Bot, fake: FakeTelegram) -> None:
    fake.add_chat(CHAT)
    with pytest.raises(BadRequest, match="draft_id"):
        await bot.send_message_draft(CHAT, 0, "x")
    assert await bot.send_message_draft(CHAT, 1) is True  # Bot API 10.0: text is optional
    assert fake.drafts == [
        {
            "chat_id": CHAT,
            "draft_id": 1,
            "text": "",
            "entities": [],
            "message_thread_id": None,
            "time": fake.clock(),
        }
    ]


@pytest.mark.parametrize(
    ("text", "mode", "reason"),
    [
        ("Привет *мир", "MarkdownV2", "Can't find end of Bold entity at byte offset 13"),
        ("__under", "MarkdownV2", "Can't find end of Underline entity at byte offset 0"),
        ("```python\ncode", "MarkdownV2", "Can't find end of PreCode entity at byte offset 0"),
        ("[text](https://x.org", "MarkdownV2", "Can't find end of a URL at byte offset 7"),
        (
            "a | b",
            "MarkdownV2",
            "Character '|' is reserved and must be escaped with the preceding '\\'",
        ),
        ("`code", "Markdown", "Can't find end of the entity starting at byte offset 0"),
        ("</b>", "HTML", "Unexpected end tag at byte offset 0"),
        ("<b>bold", "HTML", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b", "HTML", "Unclosed start tag at byte offset 0"),
        ("1 < 2", "HTML", 'Unsupported start tag "" at byte offset 2'),
        (
            "<a href=https://x.org>l</a>",
            "HTML",
            'Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0',
        ),
        (
            '<a href="x" target>',
            "HTML",
            'Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0',
        ),
        ("<span>x</span>", "HTML", 'Tag "span" must have class "tg-spoiler"'),
    ],
)
def test_markup_errors_name_the_place(text: str, mode: str, reason: str) -> None:
    from tests.fakes.telegram import EntityError

    with pytest.raises(EntityError) as error:
        parse_text(text, mode)
    assert str(error.value) == reason


@pytest.mark.parametrize(
    ("text", "mode", "plain", "entities"),
    [
        (
            "[example\\.org]",
            "MarkdownV2",
            "example.org",
            [{"type": "text_link", "offset": 0, "length": 11, "url": "http://example.org"}],
        ),
        ("[not a url]", "MarkdownV2", "not a url", []),
        (
            "![👍](tg://emoji?id=5368324170671202286)",
            "MarkdownV2",
            "👍",
            [
                {
                    "type": "custom_emoji",
                    "offset": 0,
                    "length": 2,
                    "custom_emoji_id": "5368324170671202286",
                }
            ],
        ),
        ("*a _b_ c*", "Markdown", "a _b_ c", [{"type": "bold", "offset": 0, "length": 7}]),
        ("&amp;lt; &#128512; &nbsp; &unknown;", "HTML", "&lt; 😀 &nbsp; &unknown;", []),
        (
            "<tg-spoiler>s</tg-spoiler><span class=\"tg-spoiler\">p</span><a href='https://x.org'>l</a>",
            "HTML",
            "spl",
            [
                {"type": "spoiler", "offset": 0, "length": 1},
                {"type": "spoiler", "offset": 1, "length": 1},
                {"type": "text_link", "offset": 2, "length": 1, "url": "https://x.org"},
            ],
        ),
        (
            "<blockquote expandable>q</blockquote><b></b>",
            "HTML",
            "q",
            [{"type": "expandable_blockquote", "offset": 0, "length": 1}],
        ),
        ("plain *text*", None, "plain *text*", []),
    ],
)
def test_markup_parses(text: str, mode: str | None, plain: str, entities: list[dict]) -> None:
    assert parse_text(text, mode) == (plain, entities)


async def test_user_side_keeps_chat_settings_and_uses_text_as_caption(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    forum = {"chat_type": "supergroup", "user_id": 7}
    fake.send_message(GROUP, "first", is_forum=True, title="Forum", message_thread_id=3, **forum)
    fake.send_message(GROUP, "second", message_thread_id=3, **forum)  # flags not repeated
    fake.send_message(
        CHAT, "what is on it?", photo=True, entities=[MessageEntity("bold", 0, 4).to_dict()]
    )
    group_second, photo = (u.message for u in (await bot.get_updates())[1:])
    assert group_second.chat.is_forum and group_second.chat.title == "Forum"
    assert group_second.is_topic_message and group_second.message_thread_id == 3
    assert photo.text is None and photo.caption == "what is on it?"
    assert photo.parse_caption_entity(photo.caption_entities[0]) == "what"
    with pytest.raises(ValueError, match="beyond the end"):
        fake.send_message(CHAT, "hi", entities=[{"type": "bold", "offset": 1, "length": 5}])


async def test_an_edit_without_markup_removes_the_keyboard(
    bot: telegram.Bot, fake: FakeTelegram
) -> None:
    fake.add_chat(CHAT)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Stop", callback_data="stop")]])
    sent = await bot.send_message(CHAT, "streaming", reply_markup=markup)
    await bot.edit_message_text("streaming…", CHAT, sent.message_id, reply_markup=markup)
    assert fake.bot_messages(CHAT)[0].reply_markup is not None
    await bot.edit_message_text("done", CHAT, sent.message_id)
    assert fake.bot_messages(CHAT)[0].reply_markup is None


async def test_people_can_play_the_user_over_http(bot: telegram.Bot, fake: FakeTelegram) -> None:
    origin = fake.base_url.removesuffix("/bot")
    async with aiohttp.ClientSession() as http:
        url = f"{origin}/_fake/send_message"
        async with http.post(url, params={"chat_id": "7", "text": "hello bot"}) as response:
            assert (await response.json())["result"]["message"]["text"] == "hello bot"
        await bot.send_message(7, "hello human")
        async with http.get(f"{origin}/_fake/messages", params={"chat_id": "7"}) as response:
            shown = (await response.json())["result"]
        async with http.post(url, params={"chat_id": "x"}) as response:
            assert response.status == 400
    assert shown == [
        {"message_id": 1, "from_bot": False, "text": "hello bot"},
        {"message_id": 2, "from_bot": True, "text": "hello human"},
    ]
