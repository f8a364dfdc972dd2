"""AI365VIP against its fake: the request (alias applied) and the line-by-line stream."""

from __future__ import annotations

import pytest

from providers import AI365VIP
from tests.fakes.providers import FakeProviders, Reply
from tests.providers.helpers import TEXT, collect, text_of

HISTORY = [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]


@pytest.mark.parametrize(("model", "sent"), [("gpt-3.5-turbo", "gpt-3.5-turbo-16k"),
                                             ("gpt-4o", "gpt-4o"), ("", "gpt-3.5-turbo")])
async def test_request_matches_the_original_with_the_alias_applied(
        fake: FakeProviders, model: str, sent: str) -> None:
    await text_of(AI365VIP, model, messages=HISTORY)
    [request] = fake.requests_for("ai365vip")
    assert (request.method, request.path) == ("POST", "/ai365vip/api/chat")
    headers = request.headers
    assert headers["origin"] == "https://chat.ai365vip.com"
    assert headers["referer"] == "https://chat.ai365vip.com/en"
    assert headers["sec-ch-ua"] == '"Chromium";v="127", "Not)A;Brand";v="99"'
    assert headers["sec-ch-ua-model"] == '""'
    assert headers["sec-ch-ua-platform-version"] == '"4.19.276"'
    assert headers["user-agent"].startswith("Mozilla/5.0 (X11; Linux x86_64)")
    assert request.json == {
        "model": {"id": sent, "name": "GPT-3.5", "maxLength": 3000, "tokenLimit": 2048},
        "messages": [{"role": "user", "content": "System: S\nUser: Hi\nAssistant:"}],
        "key": "", "prompt": "You are a helpful assistant.", "temperature": 1,
    }


async def test_chunks_are_whole_lines_with_their_newlines(fake: FakeProviders) -> None:
    fake.push("ai365vip", Reply("one\ntwo\n\nthree", chunk_size=2, delay=0.001))
    assert await collect(AI365VIP, "gpt-4o") == ["one\n", "two\n", "\n", "three"]


@pytest.mark.parametrize("chunk_size", [None, 1, 7])
async def test_streamed_text_equals_the_served_text(fake: FakeProviders,
                                                    chunk_size: int | None) -> None:
    fake.push("ai365vip", Reply(TEXT, chunk_size=chunk_size, delay=0.001 if chunk_size else 0))
    assert await text_of(AI365VIP, "gpt-4o") == TEXT
