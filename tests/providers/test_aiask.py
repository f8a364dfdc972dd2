"""AiAsk against its fake: the request, the raw text stream, the rate-limit sentinel."""

from __future__ import annotations

import pytest

from providers import AiAsk, ModelNotSupportedError, RateLimitError
from providers.aiask import RATE_LIMIT_SENTINEL
from tests.fakes.providers import FakeProviders, Reply
from tests.providers.helpers import MESSAGES, TEXT, collect, text_of


async def test_request_matches_the_original(fake: FakeProviders) -> None:
    assert await text_of(AiAsk, "gpt-3.5-turbo") == "Hello!"
    [request] = fake.requests_for("aiask")
    assert (request.method, request.path) == ("POST", "/aiask/v1/chat/gpt/")
    assert request.headers["accept"] == "application/json, text/plain, */*"
    assert request.headers["origin"] == "https://e.aiask.me"
    assert request.headers["referer"] == "https://e.aiask.me/chat"
    assert request.headers["content-type"] == "application/json"
    assert request.json == {"continuous": True, "id": "fRMSQtuHl91A4De9cCvKD", "list": MESSAGES,
                            "models": "0", "prompt": "", "temperature": 0.5, "title": ""}
    assert list(request.json) == ["continuous", "id", "list", "models", "prompt", "temperature",
                                  "title"]


async def test_temperature_is_sent_as_given_even_none(fake: FakeProviders) -> None:
    await text_of(AiAsk, "gpt-3.5", temperature=None)
    assert fake.requests_for("aiask")[0].json["temperature"] is None


@pytest.mark.parametrize("chunk_size", [None, 1, 2, 5])
async def test_streamed_text_equals_the_served_text(fake: FakeProviders,
                                                    chunk_size: int | None) -> None:
    fake.push("aiask", Reply(TEXT, chunk_size=chunk_size, delay=0.001 if chunk_size else 0))
    assert await text_of(AiAsk, "gpt-3.5-turbo") == TEXT


@pytest.mark.parametrize("chunk_size", [None, 1, 4, 50])
async def test_the_sentinel_raises_the_rate_limit_error(fake: FakeProviders,
                                                        chunk_size: int | None) -> None:
    fake.push("aiask", Reply(body=RATE_LIMIT_SENTINEL, content_type="text/plain",
                             chunk_size=chunk_size, delay=0.001 if chunk_size else 0))
    with pytest.raises(RateLimitError, match="^Rate limit reached$") as info:
        await collect(AiAsk, "gpt-3.5-turbo")
    assert isinstance(info.value, RuntimeError) and info.value.provider == "AiAsk"


async def test_the_sentinel_with_a_trailing_newline_is_still_detected(fake: FakeProviders) -> None:
    fake.push("aiask", Reply(body=RATE_LIMIT_SENTINEL + "\n", content_type="text/plain"))
    with pytest.raises(RateLimitError):
        await collect(AiAsk, "gpt-3.5-turbo")


@pytest.mark.parametrize("text", ["您的", "您的免费额度", "您的朋友说你好", "您"])
async def test_a_held_back_prefix_is_flushed_or_released(fake: FakeProviders, text: str) -> None:
    fake.push("aiask", Reply(text, chunk_size=3, delay=0.001))
    assert await text_of(AiAsk, "gpt-3.5-turbo") == text


async def test_an_unknown_model_is_refused_before_any_request(fake: FakeProviders) -> None:
    with pytest.raises(ModelNotSupportedError):
        await collect(AiAsk, "gpt-4")
    assert fake.requests_for("aiask") == []
