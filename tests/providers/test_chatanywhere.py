"""ChatAnywhere against its fake: the request and the raw text stream."""

from __future__ import annotations

import pytest

from providers import ChatAnywhere
from tests.fakes.providers import FakeProviders, Reply
from tests.providers.helpers import TEXT, text_of

HISTORY = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
           {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Weather?"}]


async def test_request_matches_the_original(fake: FakeProviders) -> None:
    assert await text_of(ChatAnywhere, "gpt-3.5-turbo", messages=HISTORY) == "Hello!"
    [request] = fake.requests_for("chatanywhere")
    assert (request.method, request.path) == ("POST", "/chatanywhere/v1/chat/gpt/")
    expected_headers = {
        "User-Agent":
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/119.0",
        "Accept": "application/json, text/plain, */*",
        "Accept-Language": "de,en-US;q=0.7,en;q=0.3",
        "Content-Type": "application/json",
        "Referer": "https://chatanywhere.cn/",
        "Origin": "https://chatanywhere.cn",
        "Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin",
        "Authorization": "", "TE": "trailers",
    }
    for name, value in expected_headers.items():
        assert request.headers[name] == value, name
    assert "br" not in request.headers["Accept-Encoding"]  # aiohttp here cannot decode Brotli
    assert request.json == {"list": HISTORY, "id": "s1_qYuOLXjI3rEpc7WHfQ", "title": "Weather?",
                            "prompt": "", "temperature": 0.5, "models": "61490748",
                            "continuous": True}


async def test_temperature_parameter(fake: FakeProviders) -> None:
    await text_of(ChatAnywhere, "gpt-3.5-turbo", temperature=0.9)
    assert fake.requests_for("chatanywhere")[0].json["temperature"] == 0.9


@pytest.mark.parametrize("chunk_size", [None, 1, 3])
async def test_streamed_text_equals_the_served_text(fake: FakeProviders,
                                                    chunk_size: int | None) -> None:
    fake.push("chatanywhere", Reply(TEXT, chunk_size=chunk_size, delay=0.001 if chunk_size else 0))
    assert await text_of(ChatAnywhere, "gpt-3.5-turbo") == TEXT
