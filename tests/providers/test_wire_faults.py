"""Servers that misbehave on the wire, through the real provider code against the fakes:
replies cut short with a clean close, time bounds (first byte, silence) instead of a total
deadline, byte bounds on lines, events and bodies, and error bodies kept out of messages."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from providers import (
    AI365VIP,
    AiAsk,
    AiChats,
    AsyncGeneratorProvider,
    ChatAnywhere,
    MissingAuthError,
    OpenAI,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    ResponseStatusError,
    Usage,
    Ylokh,
    default_registry,
)
from providers.errors import ResponseTooLargeError
from tests.fakes.provider_faults import (
    STACK_TRACE,
    crash,
    endless_line,
    huge_json,
    silent_stream,
    steady_stream,
)
from tests.fakes.providers import FakeProviders, Reply
from tests.providers.helpers import MESSAGES, collect, text_of
from tests.providers.test_failures import CASES, IDS, LONG, failure

OPENAI_STYLE = [(OpenAI, "gpt-4o", "openai"), (Ylokh, "gpt-3.5-turbo", "ylokh")]
OPENAI_IDS = ["OpenAI", "Ylokh"]


async def chunks_until_error(provider: type[AsyncGeneratorProvider], model: str,
                             **kwargs: Any) -> tuple[list[Any], ProviderError]:
    """The chunks a provider yielded before it raised, and the error (it must raise)."""
    chunks: list[Any] = []
    with pytest.raises(ProviderError) as info:
        async for chunk in provider.create_async_generator(model, MESSAGES, **kwargs):
            chunks.append(chunk)
    assert info.value.provider == provider.__name__
    return chunks, info.value


# -- defect 3: a reply cut short is not complete ---------------------------------------------


@pytest.mark.parametrize(("provider", "model", "name"), OPENAI_STYLE, ids=OPENAI_IDS)
async def test_a_stream_without_done_or_finish_reason_is_cut_short(
        fake: FakeProviders, provider: Any, model: str, name: str) -> None:
    fake.push(name, Reply("The answer is cut here", done=False))
    chunks, error = await chunks_until_error(provider, model)
    assert "".join(chunks) == "The answer is cut here"  # the text so far was delivered
    assert type(error) is ProviderConnectionError  # as a reset connection
    assert str(error) == "The connection closed before the reply was complete"


@pytest.mark.parametrize(("provider", "model", "name"), OPENAI_STYLE, ids=OPENAI_IDS)
async def test_a_finish_reason_without_done_is_a_complete_reply(
        fake: FakeProviders, provider: Any, model: str, name: str) -> None:
    body = ('data: {"choices":[{"delta":{"content":"Whole"},"finish_reason":null}]}\n\n'
            'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n')
    fake.push(name, Reply(body=body, content_type="text/event-stream"))
    assert await collect(provider, model) == ["Whole"]


@pytest.mark.parametrize(("provider", "model", "name", "variable"), CASES, ids=IDS)
async def test_a_clean_close_in_the_middle_of_the_body_is_cut_short(
        fake: FakeProviders, provider: Any, model: str, name: str, variable: str) -> None:
    """The raw-text and AiChats formats have no end marker of their own: their "ended early"
    signal is HTTP's (the chunked encoding's last chunk), which a clean close skips."""
    fake.push(name, Reply(LONG, close=True, chunk_size=64))
    assert isinstance(await failure(provider, model, n=1), ProviderConnectionError)


# -- defect 4: time bounds, not a total deadline ---------------------------------------------


@pytest.mark.parametrize(("provider", "model", "name"),
                         [(OpenAI, "gpt-4o", "openai"), (AiAsk, "gpt-3.5-turbo", "aiask")],
                         ids=["OpenAI", "AiAsk"])
async def test_a_steady_stream_longer_than_the_old_total_timeout_finishes(
        fake: FakeProviders, monkeypatch: pytest.MonkeyPatch, provider: Any, model: str,
        name: str) -> None:
    monkeypatch.setenv("PROVIDER_TIMEOUT", "1")  # an old .env: now the first-byte bound
    monkeypatch.setenv("PROVIDER_IDLE_TIMEOUT", "0.5")
    reply = steady_stream(seconds=3, every=0.2)  # 3 s in all, a piece every 0.2 s
    fake.push(name, reply)
    assert await text_of(provider, model) == reply.text


@pytest.mark.parametrize(("provider", "model", "name"),
                         [(OpenAI, "gpt-4o", "openai"), (ChatAnywhere, "gpt-3.5-turbo",
                                                         "chatanywhere")],
                         ids=["OpenAI", "ChatAnywhere"])
async def test_a_stream_that_goes_silent_is_cut_with_a_clear_error(
        fake: FakeProviders, monkeypatch: pytest.MonkeyPatch, provider: Any, model: str,
        name: str) -> None:
    monkeypatch.setenv("PROVIDER_IDLE_TIMEOUT", "0.5")
    fake.push(name, silent_stream("one two three four five six", after=3, silence=1.0))
    chunks, error = await chunks_until_error(provider, model)
    assert chunks and "".join(chunks).startswith("one ")
    assert type(error) is ProviderTimeoutError
    assert str(error) == "The provider stopped sending for 0.5 s in the middle of the reply"


@pytest.mark.parametrize(("provider", "model", "name", "reply"), [
    (OpenAI, "gpt-4o", "openai", Reply(hang=30)),  # no status line at all
    # status and headers at once, then nothing: headers alone are not the first byte
    (ChatAnywhere, "gpt-3.5-turbo", "chatanywhere",
     silent_stream("late answer", after=0, silence=30)),
], ids=["no-headers", "headers-only"])
async def test_a_reply_that_never_starts_is_cut_by_the_first_byte_bound(
        fake: FakeProviders, monkeypatch: pytest.MonkeyPatch, provider: Any, model: str,
        name: str, reply: Reply) -> None:
    monkeypatch.setenv("PROVIDER_FIRST_BYTE_TIMEOUT", "0.3")
    monkeypatch.setenv("PROVIDER_IDLE_TIMEOUT", "30")
    fake.push(name, reply)
    _, error = await chunks_until_error(provider, model)
    assert type(error) is ProviderTimeoutError
    assert str(error) == "The provider did not start answering within 0.3 s"


async def test_a_slow_reader_is_not_a_silent_provider(
        fake: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> None:
    """The idle bound times the provider, not the consumer (the bot waiting on Telegram)."""
    monkeypatch.setenv("PROVIDER_IDLE_TIMEOUT", "0.3")
    fake.push("openai", Reply("a b c d"))
    chunks: list[str] = []
    async for chunk in OpenAI.create_async_generator("gpt-4o", MESSAGES):
        if isinstance(chunk, Usage):  # the usage report, last
            continue
        assert isinstance(chunk, str)
        chunks.append(chunk)
        await asyncio.sleep(0.5)
    assert "".join(chunks) == "a b c d"


def test_an_old_env_with_provider_timeout_keeps_working(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVIDER_TIMEOUT", "42")
    assert OpenAI.get_limits().first_byte_timeout == 42.0
    monkeypatch.setenv("PROVIDER_FIRST_BYTE_TIMEOUT", "7")  # the new name wins
    assert OpenAI.get_limits().first_byte_timeout == 7.0
    assert OpenAI.get_limits(timeout=3).first_byte_timeout == 3.0  # an explicit timeout= too


# -- defect 16: byte bounds ------------------------------------------------------------------


@pytest.mark.parametrize(("provider", "model", "name"),
                         [*OPENAI_STYLE, (AiChats, "gpt-4", "aichats")],
                         ids=[*OPENAI_IDS, "AiChats"])
async def test_an_sse_line_that_never_ends_is_refused_at_the_bound(
        fake: FakeProviders, monkeypatch: pytest.MonkeyPatch, provider: Any, model: str,
        name: str) -> None:
    monkeypatch.setenv("PROVIDER_MAX_LINE_BYTES", "65536")
    fake.push(name, endless_line(block=4096))  # served until the client goes away
    _, error = await chunks_until_error(provider, model)
    assert type(error) is ResponseTooLargeError
    assert str(error) == "The line of the reply is larger than 65536 bytes"


async def test_a_huge_image_json_body_is_refused_at_the_bound(
        fake: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVIDER_MAX_JSON_BYTES", "4096")
    monkeypatch.setenv("IMAGE_MAX_BYTES", "30000")  # bound: 4096 + 40000 bytes of base64
    fake.push("openai", huge_json(block=4096))
    _, error = await chunks_until_error(OpenAI, "dall-e-3", response_format="b64_json")
    assert type(error) is ResponseTooLargeError
    assert str(error) == "The reply's JSON body is larger than 44096 bytes"


async def test_a_declared_300_mb_body_is_refused_before_reading(
        fake: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.push("aichats", huge_json(content_length=300_000_000))
    _, error = await chunks_until_error(AiChats, "dalle")
    assert type(error) is ResponseTooLargeError and "JSON body is larger than" in str(error)


async def test_a_huge_non_streamed_chat_body_is_refused(
        fake: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVIDER_MAX_JSON_BYTES", "4096")
    fake.push("ylokh", huge_json(block=1024))
    _, error = await chunks_until_error(Ylokh, "gpt-3.5-turbo", stream=False)
    assert type(error) is ResponseTooLargeError


async def test_a_long_line_of_a_line_streamed_provider_is_passed_on_in_pieces(
        fake: FakeProviders) -> None:
    """AI365VIP yields lines as text: a long one is not held but passed on (bounded pieces)."""
    fake.push("ai365vip", Reply("y" * 200_000 + "\n", chunk_size=8192))
    chunks = [chunk for chunk in await collect(AI365VIP, "gpt-4o") if isinstance(chunk, str)]
    assert "".join(chunks) == "y" * 200_000 + "\n"
    assert len(chunks) > 1 and max(map(len, chunks)) < 200_000  # never held whole


# -- defect 14: what the server wrote stays out of the message -------------------------------


@pytest.mark.parametrize(("provider", "model", "name", "variable"), CASES, ids=IDS)
async def test_a_stack_trace_body_is_only_the_detail(
        fake: FakeProviders, provider: Any, model: str, name: str, variable: str) -> None:
    fake.push(name, crash())
    error = await failure(provider, model)
    assert type(error) is ResponseStatusError
    assert error.user_text() == f"{provider.__name__}: the provider is down (HTTP 500)"
    assert error.detail is not None and "/srv/llm-gateway" in error.detail
    assert "Traceback" not in str(error) and "/srv" not in error.user_text()


async def test_a_401_quoting_the_key_is_only_the_detail(
        fake: FakeProviders, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-0123456789abcdef")
    _, error = await chunks_until_error(OpenAI, "gpt-4o")
    assert type(error) is MissingAuthError
    assert error.user_text() == "OpenAI: the provider rejected the key (HTTP 401)"
    assert error.detail is not None and "sk-" in error.detail and "cdef" in error.detail


async def test_the_registry_logs_the_detail_and_keeps_health_short(
        fake: FakeProviders, caplog: pytest.LogCaptureFixture) -> None:
    registry = default_registry()
    fake.push("ylokh", crash())
    fake.push("ai365vip", Reply("Fallback\n"))
    with caplog.at_level(logging.WARNING, logger="providers.registry"):
        got = [chunk async for _, chunk in
               registry.stream_routes(registry.resolve("gpt-3.5-turbo"), MESSAGES)]
    assert got == ["Fallback\n"]
    assert registry.health["Ylokh"].error == "the provider is down (HTTP 500)"
    logged = [record.getMessage() for record in caplog.records]
    assert any("Ylokh/gpt-3.5-turbo failed" in line and "/srv/llm-gateway" in line
               for line in logged), logged
    assert STACK_TRACE.splitlines()[0] in "\n".join(logged)
