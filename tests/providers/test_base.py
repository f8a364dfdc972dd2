"""The seed API (providers/base.py) and the settings (providers/settings.py)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import pytest
from pydantic import SecretStr

from providers import (
    AI365VIP,
    AiAsk,
    AsyncGeneratorProvider,
    ImageResponse,
    Messages,
    ModelNotSupportedError,
    OpenAI,
    ProviderModelMixin,
    ProviderSettings,
    ProviderStream,
    Ylokh,
    configure,
    current,
    format_prompt,
)
from providers.errors import ProviderError, ProviderTimeoutError


def test_format_prompt_pins_the_2023_2024_behaviour() -> None:
    assert format_prompt([{"role": "user", "content": "Just this"}]) == "Just this"
    history = [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"},
               {"role": "assistant", "content": "Yo"}, {"role": "user", "content": "Q"}]
    assert format_prompt(history) == "System: S\nUser: Hi\nAssistant: Yo\nUser: Q\nAssistant:"
    assert format_prompt(history[1:2], add_special_tokens=True) == "User: Hi\nAssistant:"
    with pytest.raises(IndexError):
        format_prompt([])


def test_image_response_keeps_the_seed_shape_and_the_bytes() -> None:
    image = ImageResponse("https://x/cat.png", "a cat", data=b"\x89PNG", mime_type="image/png")
    assert image.urls == image.images == ["https://x/cat.png"] and image.url == "https://x/cat.png"
    assert str(image) == ("\n<!-- generated images start -->\n[![a cat](https://x/cat.png)]"
                          "(https://x/cat.png)\n<!-- generated images end -->\n\n")
    several = ImageResponse(["u1", "u2"], "dog", {"preview": "{image}?w=100"})
    assert "[![#1 dog](u1?w=100)](u1)\n[![#2 dog](u2?w=100)](u2)" in str(several)
    assert several.get("preview") == "{image}?w=100" and several.get_list() == ["u1", "u2"]
    only_bytes = ImageResponse([], "x", data=b"abc", mime_type="image/gif")
    assert only_bytes.url == "data:image/gif;base64,YWJj"
    assert "bytes" in repr(only_bytes) and "YWJj" not in repr(only_bytes)


class Echo(AsyncGeneratorProvider, ProviderModelMixin):
    """A provider with no network: yields the prompt's words, then fails if asked to."""

    default_model = "echo"
    models = ["echo", "picture"]
    model_aliases = {"e": "echo"}
    image_models = ["picture"]

    @classmethod
    async def create_async_generator(cls, model: str, messages: Messages, proxy: str | None = None,
                                     fail: BaseException | None = None, **kwargs: Any
                                     ) -> AsyncGenerator[str | ImageResponse, None]:
        if cls.get_model(model) == "picture":
            yield ImageResponse("http://img/1.png", "p", data=b"x", mime_type="image/png")
            return
        for word in messages[-1]["content"].split():
            yield word + " "
        if fail is not None:
            raise fail


async def test_a_provider_stream_iterates_and_is_also_awaitable() -> None:
    messages = [{"role": "user", "content": "one two"}]
    stream = Echo.create_async_generator("echo", messages)
    assert isinstance(stream, ProviderStream) and isinstance(stream, AsyncGenerator)
    assert [chunk async for chunk in stream] == ["one ", "two "]
    awaited = await Echo.create_async_generator(model="e", messages=messages)
    assert [chunk async for chunk in awaited] == ["one ", "two "]


async def test_stray_timeouts_become_provider_errors_with_the_provider_name() -> None:
    stream = Echo.create_async_generator("echo", [{"role": "user", "content": "a"}],
                                         fail=TimeoutError())
    with pytest.raises(ProviderTimeoutError) as info:
        [chunk async for chunk in stream]
    assert info.value.provider == "Echo"
    bug = Echo.create_async_generator("echo", [{"role": "user", "content": "a"}],
                                      fail=KeyError("x"))
    with pytest.raises(KeyError):
        [chunk async for chunk in bug]


async def test_create_async_joins_text_or_returns_the_image_url() -> None:
    messages = [{"role": "user", "content": "a b"}]
    assert await Echo.create_async("echo", messages) == "a b "
    assert await Echo.create_async("picture", messages) == "http://img/1.png"
    with pytest.raises(ValueError, match="messages"):
        Echo.create_async_generator("echo", [])


def test_get_model_applies_defaults_and_aliases_and_rejects_unknown_models() -> None:
    assert AI365VIP.get_model("gpt-3.5-turbo") == "gpt-3.5-turbo-16k"
    assert AI365VIP.get_model("GPT-4O") == "gpt-4o"
    assert AI365VIP.get_model("") == "gpt-3.5-turbo"
    assert Ylokh.get_model(None) == "gpt-3.5-turbo"
    with pytest.raises(ModelNotSupportedError,
                       match="Model is not supported: gpt-5 in: AiAsk") as info:
        AiAsk.get_model("gpt-5")
    assert isinstance(info.value, ProviderError) and isinstance(info.value, RuntimeError)


def test_settings_parse_comma_lists_and_blank_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_MODELS", "llama3, qwen2.5,,")
    monkeypatch.setenv("OPENAI_IMAGE_MODELS", "")
    monkeypatch.setenv("PROXY_URL", "")
    monkeypatch.setenv("PROVIDER_IDLE_TIMEOUT", "2.5")
    settings = ProviderSettings()
    assert settings.openai_models == ["llama3", "qwen2.5"] and settings.openai_image_models == []
    assert settings.proxy_url is None and settings.provider_idle_timeout == 2.5
    assert settings.image_max_bytes == 10_000_000 and not settings.openai_configured
    assert ProviderSettings(openai_api_key=SecretStr("k")).openai_configured
    assert ProviderSettings(openai_base_url="http://127.0.0.1:11434/v1").openai_configured
    assert "sk-secret-42" not in repr(ProviderSettings(openai_api_key=SecretStr("sk-secret-42")))


def test_current_reads_the_environment_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIASK_URL", "http://127.0.0.1:9/mirror/")
    assert current().aiask_url == "http://127.0.0.1:9/mirror/"
    assert AiAsk.api_url("/v1/chat/gpt/") == "http://127.0.0.1:9/mirror/v1/chat/gpt/"
    assert Ylokh.api_url("/v1/chat/completions") == "https://chatapi.ylokh.xyz/v1/chat/completions"
    explicit = ProviderSettings(aiask_url="http://127.0.0.1:8/x")
    configure(explicit)
    try:
        assert current() is explicit and AiAsk.api_url("/p") == "http://127.0.0.1:8/x/p"
    finally:
        configure(None)
    bound = OpenAI.with_settings(ProviderSettings(openai_models=["m1"], openai_image_models=[]))
    assert bound.__name__ == "OpenAI" and bound.models == ["m1"] and bound.default_model == "m1"
    assert OpenAI.models == ["gpt-4o-mini", "gpt-4o", "dall-e-3"]


def test_settings_are_subclassable_for_the_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    class BotSettings(ProviderSettings):
        telegram_token: SecretStr

    monkeypatch.setenv("TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("YLOKH_URL", "http://127.0.0.1:7")
    settings = BotSettings()
    configure(settings)
    try:
        assert Ylokh.api_url("/v1/chat/completions") == "http://127.0.0.1:7/v1/chat/completions"
    finally:
        configure(None)
