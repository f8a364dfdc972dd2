"""Every provider against the same failures and the same proxy: each becomes the right typed
ProviderError, with ``.provider`` set, and nothing from aiohttp escapes."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from providers import (
    AI365VIP,
    AiAsk,
    AiChats,
    AsyncGeneratorProvider,
    ChatAnywhere,
    CloudflareError,
    OpenAI,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ResponseStatusError,
    Ylokh,
)
from tests.fakes.providers import FakeProviders, Reply
from tests.providers.helpers import collect

CASES = [  # (provider class, model, fake name, URL variable)
    (AiAsk, "gpt-3.5-turbo", "aiask", "AIASK_URL"),
    (ChatAnywhere, "gpt-3.5-turbo", "chatanywhere", "CHATANYWHERE_URL"),
    (AI365VIP, "gpt-4o", "ai365vip", "AI365VIP_URL"),
    (AiChats, "gpt-4", "aichats", "AICHATS_URL"),
    (AiChats, "dalle", "aichats", "AICHATS_URL"),
    (Ylokh, "gpt-3.5-turbo", "ylokh", "YLOKH_URL"),
    (OpenAI, "gpt-4o", "openai", "OPENAI_BASE_URL"),
    (OpenAI, "dall-e-3", "openai", "OPENAI_BASE_URL"),
]
IDS = [f"{case[0].__name__}-{case[1]}" for case in CASES]
CLOUDFLARE_PAGE = ('<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
                   '</head><body><div id="cf-please-wait">Please wait</div>'
                   '<script src="https://challenges.cloudflare.com/x.js"></script></body></html>')
LONG = " ".join(f"word{i}" for i in range(200)) + "\n" + "more " * 100


async def failure(provider: type[AsyncGeneratorProvider], model: str, **kwargs: Any
                  ) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await collect(provider, model, **kwargs)
    assert info.value.provider == provider.__name__
    assert info.value.__class__.__module__ == "providers.errors"
    return info.value


@pytest.mark.parametrize(("provider", "model", "name", "variable"), CASES, ids=IDS)
async def test_server_error_status(fake: FakeProviders, provider: Any, model: str, name: str,
                                   variable: str) -> None:
    fake.push(name, Reply("upstream exploded", status=500))
    error = await failure(provider, model)
    assert type(error) is ResponseStatusError and error.status == 500
    assert str(error) == "the provider is down (HTTP 500)"
    assert error.detail == "upstream exploded"  # for the log only


@pytest.mark.parametrize(("provider", "model", "name", "variable"), CASES, ids=IDS)
async def test_cloudflare_page(fake: FakeProviders, provider: Any, model: str, name: str,
                               variable: str) -> None:
    fake.push(name, Reply(status=403, body=CLOUDFLARE_PAGE, content_type="text/html"))
    error = await failure(provider, model)
    assert isinstance(error, CloudflareError) and error.status == 403
    assert str(error) == "Blocked by Cloudflare (HTTP 403)"


@pytest.mark.parametrize(("provider", "model", "name", "variable"), CASES, ids=IDS)
async def test_rate_limit_status(fake: FakeProviders, provider: Any, model: str, name: str,
                                 variable: str) -> None:
    fake.push(name, Reply("Too many requests", status=429, headers={"Retry-After": "12"}))
    error = await failure(provider, model)
    assert isinstance(error, RateLimitError) and error.retry_after == 12.0


@pytest.mark.parametrize(("provider", "model", "name", "variable"), CASES, ids=IDS)
async def test_stream_cut_short(fake: FakeProviders, provider: Any, model: str, name: str,
                                variable: str) -> None:
    fake.push(name, Reply(LONG, cut=True, chunk_size=64))
    error = await failure(provider, model, n=1)
    assert isinstance(error, ProviderConnectionError)


@pytest.mark.parametrize(("provider", "model", "name", "variable"), CASES, ids=IDS)
async def test_timeout(fake: FakeProviders, provider: Any, model: str, name: str,
                       variable: str) -> None:
    fake.push(name, Reply(hang=30))
    assert isinstance(await failure(provider, model, timeout=0.2), ProviderTimeoutError)


async def test_timeout_from_the_setting(fake: FakeProviders,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVIDER_TIMEOUT", "0.2")
    fake.push("chatanywhere", Reply(hang=30))
    assert isinstance(await failure(ChatAnywhere, "gpt-3.5-turbo"), ProviderTimeoutError)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(("provider", "model", "name", "variable"), CASES, ids=IDS)
async def test_connection_refused(monkeypatch: pytest.MonkeyPatch, provider: Any, model: str,
                                  name: str, variable: str) -> None:
    monkeypatch.setenv(variable, f"http://127.0.0.1:{closed_port()}/{name}")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    error = await failure(provider, model)
    assert isinstance(error, ProviderConnectionError)
    assert str(error) == "Cannot connect to the provider"


@pytest.mark.parametrize(("provider", "model", "name", "variable"), CASES, ids=IDS)
async def test_proxy_url_is_used(fake: FakeProviders, monkeypatch: pytest.MonkeyPatch,
                                 provider: Any, model: str, name: str, variable: str) -> None:
    # The provider's own origin is a closed port: only a request sent through the proxy
    # (the fake, which routes absolute-form requests by path) can succeed.
    path = "/openai/v1" if name == "openai" else f"/{name}"
    monkeypatch.setenv(variable, f"http://127.0.0.1:{closed_port()}{path}")
    monkeypatch.setenv("PROXY_URL", fake.origin)
    chunks = await collect(provider, model)
    assert chunks
    first = fake.requests_for(name)[0]
    assert first.raw_path.startswith("http://127.0.0.1:") and first.raw_path.endswith(first.path)
