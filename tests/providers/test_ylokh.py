"""Ylokh against its fake: OpenAI-style SSE and JSON replies."""

from __future__ import annotations

import pytest

from providers import ProviderError, ResponseFormatError, Ylokh
from tests.fakes.providers import FakeProviders, Reply
from tests.providers.helpers import MESSAGES, TEXT, collect, text_of


async def test_request_matches_the_original(fake: FakeProviders) -> None:
    assert await text_of(Ylokh, "") == "Hello!"
    [request] = fake.requests_for("ylokh")
    assert (request.method, request.path) == ("POST", "/ylokh/v1/chat/completions")
    assert request.headers["Origin"] == "https://chat.ylokh.xyz"
    assert request.headers["Referer"] == "https://chat.ylokh.xyz/"
    assert "Authorization" not in request.headers
    assert request.json == {"messages": MESSAGES, "model": "gpt-3.5-turbo", "temperature": 1,
                            "presence_penalty": 0, "top_p": 1, "frequency_penalty": 0,
                            "allow_fallback": True, "stream": True}
    assert list(request.json)[:2] == ["messages", "model"]


async def test_extra_keywords_override_and_extend_the_body(fake: FakeProviders) -> None:
    await text_of(Ylokh, "gpt-3.5-turbo", temperature=0.2, max_tokens=5)
    body = fake.requests_for("ylokh")[0].json
    assert body["temperature"] == 0.2 and body["max_tokens"] == 5


@pytest.mark.parametrize(("chunk_size", "newline"), [(None, "\n"), (1, "\n"), (1, "\r\n"),
                                                     (7, "\r"), (9, "\r\n")])
async def test_streamed_text_equals_the_served_text(fake: FakeProviders, chunk_size: int | None,
                                                    newline: str) -> None:
    fake.push("ylokh", Reply(TEXT, chunk_size=chunk_size, newline=newline,
                             delay=0.001 if chunk_size and chunk_size > 1 else 0))
    assert await text_of(Ylokh, "gpt-3.5-turbo") == TEXT


async def test_the_seed_awaitable_form_works(fake: FakeProviders) -> None:
    fake.push("ylokh", Reply("Hi there"))
    generator = await Ylokh.create_async_generator(model="gpt-3.5-turbo", messages=MESSAGES,
                                                   stream=True, proxy=None, timeout=120)
    assert [message async for message in generator] == ["Hi ", "there"]


async def test_non_stream_reply_is_one_chunk_and_create_async_uses_it(fake: FakeProviders) -> None:
    fake.push("ylokh", Reply(TEXT), Reply("whole"))
    assert await collect(Ylokh, "gpt-3.5-turbo", stream=False) == [TEXT]
    assert await Ylokh.create_async("gpt-3.5-turbo", MESSAGES) == "whole"
    assert [r.json["stream"] for r in fake.requests_for("ylokh")] == [False, False]


async def test_a_null_non_stream_content_yields_nothing(fake: FakeProviders) -> None:
    body = '{"choices": [{"index": 0, "message": {"role": "assistant", "content": null}}]}'
    fake.push("ylokh", Reply(body=body, content_type="application/json"))
    assert await collect(Ylokh, "gpt-3.5-turbo", stream=False) == []


async def test_a_malformed_json_line_raises(fake: FakeProviders) -> None:
    body = 'data: {"choices":[{"delta":{"content":"ok"}}]}\n\ndata: {"choices": [\n\n'
    fake.push("ylokh", Reply(body=body, content_type="text/event-stream"))
    chunks: list[object] = []
    with pytest.raises(ResponseFormatError, match="Malformed JSON") as info:
        async for chunk in Ylokh.create_async_generator("gpt-3.5-turbo", MESSAGES):
            chunks.append(chunk)
    assert chunks == ["ok"] and info.value.provider == "Ylokh"


async def test_an_error_event_raises_its_message(fake: FakeProviders) -> None:
    body = 'data: {"error": {"message": "All upstreams busy", "type": "server_error"}}\n\n'
    fake.push("ylokh", Reply(body=body, content_type="text/event-stream"))
    with pytest.raises(ProviderError, match="^the provider reported an error$") as info:
        await collect(Ylokh, "gpt-3.5-turbo")
    assert info.value.detail == "All upstreams busy"
