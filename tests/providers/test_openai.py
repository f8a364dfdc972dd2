"""OpenAI (and OpenAI-compatible servers) against the fake: chat, images, errors, settings."""

from __future__ import annotations

import base64

import pytest

from providers import (
    ImageResponse,
    MissingAuthError,
    ModelNotSupportedError,
    OpenAI,
    ResponseFormatError,
    ResponseStatusError,
    Usage,
)
from tests.fakes.providers import FakeProviders, Reply, make_png
from tests.providers.helpers import MESSAGES, TEXT, collect, text_of


async def test_chat_request_and_streamed_text(fake: FakeProviders) -> None:
    fake.push("openai", Reply(TEXT, delta_chars=3, chunk_size=7, delay=0.001))
    assert await text_of(OpenAI, "gpt-4o", temperature=0.3, timeout=30, proxy=None,
                         unrelated="not sent") == TEXT
    [request] = fake.requests_for("openai")
    assert (request.method, request.path) == ("POST", "/openai/v1/chat/completions")
    assert request.headers["Authorization"] == "Bearer test-key"
    assert request.json == {"model": "gpt-4o", "messages": MESSAGES, "stream": True,
                            "temperature": 0.3, "stream_options": {"include_usage": True}}


async def test_non_streaming_when_asked(fake: FakeProviders) -> None:
    fake.push("openai", Reply(TEXT))
    assert await collect(OpenAI, "gpt-4o-mini", stream=False) == [TEXT, Usage(4, 9)]  # tokens: words
    assert fake.requests_for("openai")[0].json["stream"] is False


async def test_no_key_no_authorization_header(fake: FakeProviders,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    fake.api_key = None  # an Ollama-like server
    assert OpenAI.is_configured()  # the base URL is not the default
    assert await text_of(OpenAI, "gpt-4o") == "Hello!"
    assert "Authorization" not in fake.requests_for("openai")[0].headers


async def test_the_error_body_message_is_surfaced(fake: FakeProviders,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "wrong-key")
    with pytest.raises(MissingAuthError) as auth:
        await collect(OpenAI, "gpt-4o")
    assert str(auth.value) == "the provider rejected the key (HTTP 401)"
    assert auth.value.detail is not None and "Incorrect API key provided" in auth.value.detail
    assert "wro" in auth.value.detail  # the server's own text, with its key fragment: log only
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    fake.push("openai", Reply("The model `gpt-4o` does not exist", status=404))
    with pytest.raises(ResponseStatusError, match=r"does not offer .* \(HTTP 404\)") as info:
        await collect(OpenAI, "gpt-4o")
    assert info.value.detail == "The model `gpt-4o` does not exist"


async def test_models_come_from_the_settings(fake: FakeProviders,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_MODELS", "llama3.1:8b,qwen2.5")
    monkeypatch.setenv("OPENAI_IMAGE_MODELS", "")
    assert OpenAI.get_models() == ["llama3.1:8b", "qwen2.5"] and OpenAI.image_models == []
    assert await text_of(OpenAI, "") == "Hello!"
    assert fake.requests_for("openai")[0].json["model"] == "llama3.1:8b"
    with pytest.raises(ModelNotSupportedError):
        await collect(OpenAI, "gpt-4o")


async def test_image_model_b64_json(fake: FakeProviders) -> None:
    image = make_png(2, 2)
    fake.push("openai", Reply(image=image))
    messages = [{"role": "user", "content": [{"type": "text", "text": "A red fox"}]}]
    chunks = await collect(OpenAI, "dall-e-3", messages, response_format="b64_json", n=2,
                           size="1024x1024")
    assert len(chunks) == 2
    for chunk in chunks:
        assert isinstance(chunk, ImageResponse)
        assert (chunk.data, chunk.mime_type, chunk.urls, chunk.alt) == (image, "image/png", [],
                                                                        "A red fox")
    [request] = fake.requests_for("openai")
    assert request.path == "/openai/v1/images/generations"
    assert request.json == {"model": "dall-e-3", "prompt": "A red fox", "n": 2,
                            "size": "1024x1024", "response_format": "b64_json"}
    url = await OpenAI.create_async("dall-e-3", MESSAGES, response_format="b64_json")
    assert url == "data:image/png;base64," + base64.b64encode(make_png()).decode()


async def test_image_model_url_is_downloaded_without_the_key(fake: FakeProviders) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + bytes(64)
    fake.push("openai", Reply(image=jpeg, image_mime="image/jpeg"))
    [chunk] = await collect(OpenAI, "dall-e-3")
    assert isinstance(chunk, ImageResponse)
    assert chunk.data == jpeg and chunk.mime_type == "image/jpeg"
    assert chunk.get("revised_prompt") == MESSAGES[-1]["content"]
    post, download = fake.requests_for("openai")
    assert download.method == "GET" and chunk.urls == [fake.origin + download.path]
    assert "Authorization" in post.headers and "Authorization" not in download.headers


async def test_a_malformed_json_line_raises(fake: FakeProviders) -> None:
    body = 'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\ndata: {"choices":[{"delta":\n\n'
    fake.push("openai", Reply(body=body, content_type="text/event-stream"))
    chunks: list[object] = []
    with pytest.raises(ResponseFormatError, match="Malformed JSON") as info:
        async for chunk in OpenAI.create_async_generator("gpt-4o", MESSAGES):
            chunks.append(chunk)
    assert chunks == ["Hi"] and info.value.provider == "OpenAI"
