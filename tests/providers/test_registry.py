"""The model registry: names, aliases, pinning, unknown names, fallback order and health."""

from __future__ import annotations

from typing import Any

import pytest

from providers import (
    AI365VIP,
    AiAsk,
    AiChats,
    AllProvidersFailedError,
    ChatAnywhere,
    ImageResponse,
    ModelRegistry,
    OpenAI,
    ProviderConnectionError,
    ProviderSettings,
    RateLimitError,
    Route,
    UnknownModelError,
    Ylokh,
    default_registry,
)
from providers.aiask import RATE_LIMIT_SENTINEL
from tests.fakes.providers import FakeProviders, Reply
from tests.providers.helpers import MESSAGES


def names(routes: list[Route]) -> list[str]:
    return [route.name for route in routes]


def test_default_order_without_openai() -> None:
    registry = default_registry()
    assert names(registry.resolve("gpt-3.5-turbo")) == [
        "Ylokh/gpt-3.5-turbo", "AI365VIP/gpt-3.5-turbo-16k", "ChatAnywhere/gpt-3.5-turbo",
        "AiAsk/gpt-3.5-turbo"]
    assert list(registry.models()) == ["Ylokh", "AI365VIP", "AiChats", "ChatAnywhere", "AiAsk"]
    assert registry.model_names() == ["gpt-3.5-turbo", "gpt-3.5-turbo-16k", "gpt-4o", "gpt-4",
                                      "dalle"]
    assert set(registry.health) == set(registry.models())
    assert all(health.ok is None and health.checked_at is None
               for health in registry.health.values())


def test_openai_comes_first_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    registry = default_registry()
    assert names(registry.resolve("GPT-4o")) == ["OpenAI/gpt-4o", "AI365VIP/gpt-4o"]
    assert registry.models()["OpenAI"] == ["gpt-4o-mini", "gpt-4o", "dall-e-3"]
    dalle3 = registry.resolve("dall-e-3")
    assert names(dalle3) == ["OpenAI/dall-e-3"] and dalle3[0].is_image


def test_default_registry_binds_explicit_settings() -> None:
    settings = ProviderSettings(openai_base_url="http://127.0.0.1:11434/v1",
                                openai_models=["llama3"], openai_image_models=[])
    registry = default_registry(settings)
    [route] = registry.resolve("llama3")
    assert route.provider.__name__ == "OpenAI" and route.provider.get_settings() is settings
    assert route.provider.api_url("/chat/completions") == "http://127.0.0.1:11434/v1/chat/completions"
    assert all(p.get_settings() is settings for p in registry.providers)


@pytest.mark.parametrize(("typed", "expected", "canonical"), [
    ("dalle", ["AiChats/dalle"], "dalle"),
    ("DALLE", ["AiChats/dalle"], "dalle"),
    ("gpt-4", ["AiChats/gpt-4"], "gpt-4"),
    ("gpt-4o", ["AI365VIP/gpt-4o"], "gpt-4o"),
    (" GPT-3.5 ", ["Ylokh/gpt-3.5-turbo", "AI365VIP/gpt-3.5-turbo-16k",
                   "ChatAnywhere/gpt-3.5-turbo", "AiAsk/gpt-3.5-turbo"], "gpt-3.5"),
    ("gpt-3.5-turbo-16k", ["AI365VIP/gpt-3.5-turbo-16k"], "gpt-3.5-turbo-16k"),
    ("aiask/GPT-3.5-TURBO", ["AiAsk/gpt-3.5-turbo"], "AiAsk/gpt-3.5-turbo"),
    ("AI365VIP/gpt-3.5-turbo", ["AI365VIP/gpt-3.5-turbo-16k"], "AI365VIP/gpt-3.5-turbo-16k"),
    ("aichats/dalle", ["AiChats/dalle"], "AiChats/dalle"),
])
def test_resolve_and_canonical(typed: str, expected: list[str], canonical: str) -> None:
    registry = default_registry()
    assert names(registry.resolve(typed)) == expected
    assert registry.canonical(typed) == canonical
    assert names(registry.resolve(registry.canonical(typed))) == expected


def test_route_properties() -> None:
    assert Route(AiChats, "dalle").is_image and not Route(AiChats, "gpt-4").is_image
    assert Route(AiChats, "dalle").name == "AiChats/dalle"


@pytest.mark.parametrize(("typed", "suggestion"), [
    ("gtp-4o", "gpt-4o"), ("dale", "dalle"), ("AiAsk/gpt-4", "AiAsk/gpt-3.5-turbo"),
    ("Aiask/gpt3.5-turbo", "AiAsk/gpt-3.5-turbo"),
])
def test_unknown_names_list_close_matches(typed: str, suggestion: str) -> None:
    with pytest.raises(UnknownModelError) as info:
        default_registry().resolve(typed)
    assert info.value.name == typed and suggestion in info.value.suggestions
    assert suggestion in str(info.value)


def test_a_hopeless_name_has_no_suggestions() -> None:
    with pytest.raises(UnknownModelError) as info:
        default_registry().canonical("zzzzzzzz")
    assert info.value.suggestions == [] and str(info.value) == "Unknown model: 'zzzzzzzz'."


async def stream(registry: ModelRegistry, name: str, **kwargs: Any) -> list[tuple[str, Any]]:
    return [(route.name, chunk) async for route, chunk in
            registry.stream_routes(registry.resolve(name), MESSAGES, **kwargs)]


async def test_fallback_moves_on_when_a_route_fails_before_its_first_chunk(
        fake: FakeProviders) -> None:
    registry = default_registry()
    fake.push("ylokh", Reply("down", status=502))
    fake.push("ai365vip", Reply(body="", content_type="text/plain"))  # empty reply
    fake.push("chatanywhere", Reply("Answer from ChatAnywhere"))
    got = await stream(registry, "gpt-3.5-turbo")
    assert {route for route, _ in got} == {"ChatAnywhere/gpt-3.5-turbo"}
    assert "".join(chunk for _, chunk in got) == "Answer from ChatAnywhere"
    assert fake.requests_for("aiask") == []
    health = registry.health
    assert health["Ylokh"].ok is False
    assert health["Ylokh"].error == "the provider is down (HTTP 502)"  # not the body ("down")
    assert health["AI365VIP"].ok is False and "empty reply" in str(health["AI365VIP"].error)
    assert health["ChatAnywhere"].ok is True and health["ChatAnywhere"].error is None
    assert health["ChatAnywhere"].checked_at is not None and health["AiAsk"].ok is None


async def test_every_route_failing_raises_all_providers_failed(fake: FakeProviders) -> None:
    registry = default_registry()
    fake.push("ylokh", Reply("busy", status=503))
    fake.push("ai365vip", Reply("bad", status=500))
    fake.push("chatanywhere", Reply(hang=30))
    fake.push("aiask", Reply(body=RATE_LIMIT_SENTINEL, content_type="text/plain"))
    with pytest.raises(AllProvidersFailedError) as info:
        await stream(registry, "gpt-3.5", timeout=0.2)
    errors = info.value.errors
    assert [(route.name, type(error).__name__) for route, error in errors] == [
        ("Ylokh/gpt-3.5-turbo", "ResponseStatusError"),
        ("AI365VIP/gpt-3.5-turbo-16k", "ResponseStatusError"),
        ("ChatAnywhere/gpt-3.5-turbo", "ProviderTimeoutError"),
        ("AiAsk/gpt-3.5-turbo", "RateLimitError")]
    assert isinstance(errors[-1][1], RateLimitError)
    assert str(info.value).startswith("All providers failed: Ylokh: the provider is down (HTTP 503);")
    assert str(info.value).endswith("; AiAsk: Rate limit reached")


async def test_an_error_after_the_first_chunk_propagates_unchanged(fake: FakeProviders) -> None:
    registry = default_registry()
    fake.push("ylokh", Reply(" ".join(["token"] * 400), cut=True, chunk_size=512))
    got: list[Any] = []
    with pytest.raises(ProviderConnectionError) as info:
        async for _route, chunk in registry.stream_routes(registry.resolve("gpt-3.5-turbo"),
                                                         MESSAGES):
            got.append(chunk)
    assert got and info.value.provider == "Ylokh"
    assert fake.requests_for("ai365vip") == []  # no fallback once text was shown
    assert registry.health["Ylokh"].ok is False


async def test_images_stream_through_the_registry(fake: FakeProviders) -> None:
    registry = default_registry()
    [(name, chunk)] = await stream(registry, "dalle")
    assert name == "AiChats/dalle" and isinstance(chunk, ImageResponse) and chunk.data


async def test_no_routes_is_a_failure_too() -> None:
    with pytest.raises(AllProvidersFailedError, match="No provider to try"):
        [item async for item in default_registry().stream_routes([], MESSAGES)]


def test_a_custom_registry_keeps_the_given_order() -> None:
    registry = ModelRegistry([AiAsk, ChatAnywhere, Ylokh, AI365VIP, OpenAI])
    assert names(registry.resolve("gpt-3.5-turbo"))[:3] == [
        "AiAsk/gpt-3.5-turbo", "ChatAnywhere/gpt-3.5-turbo", "Ylokh/gpt-3.5-turbo"]
    with pytest.raises(UnknownModelError):
        registry.resolve("dalle")
