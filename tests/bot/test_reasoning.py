"""End to end: reasoning models through the real bot, the fake Bot API and the fake
OpenAI-compatible server: what the chat sees, what is stored, what the next request carries."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from bot.formatting import utf16_len
from bot.storage import ReplyStatus
from tests.bot.conftest import RunningBot
from tests.bot.test_durability import settled_history
from tests.fakes.providers import Reply
from tests.fakes.telegram import FakeMessage

CHAT = 7001
THOUGHT = "The user asks about France. Its capital is Paris; say so briefly."
ANSWER = "The capital of France is **Paris**."
SHOWN_ANSWER = "The capital of France is Paris."
HEADING = r"💭 Thought for \d+ seconds?"


def first_texts(bot: RunningBot) -> list[str]:
    """The text of every sendMessage the bot made in the chat that Telegram took."""
    return [c.params["text"] for c in bot.telegram.calls_for("sendMessage", CHAT)
            if c.status == 200]


async def final_reply(bot: RunningBot, pattern: str) -> FakeMessage:
    """The bot's message whose text matches ``pattern`` as a whole (waited for)."""
    messages = await bot.wait_bot_text(
        CHAT, lambda ms: any(re.fullmatch(pattern, m.text or "", re.S) for m in ms))
    return next(m for m in messages if re.fullmatch(pattern, m.text or "", re.S))


async def next_request_carries_no_reasoning(bot: RunningBot, first_answer: str) -> None:
    """A second turn: the history sent holds the first answer only, never its reasoning."""
    bot.providers.push("openai", Reply("Second answer."))
    bot.telegram.send_message(CHAT, "And Germany?")
    await bot.wait_for_text(CHAT, "Second answer.")
    assert bot.provider_history(-1)[-2:] == [
        {"role": "assistant", "content": first_answer},
        {"role": "user", "content": "And Germany?"},
    ]
    sent = json.dumps(bot.providers.requests_for("openai")[-1].json, ensure_ascii=False)
    assert "Paris;" not in sent and "think" not in sent  # no trace of the reasoning


async def test_deepseek_reasoning_content_shown_above_the_answer(
        make_bot: Callable[..., RunningBot]) -> None:
    bot = make_bot(show_reasoning=True)
    await bot.start()
    bot.providers.push("openai", Reply(ANSWER, reasoning=THOUGHT, delay=0.05,
                                       reasoning_field="reasoning_content"))

    bot.telegram.send_message(CHAT, "What is the capital of France?")
    message = await final_reply(bot, f"{HEADING}\n{re.escape(THOUGHT)}\n{SHOWN_ANSWER}")

    assert first_texts(bot)[0].startswith("💭 Thinking… ")  # before the answer began
    block = utf16_len((message.text or "").rsplit("\n", 1)[0])
    assert message.entities == [
        {"type": "expandable_blockquote", "offset": 0, "length": block},
        {"type": "bold", "offset": block + 1 + 25, "length": 5},
    ]
    [*_, reply] = await settled_history(bot.settings.database_url, CHAT)
    assert (reply.content, reply.reasoning, reply.status) == (
        ANSWER, THOUGHT, ReplyStatus.COMPLETE)
    await next_request_carries_no_reasoning(bot, ANSWER)


async def test_openrouter_reasoning_hidden_by_default(bot: RunningBot) -> None:
    usage = {"prompt_tokens": 9, "completion_tokens": 30, "cost": 0.0003}
    bot.providers.push("openai", Reply(ANSWER, reasoning=THOUGHT, reasoning_field="reasoning",
                                       delay=0.05, usage=usage, usage_at="last"))

    bot.telegram.send_message(CHAT, "What is the capital of France?")
    message = await bot.wait_for_text(CHAT, SHOWN_ANSWER)

    assert message.entities == [{"type": "bold", "offset": 25, "length": 5}]
    assert first_texts(bot)[0].startswith("💭 Thinking… ")
    [*_, reply] = await settled_history(bot.settings.database_url, CHAT)
    assert (reply.content, reply.reasoning) == (ANSWER, THOUGHT)  # kept, even when not shown
    await next_request_carries_no_reasoning(bot, ANSWER)

    # The usage the stream reported (with OpenRouter's cost) is what /usage adds up; the second
    # turn's usage is the fake's word count, as OpenAI's servers report it when asked.
    second = bot.providers.requests_for("openai")[-1].json
    assert second["stream_options"] == {"include_usage": True}
    bot.telegram.send_message(CHAT, "/usage")
    report = await bot.wait_for_containing(CHAT, "Usage (days and months in UTC")
    [today] = [line for line in report.text.splitlines() if line.startswith("  today:")][:1]
    assert today.startswith("  today: 2 replies, ") and today.endswith(", cost 0.0003")
    completion = 30 + len("Second answer.".split())  # the fake counts words for the 2nd turn
    assert f" in, {completion} out), cost 0.0003" in today


async def test_think_tags_split_across_chunks_with_reasoning_switched_on(
        bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/reasoning on")
    await bot.wait_for_containing(CHAT, "Reasoning is shown")
    bot.providers.push("openai", Reply(f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}",
                                       delta_chars=3, delay=0.005))

    bot.telegram.send_message(CHAT, "What is the capital of France?")
    message = await final_reply(bot, f"{HEADING}\n{re.escape(THOUGHT)}\n{SHOWN_ANSWER}")

    assert [e["type"] for e in message.entities] == ["expandable_blockquote", "bold"]
    assert "<think>" not in "".join(first_texts(bot))
    [*_, reply] = await settled_history(bot.settings.database_url, CHAT)
    assert (reply.content, reply.reasoning) == (ANSWER, THOUGHT)
    await next_request_carries_no_reasoning(bot, ANSWER)


async def test_reasoning_switched_off_again_and_bad_arguments(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/reasoning sometimes")
    await bot.wait_for_containing(CHAT, "Send /reasoning on or /reasoning off")
    bot.telegram.send_message(CHAT, "/reasoning")  # switches: the default is off
    await bot.wait_for_containing(CHAT, "Reasoning is shown")
    bot.telegram.send_message(CHAT, "/reasoning off")
    await bot.wait_for_containing(CHAT, "Reasoning is hidden")
    bot.providers.push("openai", Reply(f"<think>{THOUGHT}</think>{ANSWER}"))
    bot.telegram.send_message(CHAT, "What is the capital of France?")
    message = await bot.wait_for_text(CHAT, SHOWN_ANSWER)
    assert [e["type"] for e in message.entities] == ["bold"]


async def test_reasoning_with_no_answer_says_so(bot: RunningBot) -> None:
    bot.providers.push("openai", Reply("", reasoning=THOUGHT))

    bot.telegram.send_message(CHAT, "Hmm?")
    await final_reply(bot, rf"{HEADING}, without an answer\.")
    await bot.wait_for_text(
        CHAT, "⚠️ gpt-4o-mini only reasoned and gave no answer. Send /retry to try again.")
    [*_, reply] = await settled_history(bot.settings.database_url, CHAT)
    assert (reply.content, reply.reasoning) == ("", THOUGHT)
    bot.providers.push("openai", Reply("Now an answer."))
    bot.telegram.send_message(CHAT, "Well?")
    await bot.wait_for_text(CHAT, "Now an answer.")
    assert bot.provider_history(-1) == [  # the empty reply is no history; the questions merge
        {"role": "user", "content": "Hmm?\n\nWell?"}]


async def test_a_think_that_never_closes_with_reasoning_shown(
        make_bot: Callable[..., RunningBot]) -> None:
    bot = make_bot(show_reasoning=True)
    await bot.start()
    bot.providers.push("openai", Reply(f"<think>{THOUGHT} Now the answer", delta_chars=4))

    bot.telegram.send_message(CHAT, "Hmm?")
    message = await final_reply(
        bot, f"{HEADING}\n{re.escape(THOUGHT)} Now the answer\nNo answer came after the reasoning.")
    assert [e["type"] for e in message.entities] == ["expandable_blockquote"]
    await bot.wait_for_containing(CHAT, "only reasoned and gave no answer")


async def test_usage_after_done_or_none_still_completes_the_reply(bot: RunningBot) -> None:
    bot.providers.push("openai", Reply("After done.", usage_at="after_done"),
                       Reply("No usage.", usage_at="none"))
    bot.telegram.send_message(CHAT, "One")
    await bot.wait_for_text(CHAT, "After done.")
    bot.telegram.send_message(CHAT, "Two")
    await bot.wait_for_text(CHAT, "No usage.")
    history = await settled_history(bot.settings.database_url, CHAT)
    assert [(m.content, m.status) for m in history if m.role == "assistant"] == [
        ("After done.", ReplyStatus.COMPLETE), ("No usage.", ReplyStatus.COMPLETE)]


async def test_stream_options_refused_once_then_never_sent_again(bot: RunningBot) -> None:
    bot.providers.rejects_stream_options.add("openai")
    bot.providers.push("openai", Reply("First."), Reply("Second."))
    bot.telegram.send_message(CHAT, "One")
    await bot.wait_for_text(CHAT, "First.")
    bot.telegram.send_message(CHAT, "Two")
    await bot.wait_for_text(CHAT, "Second.")
    chats = [r for r in bot.providers.requests_for("openai")
             if r.path.endswith("/chat/completions")]
    assert ["stream_options" in r.json for r in chats] == [True, False, False]
    assert not [m for m in bot.telegram.bot_messages(CHAT) if "⚠️" in (m.text or "")]
