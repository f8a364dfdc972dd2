"""Images in: which models can see (OPENAI_VISION_MODELS, the registry), content parts sent as
they are to a model that can see, and text only to one that cannot (the seed providers)."""

from __future__ import annotations

from typing import Any

import pytest

from providers import AllProvidersFailedError, ProviderSettings, default_registry
from tests.fakes.providers import FakeProviders, Reply

IMAGE: dict[str, Any] = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
WITH_PARTS: list[dict[str, Any]] = [
    {"role": "user", "content": [{"type": "text", "text": "What is it?"}, IMAGE]},
    {"role": "assistant", "content": "A dot."},
    {"role": "user", "content": [IMAGE]},
]


def settings(fake: FakeProviders, **values: object) -> ProviderSettings:
    """Settings pointing every provider at the fake, with ``values`` on top."""
    given: dict[str, Any] = {name.lower(): value for name, value in fake.env().items()}
    return ProviderSettings(_env_file=None, **{**given, **values})  # type: ignore[call-arg]


async def test_which_models_can_see_is_configuration(fake: FakeProviders) -> None:
    registry = default_registry(settings(fake))
    assert registry.vision_model_names() == ["gpt-4o-mini", "gpt-4o"]
    assert [route.can_see for route in registry.resolve("gpt-4o")] == [True, False]  # AI365VIP
    only = default_registry(settings(fake, openai_vision_models="gpt-4o"))
    assert only.vision_model_names() == ["gpt-4o"]
    assert not only.resolve("gpt-4o-mini")[0].can_see
    assert default_registry(settings(fake, openai_vision_models="")).vision_model_names() == []


async def test_parts_go_to_a_model_that_sees_and_text_to_the_fallback_that_does_not(
    fake: FakeProviders,
) -> None:
    registry = default_registry(settings(fake))
    fake.push("openai", Reply("down", status=500))
    fake.push("ai365vip", Reply("From the text alone."))
    chunks = [chunk async for _, chunk in registry.stream_routes(
        registry.resolve("gpt-4o"), WITH_PARTS)]

    assert "".join(map(str, chunks)) == "From the text alone."
    [openai] = fake.requests_for("openai")
    assert openai.json["messages"] == WITH_PARTS  # content parts exactly as given
    [seed] = fake.requests_for("ai365vip")
    prompt = seed.json["messages"][0]["content"]
    assert prompt == "User: What is it?\nAssistant: A dot.\nUser: [photo]\nAssistant:"


async def test_a_seed_provider_alone_gets_text_only(fake: FakeProviders) -> None:
    registry = default_registry(settings(fake))
    fake.push("aiask", Reply("", status=500))
    with pytest.raises(AllProvidersFailedError):
        async for _ in registry.stream_routes(registry.resolve("AiAsk/gpt-3.5-turbo"), WITH_PARTS):
            pass
    assert "image_url" not in fake.requests_for("aiask")[0].body.decode()
