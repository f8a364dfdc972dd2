"""The reply streamer against the fake Bot API server, with a real PTB ExtBot as the client.

Most tests run the fake's flood control 10x faster than Telegram (and our FloodControl just
below it) with short edit intervals, so they are quick; the 20-chat test uses the real rates.
Nothing here measures time: the assertions are about what the user ends up seeing and which
Bot API calls were answered how.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import telegram
import telegramify_markdown
from telegram.error import Forbidden
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.flood import FloodControl
from bot.flood_limiter import FloodRateLimiter
from bot.formatting import render, utf16_len
from bot.storage import ReplyStatus, Store
from bot.streamer import ReplyStreamer, StreamedReply
from tests.bot.conftest import RunningBot
from tests.bot.test_flood import FakeTime
from tests.fakes.providers import Reply
from tests.fakes.telegram import FakeTelegram, tiny_png

CHAT = 1001
GROUP = -2002
PROSE = "The quick brown fox jumps over the lazy dog. " * 12


@pytest.fixture
async def fake_tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(private_rate=10.0, group_rate=2.0) as server:
        server.send_message(CHAT, "hi")
        server.send_message(GROUP, "hi all", chat_type="group", title="G", user_id=7)
        yield server


def fast_flood() -> FloodControl:
    return FloodControl(private_rate=9.0, group_rate=1.8)


@pytest.fixture
async def ext_bot(fake_tg: FakeTelegram) -> AsyncIterator[ExtBot[Any]]:
    bot: ExtBot[Any] = ExtBot(fake_tg.token, base_url=fake_tg.base_url, base_file_url=fake_tg.base_file_url,
                              rate_limiter=FloodRateLimiter(fast_flood()))
    async with bot:
        yield bot


@pytest.fixture
def streamer(ext_bot: ExtBot[Any]) -> ReplyStreamer:
    return ReplyStreamer(ext_bot, ext_bot.rate_limiter.flood, edit_interval=0.1, group_edit_interval=0.3)


async def pieces(text: str, size: int = 20, delay: float = 0.01) -> AsyncIterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]
        await asyncio.sleep(delay)


def statuses(fake: FakeTelegram, method: str, chat_id: int = CHAT) -> list[int]:
    return [c.status for c in fake.calls_for(method, chat_id)]


def shown(fake: FakeTelegram, chat_id: int = CHAT) -> str:
    return "\n\n".join(m.text or "" for m in fake.bot_messages(chat_id))


async def test_final_text_is_the_source_text_as_rendered(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    reply = await streamer.stream(CHAT, pieces(PROSE, delay=0.02), reply_to_message_id=1)

    assert reply == StreamedReply(PROSE.strip(), reply.message_ids, None, True)
    (message,) = fake_tg.bot_messages(CHAT)
    assert reply.message_ids == [message.message_id]
    assert message.text == render(PROSE)[0]
    assert message.reply_to_message_id == 1
    assert message.edits >= 2  # it grew on screen
    assert not fake_tg.calls_for("sendChatAction", CHAT)  # the text came at once: no typing
    assert {c.status for c in fake_tg.calls} == {200}  # no 429, no "not modified", no parse error


async def test_typing_shows_while_the_first_text_is_late(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    async def late() -> AsyncIterator[str]:
        await asyncio.sleep(0.5)  # longer than the streamer's typing_delay (0.2 s)
        yield "At last."

    await streamer.stream(CHAT, late())

    methods = [c.method for c in fake_tg.calls if c.chat_id == CHAT and c.method != "getUpdates"]
    assert methods[-2:] == ["sendChatAction", "sendMessage"]
    assert fake_tg.calls_for("sendChatAction", CHAT)[0].params["action"] == "typing"


async def test_first_text_is_sent_as_soon_as_it_arrives(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    release = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        yield "Hello"
        await release.wait()
        yield ", world"

    task = asyncio.create_task(streamer.stream(CHAT, source()))
    await fake_tg.wait_for(lambda: bool(fake_tg.bot_messages(CHAT)))
    assert [m.text for m in fake_tg.bot_messages(CHAT)] == ["Hello"]
    release.set()
    await task
    assert [m.text for m in fake_tg.bot_messages(CHAT)] == ["Hello, world"]


async def test_typing_is_repeated_until_the_first_text(fake_tg: FakeTelegram, ext_bot: ExtBot[Any]) -> None:
    streamer = ReplyStreamer(ext_bot, fast_flood(), typing_interval=0.05)

    async def slow_start() -> AsyncIterator[str]:
        await fake_tg.wait_for(lambda: len(fake_tg.calls_for("sendChatAction", CHAT)) >= 3)
        yield "Finally."

    await streamer.stream(CHAT, slow_start())
    methods = [c.method for c in fake_tg.calls if c.chat_id == CHAT]
    first_text = methods.index("sendMessage")
    assert methods[:3] == ["sendChatAction"] * 3 and first_text >= 3


async def test_no_edit_is_sent_when_the_text_did_not_change(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    async def source() -> AsyncIterator[str]:
        yield "Stable text."
        await fake_tg.wait_for(lambda: bool(fake_tg.bot_messages(CHAT)))
        for blank in [" ", "\n", "  ", "\n\n"]:  # changes the draft, not what is shown
            await asyncio.sleep(0.15)
            yield blank

    reply = await streamer.stream(CHAT, source())
    assert reply.text == "Stable text."  # stripped, as Telegram shows it
    assert statuses(fake_tg, "sendMessage") == [200]
    assert statuses(fake_tg, "editMessageText") == []
    assert fake_tg.bot_messages(CHAT)[0].text == "Stable text."


async def test_intermediate_edits_are_paced_and_coalesced(fake_tg: FakeTelegram, ext_bot: ExtBot[Any]) -> None:
    # 150 chunks: one edit per chunk would be 150 writes; one per 0.3 s interval is a handful
    streamer = ReplyStreamer(ext_bot, fast_flood(), edit_interval=0.3)
    text = "word " * 150
    await streamer.stream(CHAT, pieces(text, size=5, delay=0.005))
    writes = statuses(fake_tg, "sendMessage") + statuses(fake_tg, "editMessageText")
    assert 2 <= len(writes) <= 10
    assert set(writes) == {200}
    assert fake_tg.bot_messages(CHAT)[0].text == render(text)[0]


async def test_a_429_in_the_middle_still_ends_with_the_full_text(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    fake_tg.set_failure("editMessageText", status=429, description="Too Many Requests: retry after 1", retry_after=1)
    reply = await streamer.stream(CHAT, pieces(PROSE, delay=0.02))
    assert statuses(fake_tg, "editMessageText")[0] == 429
    assert statuses(fake_tg, "editMessageText")[-1] == 200
    assert fake_tg.bot_messages(CHAT)[0].text == render(PROSE)[0]
    assert reply.delivered


async def test_a_429_on_the_final_write_is_retried(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    async def source() -> AsyncIterator[str]:
        yield "First part. "
        await fake_tg.wait_for(lambda: bool(fake_tg.bot_messages(CHAT)))
        fake_tg.set_failure("editMessageText", status=429, description="Too Many Requests: retry after 1",
                            retry_after=1)
        yield "Last part."  # the source ends right after: this is the final write

    await streamer.stream(CHAT, source())
    assert statuses(fake_tg, "editMessageText") == [429, 200]
    assert [m.text for m in fake_tg.bot_messages(CHAT)] == ["First part. Last part."]


async def test_a_network_error_on_the_final_write_is_retried(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    async def source() -> AsyncIterator[str]:
        yield "Before. "
        await fake_tg.wait_for(lambda: bool(fake_tg.bot_messages(CHAT)))
        fake_tg.set_failure("editMessageText", status=502, description="Bad Gateway", times=2)
        yield "After."

    await streamer.stream(CHAT, source())
    assert statuses(fake_tg, "editMessageText") == [502, 502, 200]
    assert fake_tg.bot_messages(CHAT)[0].text == "Before. After."


async def test_a_parse_error_is_resent_as_plain_text(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    fake_tg.set_failure("sendMessage", status=400, description="Bad Request: can't parse entities: broken")
    await streamer.stream(CHAT, pieces("Some **bold** text."))
    assert statuses(fake_tg, "sendMessage") == [400, 200]
    (message,) = fake_tg.bot_messages(CHAT)
    assert (message.text, message.entities) == ("Some bold text.", [])


async def test_a_deleted_message_is_replaced_by_a_new_one(fake_tg: FakeTelegram, streamer: ReplyStreamer,
                                                          ext_bot: ExtBot[Any]) -> None:
    async def source() -> AsyncIterator[str]:
        yield "Start. "
        await fake_tg.wait_for(lambda: bool(fake_tg.bot_messages(CHAT)))
        await ext_bot.delete_message(CHAT, fake_tg.bot_messages(CHAT)[0].message_id)  # the user deletes it
        yield "End."

    reply = await streamer.stream(CHAT, source())
    (message,) = fake_tg.bot_messages(CHAT)
    assert message.text == "Start. End."
    assert reply.message_ids == [message.message_id]
    assert statuses(fake_tg, "editMessageText") == [400]


async def test_a_5000_character_reply_lands_whole_over_two_messages(fake_tg: FakeTelegram,
                                                                    streamer: ReplyStreamer) -> None:
    text = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 7 for i in range(25))
    assert 4096 < len(text) < 8192
    calls: list[tuple[str, list[int]]] = []

    async def on_write(so_far: str, message_ids: list[int]) -> None:
        calls.append((so_far, message_ids))

    reply = await streamer.stream(CHAT, pieces(text, size=400, delay=0.02), on_write=on_write)
    messages = fake_tg.bot_messages(CHAT)
    assert len(messages) == 2 and reply.message_ids == [m.message_id for m in messages]
    assert all(len(m.text or "") <= 4096 for m in messages)
    assert messages[0].text.endswith("amet")  # cut between paragraphs
    assert re.sub(r"\s+", " ", shown(fake_tg)) == re.sub(r"\s+", " ", render(text)[0])
    assert calls[-1] == (text.strip(), reply.message_ids)
    assert all(text.startswith(so_far) for so_far, _ in calls)


async def test_markdown_with_code_blocks_lands_with_entities(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    markdown = (
        "Here is **bold**, _italic_ and `inline code`.\n\n"
        "```python\nprint('a_b*c')  # [not a link](x)\n```\n\n"
        "Done. Special characters: 1 + 1 = 2! (really) #tag 😀 **emoji bold 😀**"
    )
    await streamer.stream(CHAT, pieces(markdown, size=7, delay=0.005))
    (message,) = fake_tg.bot_messages(CHAT)
    assert (message.text, message.entities) == (render(markdown)[0], [e.to_dict() for e in sorted(
        render(markdown)[1], key=lambda e: (e.offset, -e.length))])
    pre = next(e for e in message.entities if e["type"] == "pre")
    assert pre["language"] == "python"
    assert {c.status for c in fake_tg.calls} == {200}


async def test_a_source_failing_midway_lands_the_text_so_far(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    failure = ConnectionResetError("provider went away")

    async def source() -> AsyncIterator[str]:
        yield "Partial answer, "
        yield "cut short"
        raise failure

    reply = await streamer.stream(CHAT, source())
    assert reply.error is failure
    assert reply.text == "Partial answer, cut short"
    assert [m.text for m in fake_tg.bot_messages(CHAT)] == ["Partial answer, cut short"]


async def test_an_empty_source_sends_nothing(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    async def source() -> AsyncIterator[str]:
        for blank in ["", " ", "\n"]:
            yield blank

    reply = await streamer.stream(CHAT, source())
    assert (reply.text, reply.message_ids, reply.error) == ("", [], None)
    assert fake_tg.bot_messages(CHAT) == []


async def test_cancellation_lands_the_text_so_far(fake_tg: FakeTelegram, ext_bot: ExtBot[Any]) -> None:
    streamer = ReplyStreamer(ext_bot, fast_flood(), edit_interval=60)  # no edit before the cancel
    closed = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        try:
            yield "Shown at once. "
            await fake_tg.wait_for(lambda: bool(fake_tg.bot_messages(CHAT)))
            yield "Received, not yet shown."
            await asyncio.Event().wait()  # the provider hangs
        finally:
            closed.set()

    task = asyncio.create_task(streamer.stream(CHAT, source()))
    await fake_tg.wait_for(lambda: bool(fake_tg.bot_messages(CHAT)))
    await asyncio.sleep(0.05)
    assert [m.text for m in fake_tg.bot_messages(CHAT)] == ["Shown at once."]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [m.text for m in fake_tg.bot_messages(CHAT)] == ["Shown at once. Received, not yet shown."]
    assert closed.is_set()


async def test_a_blocked_bot_stops_the_stream_and_its_source(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    fake_tg.block(CHAT)
    closed = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        try:
            while True:
                yield "more "
                await asyncio.sleep(0.01)
        finally:
            closed.set()

    with pytest.raises(Forbidden):
        await streamer.stream(CHAT, source())
    assert closed.is_set()


async def test_on_write_failures_do_not_break_the_stream(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    async def on_write(so_far: str, message_ids: list[int]) -> None:
        raise RuntimeError("database is down")

    reply = await streamer.stream(CHAT, pieces("All of it arrives anyway."), on_write=on_write)
    assert fake_tg.bot_messages(CHAT)[0].text == "All of it arrives anyway."
    assert reply.delivered


async def test_group_reply_in_a_topic(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    async def late() -> AsyncIterator[str]:
        await asyncio.sleep(0.4)  # late enough for a typing action, which goes to the topic too
        async for piece in pieces(PROSE, delay=0.01):
            yield piece

    await streamer.stream(GROUP, late(), message_thread_id=5, reply_to_message_id=1)
    (message,) = fake_tg.bot_messages(GROUP)
    assert (message.text, message.message_thread_id, message.reply_to_message_id) == (render(PROSE)[0], 5, 1)
    assert fake_tg.calls_for("sendChatAction", GROUP)[0].params.get("message_thread_id") == 5
    assert fake_tg.count_429() == 0


async def test_works_with_a_plain_bot_without_a_rate_limiter(fake_tg: FakeTelegram) -> None:
    async with telegram.Bot(fake_tg.token, base_url=fake_tg.base_url) as plain_bot:
        streamer = ReplyStreamer(plain_bot, fast_flood(), edit_interval=0.1)
        await streamer.stream(CHAT, pieces(PROSE))
    assert fake_tg.bot_messages(CHAT)[0].text == render(PROSE)[0]


async def test_twenty_chats_at_once_get_no_429_with_real_flood_rates() -> None:
    chats = range(3001, 3021)
    text = "Streaming to many chats at once, word by word. " * 8
    async with FakeTelegram() as fake:  # Telegram's rates: 1 write/s per chat, 30/s per bot
        for chat_id in chats:
            fake.send_message(chat_id, "hi")
        flood = FloodControl()  # the production defaults
        async with ExtBot(fake.token, base_url=fake.base_url, rate_limiter=FloodRateLimiter(flood)) as bot:
            streamer = ReplyStreamer(bot, flood)
            replies = await asyncio.gather(
                *(streamer.stream(chat_id, pieces(text, size=12, delay=0.05)) for chat_id in chats))
        assert fake.count_429() == 0
        assert all(r.delivered and len(r.message_ids) == 1 for r in replies)
        assert all([m.text for m in fake.bot_messages(chat_id)] == [render(text)[0]] for chat_id in chats)
        edits = [c for c in fake.calls if c.method == "editMessageText"]
        assert len(edits) >= 20  # the replies grew on screen, not only a first and a final write


async def test_send_text_splits_and_puts_the_keyboard_on_the_last_part(fake_tg: FakeTelegram,
                                                                       streamer: ReplyStreamer) -> None:
    keyboard = telegram.InlineKeyboardMarkup([[telegram.InlineKeyboardButton("Again", callback_data="retry")]])
    text = "\n\n".join(f"Section {i}: " + "text " * 150 for i in range(8))
    ids = await streamer.send_text(CHAT, text, reply_markup=keyboard, reply_to_message_id=1)
    messages = fake_tg.bot_messages(CHAT)
    assert ids == [m.message_id for m in messages] and len(ids) == 2
    assert messages[0].reply_markup is None and messages[1].reply_markup is not None
    assert messages[0].reply_to_message_id == 1 and messages[1].reply_to_message_id is None
    assert re.sub(r"\s+", " ", shown(fake_tg)) == re.sub(r"\s+", " ", text.strip())


async def test_send_text_without_markdown_shows_the_text_as_typed(fake_tg: FakeTelegram,
                                                                  streamer: ReplyStreamer) -> None:
    await streamer.send_text(CHAT, "Use *stars* and `ticks` freely_", markdown=False)
    (message,) = fake_tg.bot_messages(CHAT)
    assert (message.text, message.entities) == ("Use *stars* and `ticks` freely_", [])


async def test_send_photo_uploads_with_a_short_caption(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    fake_tg.set_failure("sendPhoto", status=429, description="Too Many Requests: retry after 1", retry_after=1)
    image = tiny_png(4, 3)
    caption = "a cat on a mat " * 100
    message_id, file_id = await streamer.send_photo(CHAT, image, caption=caption)
    (message,) = fake_tg.bot_messages(CHAT)
    assert (message.message_id, message.photo, message.photo_file_id) == (message_id, image, file_id)
    kept = message.caption.removesuffix("…")
    assert len(message.caption) <= 1024 and caption.startswith(kept) and caption[len(kept)] == " "
    assert statuses(fake_tg, "sendPhoto") == [429, 200]
    assert fake_tg.calls_for("sendChatAction", CHAT)[0].params["action"] == "upload_photo"


# ---- exact pacing on a fake clock shared by the fake server, the flood control and the streamer ----


class Scripted:
    """A chunk source the test feeds by hand; ``end()`` finishes it."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    def push(self, chunk: str) -> None:
        self.queue.put_nowait(chunk)

    def end(self) -> None:
        self.queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[str]:
        while (chunk := await self.queue.get()) is not None:
            yield chunk


@pytest.fixture
async def virtual() -> AsyncIterator[tuple[FakeTime, FakeTelegram, ReplyStreamer]]:
    fake_time = FakeTime()
    async with FakeTelegram(clock=fake_time.clock) as fake:  # Telegram's rates, on the fake clock
        fake.send_message(CHAT, "hi")
        flood = FloodControl(clock=fake_time.clock, sleep=fake_time.sleep)
        async with ExtBot(fake.token, base_url=fake.base_url, rate_limiter=FloodRateLimiter(flood)) as bot:
            yield fake_time, fake, ReplyStreamer(bot, flood, clock=fake_time.clock, sleep=fake_time.sleep)


def writes(fake: FakeTelegram) -> list[tuple[str, float, int, str]]:
    return [(c.method, c.time, c.status, c.params.get("text", "")) for c in fake.calls
            if c.method in ("sendMessage", "editMessageText")]


async def test_edits_wait_for_the_interval_and_the_reserve_and_carry_the_latest_draft(
        virtual: tuple[FakeTime, FakeTelegram, ReplyStreamer]) -> None:
    fake_time, fake, streamer = virtual
    source = Scripted()
    task = asyncio.create_task(streamer.stream(CHAT, source))
    source.push("one")
    await fake.wait_for(lambda: len(writes(fake)) == 1)
    for word in [" two", " three"]:
        source.push(word)
        await fake_time.advance(0.3)
    await fake_time.advance(0.4)  # t = 1.0: the interval has passed, but only 2.9 tokens: no edit yet
    await asyncio.sleep(0.05)
    assert writes(fake) == [("sendMessage", 0.0, 200, "one")]
    await fake_time.advance(0.15)  # t = 1.15: the third token came back at 1/0.9 s
    await fake.wait_for(lambda: len(writes(fake)) == 2)
    method, at, status, text = writes(fake)[1]
    assert (method, status, text) == ("editMessageText", 200, "one two three")  # one edit, latest draft
    assert 1 / 0.9 <= at <= 1.15
    source.push(" four")
    source.end()  # the final write goes at once: no interval, a token was kept for it
    reply = await task
    assert writes(fake)[2:] == [("editMessageText", 1.15, 200, "one two three four")]
    assert reply.text == "one two three four"


async def test_a_429_on_the_final_write_waits_exactly_retry_after(
        virtual: tuple[FakeTime, FakeTelegram, ReplyStreamer]) -> None:
    fake_time, fake, streamer = virtual
    source = Scripted()
    task = asyncio.create_task(streamer.stream(CHAT, source))
    source.push("Almost")
    await fake.wait_for(lambda: len(writes(fake)) == 1)
    fake.set_failure("editMessageText", status=429, description="Too Many Requests: retry after 7", retry_after=7)
    source.push(" done.")
    source.end()
    await fake.wait_for(lambda: len(writes(fake)) == 2)
    await fake_time.advance(6.9)
    await asyncio.sleep(0.05)
    assert len(writes(fake)) == 2  # still waiting out retry_after
    await fake_time.advance(0.1)
    await task
    assert writes(fake) == [("sendMessage", 0.0, 200, "Almost"), ("editMessageText", 0.0, 429, "Almost done."),
                            ("editMessageText", 7.0, 200, "Almost done.")]


async def test_stop_ends_the_reply_where_it_is_and_closes_the_source(
    fake_tg: FakeTelegram, streamer: ReplyStreamer
) -> None:
    stop, closed = asyncio.Event(), asyncio.Event()

    async def endless() -> AsyncIterator[str]:
        try:
            yield "Once upon a time"
            await asyncio.Event().wait()  # a provider that never sends its next chunk
            yield "never shown"
        finally:
            closed.set()

    task = asyncio.create_task(streamer.stream(CHAT, endless(), stop=stop))
    await fake_tg.wait_for(lambda: bool(fake_tg.bot_messages(CHAT)))
    stop.set()
    reply = await asyncio.wait_for(task, 10)

    assert reply == StreamedReply("Once upon a time", reply.message_ids, None, True)
    assert closed.is_set()
    assert [m.text for m in fake_tg.bot_messages(CHAT)] == ["Once upon a time"]


# ---- a huge reply: work per write bounded, nothing lost (issue 8, defects 2 and 5) ----


async def test_an_html_snippet_reply_is_shown_as_typed(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    snippet = '<div class="card">\n<img src="a.png"> List<String>\n</div>\n<!-- end -->'
    reply = await streamer.stream(CHAT, pieces(snippet, size=9))
    assert [m.text for m in fake_tg.bot_messages(CHAT)] == [snippet]
    assert reply.text == snippet


async def test_work_per_write_does_not_grow_with_the_reply(fake_tg: FakeTelegram, streamer: ReplyStreamer,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[int] = []  # characters of Markdown in each conversion
    convert = telegramify_markdown.convert

    def counting(markdown: str, **kwargs: Any) -> Any:
        rendered.append(len(markdown))
        return convert(markdown, **kwargs)

    monkeypatch.setattr(telegramify_markdown, "convert", counting)
    paragraph = "Some **bold** words, `code` and _more_ text to fill the reply. " * 8
    text = "\n\n".join(f"{i}. {paragraph}" for i in range(120))  # ~62,000 characters

    async def flood_of_text() -> AsyncIterator[str]:  # as fast as a local model can write
        for start in range(0, len(text), 100):
            yield text[start : start + 100]
            await asyncio.sleep(0)

    reply = await streamer.stream(CHAT, flood_of_text())
    monkeypatch.undo()
    messages = fake_tg.bot_messages(CHAT)
    # each conversion saw at most the window of the current message, never the draft so far
    assert max(rendered) <= 4 * 4096 + 16 < len(text) // 3
    # a rollover is about log2(window) conversions of at most a window, an edit one
    assert sum(rendered) < 30 * 4 * 4096 * len(messages)
    assert reply.delivered and reply.text == text.strip()
    assert len(messages) >= 12 and all(utf16_len(m.text or "") <= 4096 for m in messages)
    assert re.sub(r"\s+", " ", shown(fake_tg)) == re.sub(r"\s+", " ", render(text)[0])


async def test_a_reply_past_max_reply_chars_is_cut_stored_and_its_provider_closed(
        make_bot: Callable[..., RunningBot]) -> None:
    bot = make_bot(max_reply_chars=6000, stream_edit_interval=0.2)
    await bot.start()
    endless = "An endless **story** goes on and on. " * 6000  # 222,000 characters, ~20 s of stream
    bot.providers.push("openai", Reply(endless, delta_chars=110, delay=0.01))
    bot.telegram.send_message(CHAT, "Tell me everything")

    notice = await bot.wait_for_containing(CHAT, "The reply was cut here", timeout=30)
    request = bot.providers.requests_for("openai")[-1]
    stopped_at = request.last_chunk_at
    assert stopped_at is not None and stopped_at - request.time < 10  # not the whole 20 s stream
    await asyncio.sleep(0.5)
    assert request.last_chunk_at == stopped_at  # the connection is closed: nothing more is written

    kept = endless[:6000].strip()
    texts = [m.text or "" for m in bot.telegram.bot_messages(CHAT) if m is not notice]
    assert re.sub(r"\s+", " ", " ".join(texts)) == re.sub(r"\s+", " ", render(kept)[0])
    assert "6,000 characters" in (notice.text or "")
    store = await Store.open(bot.settings.database_url, migrate=False)
    try:
        reply = (await store.history(CHAT))[-1]
    finally:
        await store.close()
    assert (reply.role, reply.status, reply.content) == ("assistant", ReplyStatus.STOPPED, kept)
    assert reply.error == "cut at MAX_REPLY_CHARS (6000 characters)"


# ---- a sendMessage whose answer comes too late (issue 8, defect 17) ----


@pytest.fixture
async def impatient_bot(fake_tg: FakeTelegram) -> AsyncIterator[ExtBot[Any]]:
    """A client that gives up on any answer after 0.3 s (PTB's default read timeout is 5 s)."""
    bot: ExtBot[Any] = ExtBot(fake_tg.token, base_url=fake_tg.base_url, request=HTTPXRequest(read_timeout=0.3),
                              rate_limiter=FloodRateLimiter(fast_flood()))
    async with bot:
        yield bot


async def two_parts(fake: FakeTelegram) -> AsyncIterator[str]:
    yield "First part. "
    await fake.wait_for(lambda: bool(fake.bot_messages(CHAT)))  # sent, its answer still on the way
    yield "Second part."


async def test_a_slow_answer_to_the_first_text_is_waited_for_not_resent(
        fake_tg: FakeTelegram, impatient_bot: ExtBot[Any]) -> None:
    streamer = ReplyStreamer(impatient_bot, impatient_bot.rate_limiter.flood, edit_interval=0.1)
    fake_tg.answer_late("sendMessage", 1.0)  # delivered at once, answered after the client's timeout
    reply = await streamer.stream(CHAT, two_parts(fake_tg))
    (message,) = fake_tg.bot_messages(CHAT)
    assert message.text == "First part. Second part."
    assert (reply.message_ids, reply.delivered) == ([message.message_id], True)
    assert len(fake_tg.calls_for("sendMessage", CHAT)) == 1


@pytest.mark.parametrize("late_answers", [1, 5])
async def test_a_lost_answer_gets_the_final_text_sent_once_more_never_again(
        fake_tg: FakeTelegram, impatient_bot: ExtBot[Any], late_answers: int) -> None:
    streamer = ReplyStreamer(impatient_bot, impatient_bot.rate_limiter.flood, edit_interval=0.1, send_timeout=0.3)
    fake_tg.answer_late("sendMessage", 1.0, times=late_answers)  # every one past send_timeout
    reply = await streamer.stream(CHAT, two_parts(fake_tg))
    # the first message's id never came: it cannot be edited; the final text is never lost,
    # and is never shown more than once after the text that may be on screen
    assert [m.text for m in fake_tg.bot_messages(CHAT)] == ["First part.", "First part. Second part."]
    assert len(fake_tg.calls_for("sendMessage", CHAT)) == 2
    assert fake_tg.calls_for("editMessageText", CHAT) == []
    known = [m.message_id for m in fake_tg.bot_messages(CHAT)][1:] if late_answers == 1 else []
    assert (reply.text, reply.message_ids) == ("First part. Second part.", known)
