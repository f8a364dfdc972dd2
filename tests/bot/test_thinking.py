"""The reply streamer with reasoning chunks, against the fake Bot API: the Thinking line while
only reasoning comes, the answer once it starts, and the reasoning above the answer in a
collapsed expandable blockquote (only when shown), within Telegram's 4,096 characters."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence

from bot.formatting import tail, utf16_len
from bot.streamer import ReplyStreamer
from bot.thinking import REASONING_ROOM
from providers import Reasoning
from tests.bot import test_streamer
from tests.fakes.telegram import FakeMessage, FakeTelegram

# The reply streamer's fixtures: the fake Bot API (flood control 10x faster) and a streamer.
fake_tg, ext_bot, streamer = test_streamer.fake_tg, test_streamer.ext_bot, test_streamer.streamer

CHAT = 1001
THOUGHT = "The user asks for the capital of France. That is Paris, certainly."
ANSWER = "The capital of France is **Paris**."
HEADING = re.compile(r"💭 Thought for \d+ seconds?")


async def source(*parts: str | Reasoning | float) -> AsyncIterator[str | Reasoning]:
    """The chunks in order; a float is a pause of that many seconds."""
    for part in parts:
        if isinstance(part, float):
            await asyncio.sleep(part)
        else:
            yield part
            await asyncio.sleep(0.005)


def words(text: str) -> list[Reasoning]:
    return [Reasoning(word) for word in re.findall(r"\S+\s*", text)]


def sent_texts(fake: FakeTelegram) -> list[str]:
    """Every text the bot sent or edited in, in order."""
    return [c.params["text"] for c in fake.calls
            if c.method in ("sendMessage", "editMessageText") and c.chat_id == CHAT
            and c.status == 200]


def text_of(message: FakeMessage) -> str:
    assert message.text is not None
    return message.text


def quote_of(message_entities: Sequence[dict]) -> list[dict]:
    return [e for e in message_entities if e["type"] == "expandable_blockquote"]


async def test_thinking_line_then_the_answer_without_the_reasoning(
        fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    reply = await streamer.stream(CHAT, source(*words(THOUGHT), 2.3, ANSWER))

    assert reply.text == ANSWER
    texts = sent_texts(fake_tg)
    assert texts[0] == "💭 Thinking… 0 s"  # the first write, as soon as reasoning came
    assert {"💭 Thinking… 1 s", "💭 Thinking… 2 s"} <= set(texts)  # the seconds go on
    (message,) = fake_tg.bot_messages(CHAT)
    assert message.text == "The capital of France is Paris."
    assert message.entities == [{"type": "bold", "offset": 25, "length": 5}]
    assert THOUGHT not in "".join(texts)


async def test_the_reasoning_above_the_answer_when_shown(
        fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    reply = await streamer.stream(CHAT, source(*words(THOUGHT), ANSWER), show_reasoning=True)

    assert reply.text == ANSWER  # the reasoning is not the reply's text
    (message,) = fake_tg.bot_messages(CHAT)
    heading, thought, answer = text_of(message).split("\n")
    assert HEADING.fullmatch(heading)
    assert (thought, answer) == (THOUGHT, "The capital of France is Paris.")
    block = utf16_len(f"{heading}\n{thought}")
    assert message.entities == [
        {"type": "expandable_blockquote", "offset": 0, "length": block},
        {"type": "bold", "offset": block + 1 + 25, "length": 5},
    ]


async def test_reasoning_with_no_answer(fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    reply = await streamer.stream(CHAT, source(*words(THOUGHT)))
    assert reply.text == ""
    (message,) = fake_tg.bot_messages(CHAT)
    assert re.fullmatch(r"💭 Thought for \d+ seconds?, without an answer\.", text_of(message))
    assert message.entities == []


async def test_reasoning_with_no_answer_shown(fake_tg: FakeTelegram,
                                              streamer: ReplyStreamer) -> None:
    await streamer.stream(CHAT, source(*words(THOUGHT)), show_reasoning=True)
    (message,) = fake_tg.bot_messages(CHAT)
    heading, thought, line = text_of(message).split("\n")
    assert HEADING.fullmatch(heading) and thought == THOUGHT
    assert line == "No answer came after the reasoning."
    assert quote_of(message.entities) == [
        {"type": "expandable_blockquote", "offset": 0, "length": utf16_len(heading + thought) + 1}]


async def test_blank_reasoning_shows_nothing(fake_tg: FakeTelegram,
                                             streamer: ReplyStreamer) -> None:
    await streamer.stream(CHAT, source(Reasoning("\n\n"), "Hi"), show_reasoning=True)
    assert sent_texts(fake_tg) == ["Hi"]


async def test_long_reasoning_is_trimmed_from_the_start_and_the_answer_stays_whole(
        fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    thought = " ".join(f"step{i}" for i in range(1500))  # 10,389 characters
    answer = "Answer: " + "forty-two " * 300  # 3,008 characters
    await streamer.stream(CHAT, source(Reasoning(thought), answer), show_reasoning=True)

    (message,) = fake_tg.bot_messages(CHAT)
    assert utf16_len(text_of(message)) <= 4096
    heading, shown_thought, shown_answer = text_of(message).split("\n")
    assert HEADING.fullmatch(heading)
    assert shown_answer == answer.strip()  # whole, in the first message
    assert shown_thought.startswith("…step") and thought.endswith(shown_thought[1:])
    assert shown_thought == tail(thought, 4096 - len(heading) - len(answer.strip()) - 2)
    (quote,) = quote_of(message.entities)
    assert quote == {"type": "expandable_blockquote", "offset": 0,
                     "length": utf16_len(f"{heading}\n{shown_thought}")}


async def test_a_long_answer_goes_on_in_more_messages_and_the_first_keeps_room(
        fake_tg: FakeTelegram, streamer: ReplyStreamer) -> None:
    thought = " ".join(f"step{i}" for i in range(1500))
    answer = "\n\n".join((f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 6).strip()
                         for i in range(40))  # about 7,000 characters
    await streamer.stream(CHAT, source(Reasoning(thought), *re.findall(r".{1,50}", answer,
                                                                       re.S)),
                          show_reasoning=True)

    first, *rest = fake_tg.bot_messages(CHAT)
    assert rest and all(utf16_len(text_of(m)) <= 4096 for m in (first, *rest))
    heading, shown_thought, first_part = text_of(first).split("\n", 2)
    assert HEADING.fullmatch(heading) and shown_thought.startswith("…")
    assert utf16_len(shown_thought) >= REASONING_ROOM - 64 - 2  # the room it was kept
    assert "\n\n".join([first_part, *(text_of(m) for m in rest)]) == answer  # the answer, whole
    assert [quote_of(m.entities) for m in rest] == [[] for _ in rest]
