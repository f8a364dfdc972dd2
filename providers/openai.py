"""OpenAI and OpenAI-compatible servers (OpenAI, Ollama, vLLM, LocalAI, OpenRouter, ...).

Wire format (OpenAI API reference, "Chat" and "Images"):
- text: ``POST {OPENAI_BASE_URL}/chat/completions`` with ``{model, messages, stream}`` plus any
  of ``CHAT_PARAMETERS`` given as keyword arguments. Streaming replies are SSE
  ``chat.completion.chunk`` events ending with ``data: [DONE]``; ``stream=False`` gives one
  ``chat.completion`` object. For a model in ``OPENAI_VISION_MODELS``, user messages may carry
  content parts (``text`` and ``image_url`` with a ``data:`` URI), sent as they are.
  A stream that ends before ``[DONE]`` without any ``finish_reason`` was cut short:
  ProviderConnectionError, after the text so far. Reasoning (``reasoning_content``,
  ``reasoning``, a leading ``<think>`` block) comes as Reasoning chunks and the usage as one
  Usage chunk; ``stream_options`` asks for it (:mod:`providers.chat`).
- images (a model in ``OPENAI_IMAGE_MODELS``): ``POST {OPENAI_BASE_URL}/images/generations``
  with ``{model, prompt: <last message's text>, n}`` plus any of ``IMAGE_PARAMETERS``; each
  ``data[]`` item carries ``b64_json`` or a ``url`` (downloaded, without the API key).
- errors: 401 MissingAuthError, 429 RateLimitError, others ResponseStatusError, each with a
  short category as its message; the body's ``error.message`` is the error's ``detail`` (for
  the log: a 401's quotes part of the key).
- bounds: a JSON body up to ``PROVIDER_MAX_JSON_BYTES``, plus the base64 size of ``n`` images
  of ``IMAGE_MAX_BYTES`` for the images endpoint; SSE lines up to ``PROVIDER_MAX_LINE_BYTES``.

``Authorization: Bearer <OPENAI_API_KEY>`` is sent only when a key is set (Ollama needs none).
The model lists come from the settings at call time (``OPENAI_MODELS``, ``OPENAI_IMAGE_MODELS``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

from providers.base import (
    AsyncGeneratorProvider,
    Chunk,
    ImageResponse,
    Messages,
    ProviderModelMixin,
    content_text,
)
from providers.chat import chat_completion
from providers.errors import N_, ResponseFormatError
from providers.http import client_session, decode_image, download_image, post
from providers.settings import DEFAULT_OPENAI_BASE_URL, ProviderSettings

CHAT_PARAMETERS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
                   "presence_penalty", "frequency_penalty", "user", "reasoning_effort")
IMAGE_PARAMETERS = ("size", "quality", "style", "response_format", "user")


class _FromSettings:
    """A class attribute computed from the provider's settings each time it is read."""

    def __init__(self, read: Callable[[ProviderSettings], Any]) -> None:
        self._read = read

    def __get__(self, instance: object, owner: type[OpenAI]) -> Any:
        return self._read(owner.get_settings())


class OpenAI(AsyncGeneratorProvider, ProviderModelMixin):
    """An OpenAI-compatible API at ``OPENAI_BASE_URL``; configured when ``OPENAI_API_KEY`` is
    set or the base URL is not the default (see :meth:`is_configured`)."""

    url = "https://api.openai.com"
    api_origin = DEFAULT_OPENAI_BASE_URL
    url_setting = "openai_base_url"
    working = True
    supports_message_history = True
    models = _FromSettings(lambda s: [*s.openai_models, *s.openai_image_models])
    image_models = _FromSettings(lambda s: list(s.openai_image_models))
    vision_models = _FromSettings(lambda s: list(s.openai_vision_models))
    default_model = _FromSettings(
        lambda s: next(iter([*s.openai_models, *s.openai_image_models]), None))

    @classmethod
    def is_configured(cls) -> bool:
        """True when a key is set or the base URL is not OpenAI's (settings.openai_configured)."""
        return cls.get_settings().openai_configured

    @classmethod
    async def create_async_generator(
        cls, model: str, messages: Messages, proxy: str | None = None, stream: bool = True,
        timeout: float | None = None, **kwargs: Any,
    ) -> AsyncGenerator[Chunk, None]:
        """Stream ``str`` deltas, :class:`Reasoning` and one :class:`Usage` last when the server
        reports it (all at once when ``stream`` is False; :mod:`providers.chat`), or yield one
        ImageResponse per generated image for an image model.

        Raises MissingAuthError, RateLimitError, ResponseStatusError (with the server's
        message), ResponseFormatError, ModelNotSupportedError, and timeout (``timeout``
        seconds, default ``PROVIDER_FIRST_BYTE_TIMEOUT``) and connection errors."""
        model = cls.get_model(model)
        key = cls.get_settings().openai_api_key
        auth = {"Authorization": f"Bearer {key.get_secret_value()}"} if key else None
        limits, proxy = cls.get_limits(timeout), cls.get_proxy(proxy)
        async with client_session(None, limits) as session:
            if model not in cls.image_models:
                data = {"model": model, "messages": messages, "stream": stream,
                        **{k: v for k, v in kwargs.items() if k in CHAT_PARAMETERS}}
                async for chunk in chat_completion(session, cls.api_url("/chat/completions"),
                                                   data, proxy=proxy, limits=limits,
                                                   headers=auth):
                    yield chunk
                return
            prompt = content_text(messages[-1].get("content"))
            data = {"model": model, "prompt": prompt, "n": kwargs.get("n", 1),
                    **{k: v for k, v in kwargs.items() if k in IMAGE_PARAMETERS}}
            async with post(session, cls.api_url("/images/generations"), json=data,
                            proxy=proxy, limits=limits, headers=auth) as response:
                images = data["n"] if isinstance(data["n"], int) else 1
                reply = await response.json(limits.image_json_bytes(images))
            items = reply.get("data") if isinstance(reply, dict) else None
            if not isinstance(items, list) or not items:
                raise ResponseFormatError(N_("The image reply has no 'data'"))
            for item in items:
                item = item if isinstance(item, dict) else {}
                revised = item.get("revised_prompt")
                options = {"revised_prompt": revised} if revised else {}
                if isinstance(item.get("b64_json"), str):
                    body, mime = decode_image(item["b64_json"], max_bytes=limits.image_max_bytes)
                    yield ImageResponse([], prompt, options, data=body, mime_type=mime)
                elif isinstance(item.get("url"), str):
                    body, mime = await download_image(session, item["url"], proxy=proxy,
                                                      limits=limits)
                    yield ImageResponse([item["url"]], prompt, options, data=body, mime_type=mime)
                else:
                    raise ResponseFormatError(
                        N_("The image reply has neither 'b64_json' nor 'url'"))

