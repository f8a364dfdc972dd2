"""Reasoning and usage from OpenAI-compatible servers: DeepSeek's ``reasoning_content``,
OpenRouter's ``reasoning`` and ``usage.cost``, inline ``<think>`` split anywhere, and the
``stream_options`` request with its remembered 400 fallback."""

from __future__ import annotations

import pytest

from providers import OpenAI, ProviderConnectionError, Reasoning, ResponseStatusError, Usage
from providers.base import Chunk
from providers.chat import usage_of
from providers.reasoning import ThinkSplitter
from tests.fakes.providers import FakeProviders, Reply
from tests.providers.helpers import collect

THOUGHT = "The user greets me. I should greet back."
ANSWER = "Hello! How can I help?"


def merged(chunks: list[Chunk]) -> list[Chunk]:
    """Consecutive chunks of one kind joined (``str`` with ``str``, Reasoning with Reasoning)."""
    out: list[Chunk] = []
    for chunk in chunks:
        if out and isinstance(chunk, str) and isinstance(out[-1], str):
            out[-1] += chunk
        elif out and isinstance(chunk, Reasoning) and isinstance(out[-1], Reasoning):
            out[-1] = Reasoning(out[-1].text + chunk.text)
        else:
            out.append(chunk)
    return out


def fed(pieces: list[str]) -> list[Chunk]:
    splitter = ThinkSplitter()
    chunks: list[Chunk] = []
    for piece in pieces:
        chunks += splitter.feed(piece)
    return merged([*chunks, *splitter.flush()])


WHOLE = f"\n<think>\n{THOUGHT}\n</think>\n\n{ANSWER}"


@pytest.mark.parametrize("at", range(1, len(WHOLE)))
def test_a_think_block_split_at_any_character(at: int) -> None:
    assert fed([WHOLE[:at], WHOLE[at:]]) == [Reasoning(f"\n{THOUGHT}\n"), ANSWER]


def test_a_think_block_one_character_at_a_time() -> None:
    assert fed(list(WHOLE)) == [Reasoning(f"\n{THOUGHT}\n"), ANSWER]
    assert all(chunk for chunk in ThinkSplitter().feed("<"))  # never an empty chunk


@pytest.mark.parametrize(("pieces", "expected"), [
    # never closed: all of it is reasoning, the answer is empty
    (["<think>I wonder", " about </thi"], [Reasoning("I wonder about </thi")]),
    (["<think>"], []),
    # only a leading block is reasoning: one later is the answer's own text
    (["Use <think>", " tags</think> like this."], ["Use <think> tags</think> like this."]),
    (["A\n<think>x</think>"], ["A\n<think>x</think>"]),
    # a second block after the first is answer text too
    (["<think>a</think>B <think>c</think>"], [Reasoning("a"), "B <think>c</think>"]),
    # something that only looked like the start of a tag
    (["<th", "e end>"], ["<the end>"]),
    (["<thi"], ["<thi"]),
    (["  <b>bold</b>"], ["  <b>bold</b>"]),
    # an empty block (Qwen3 with thinking off): blank reasoning, the answer as it is
    (["<think>\n\n</think>\n\n", "Hi"], [Reasoning("\n\n"), "Hi"]),
])
def test_think_edge_cases(pieces: list[str], expected: list[Chunk]) -> None:
    assert fed(pieces) == expected


async def test_deepseek_reasoning_content_stream(fake: FakeProviders) -> None:
    fake.push("openai", Reply(ANSWER, reasoning=THOUGHT, reasoning_field="reasoning_content",
                              usage={"prompt_tokens": 11, "completion_tokens": 30}))
    chunks = await collect(OpenAI, "gpt-4o")
    assert merged(chunks) == [Reasoning(THOUGHT), ANSWER, Usage(11, 30, None)]
    assert all(isinstance(c, Reasoning) for c in chunks[:len(THOUGHT.split())])


async def test_openrouter_reasoning_with_usage_cost_on_the_last_chunk(
        fake: FakeProviders) -> None:
    usage = {"prompt_tokens": 12, "completion_tokens": 40, "cost": 0.00042,
             "completion_tokens_details": {"reasoning_tokens": 31}}
    fake.push("openai", Reply(ANSWER, reasoning=THOUGHT, reasoning_field="reasoning",
                              usage=usage, usage_at="last", delta_chars=5))
    chunks = await collect(OpenAI, "gpt-4o")
    assert merged(chunks) == [Reasoning(THOUGHT), ANSWER, Usage(12, 40, 0.00042)]
    assert fake.requests_for("openai")[0].json["stream_options"] == {"include_usage": True}


async def test_think_tags_split_across_stream_chunks(fake: FakeProviders) -> None:
    # 3 characters per delta: "<th" + "ink" + ">..." and "</" + "thi" + "nk>"
    fake.push("openai", Reply(f"<think>{THOUGHT}</think>\n\n{ANSWER}", delta_chars=3))
    chunks = await collect(OpenAI, "gpt-4o")
    assert merged(chunks)[:2] == [Reasoning(THOUGHT), ANSWER]
    assert isinstance(chunks[-1], Usage)


async def test_reasoning_with_no_answer(fake: FakeProviders) -> None:
    fake.push("openai", Reply("", reasoning=THOUGHT, usage_at="none"))
    assert merged(await collect(OpenAI, "gpt-4o")) == [Reasoning(THOUGHT)]


async def test_a_think_that_never_closes_is_all_reasoning(fake: FakeProviders) -> None:
    fake.push("openai", Reply(f"<think>{THOUGHT} and then", delta_chars=4, usage_at="none"))
    assert merged(await collect(OpenAI, "gpt-4o")) == [Reasoning(f"{THOUGHT} and then")]


async def test_usage_after_done_is_ignored(fake: FakeProviders) -> None:
    fake.push("openai", Reply(ANSWER, usage_at="after_done"))
    assert merged(await collect(OpenAI, "gpt-4o")) == [ANSWER]


async def test_no_usage_at_all_gives_no_usage_chunk(fake: FakeProviders) -> None:
    fake.push("openai", Reply(ANSWER, usage_at="none"))
    assert merged(await collect(OpenAI, "gpt-4o")) == [ANSWER]


async def test_usage_then_end_without_done_still_counts(fake: FakeProviders) -> None:
    """A finish_reason and the usage, then the body ends without [DONE]: complete."""
    fake.push("openai", Reply(ANSWER, usage_at="last", done=True,
                              usage={"prompt_tokens": 1, "completion_tokens": 2}))
    assert merged(await collect(OpenAI, "gpt-4o"))[-1] == Usage(1, 2)


async def test_a_reasoning_stream_cut_short_still_raises(fake: FakeProviders) -> None:
    fake.push("openai", Reply(ANSWER, reasoning=THOUGHT, done=False))
    chunks: list[Chunk] = []
    with pytest.raises(ProviderConnectionError):
        async for chunk in OpenAI.create_async_generator("gpt-4o", [
                {"role": "user", "content": "Hi"}]):
            chunks.append(chunk)
    assert merged(chunks) == [Reasoning(THOUGHT), ANSWER]  # no Usage: the reply is incomplete


async def test_stream_options_refused_with_400_is_dropped_and_remembered(
        fake: FakeProviders) -> None:
    fake.rejects_stream_options.add("openai")
    fake.push("openai", Reply("first"), Reply("second"))

    assert merged(await collect(OpenAI, "gpt-4o")) == ["first"]
    assert merged(await collect(OpenAI, "gpt-4o")) == ["second"]

    sent = [request.json for request in fake.requests_for("openai")]
    assert ["stream_options" in body for body in sent] == [True, False, False]
    assert [body["messages"] for body in sent] == [sent[0]["messages"]] * 3


async def test_another_400_is_raised_without_a_second_request(fake: FakeProviders) -> None:
    fake.push("openai", Reply("This model's maximum context length is 8192 tokens", status=400))
    with pytest.raises(ResponseStatusError) as raised:
        await collect(OpenAI, "gpt-4o")
    assert raised.value.status == 400
    assert len(fake.requests_for("openai")) == 1
    fake.push("openai", Reply("fine"))
    await collect(OpenAI, "gpt-4o")
    assert "stream_options" in fake.requests_for("openai")[-1].json  # still asked for usage


async def test_non_streamed_reasoning_and_usage(fake: FakeProviders) -> None:
    fake.push("openai", Reply(ANSWER, reasoning=THOUGHT,
                              usage={"prompt_tokens": 3, "completion_tokens": 4, "cost": 1}))
    assert await collect(OpenAI, "gpt-4o", stream=False) == [
        Reasoning(THOUGHT), ANSWER, Usage(3, 4, 1.0)]
    fake.push("openai", Reply(f"<think>{THOUGHT}</think>{ANSWER}"))
    assert (await collect(OpenAI, "gpt-4o", stream=False))[:2] == [Reasoning(THOUGHT), ANSWER]
    assert "stream_options" not in fake.requests_for("openai")[-1].json
    assert await OpenAI.create_async("gpt-4o", [{"role": "user", "content": "Hi"}]) == "Hello!"


@pytest.mark.parametrize(("chunk", "expected"), [
    ({"usage": {"prompt_tokens": 5, "completion_tokens": 7}}, Usage(5, 7)),
    ({"usage": {"prompt_tokens": 5, "completion_tokens": 7, "cost": 0}}, Usage(5, 7, 0.0)),
    ({"usage": {"prompt_tokens": 5, "completion_tokens": 7, "cost": "0.1"}}, Usage(5, 7)),
    ({"usage": None}, None),  # OpenAI: null on every chunk but the last
    ({"usage": {"prompt_tokens": "5", "completion_tokens": 7}}, None),
    ({"usage": {"prompt_tokens": True, "completion_tokens": 7}}, None),
    ({"usage": {"prompt_tokens": -1, "completion_tokens": 7}}, None),
    ({"usage": {"total_tokens": 12}}, None),
    ({"usage": [5, 7]}, None),
    ({}, None),
])
def test_a_usage_object_that_is_not_one_is_no_usage(chunk: dict, expected: Usage | None) -> None:
    assert usage_of(chunk) == expected
