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

``Authorization: Bearer <key>`` is sent only when a key is set (Ollama needs none), with the
endpoint's extra headers. The class ``OpenAI`` reads the ``OPENAI_*`` settings at call time;
:meth:`OpenAI.for_endpoint` makes the class of one endpoint (``providers.endpoints``). The
models offered are the endpoint's ``GET /models`` answer through its allow-list
(:meth:`OpenAI.refresh_models`), or the configured list until it answered.
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
from providers.endpoints import Endpoint, env_endpoint
from providers.errors import N_, ProviderError, ResponseFormatError
from providers.http import client_session, decode_image, download_image, post
from providers.model_lists import ModelCatalog, fetch_model_ids
from providers.settings import DEFAULT_OPENAI_BASE_URL, ProviderSettings

CHAT_PARAMETERS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
                   "presence_penalty", "frequency_penalty", "user", "reasoning_effort")
IMAGE_PARAMETERS = ("size", "quality", "style", "response_format", "user")


class _FromEndpoint:
    """A class attribute computed from the provider's endpoint each time it is read."""

    def __init__(self, read: Callable[[type[OpenAI]], Any]) -> None:
        self._read = read

    def __get__(self, instance: object, owner: type[OpenAI]) -> Any:
        return self._read(owner)


class OpenAI(AsyncGeneratorProvider, ProviderModelMixin):
    """An OpenAI-compatible endpoint: the ``OPENAI_*`` settings (configured when
    ``OPENAI_API_KEY`` is set or the base URL is not the default, see :meth:`is_configured`),
    or one of ``ENDPOINTS_FILE`` (:meth:`for_endpoint`)."""

    url = "https://api.openai.com"
    api_origin = DEFAULT_OPENAI_BASE_URL
    url_setting = "openai_base_url"
    working = True
    supports_message_history = True
    _endpoint: Endpoint | None = None  # None: the OPENAI_* settings, read at each use
    catalog: ModelCatalog | None = None  # what GET /models said; None: never asked
    models = _FromEndpoint(lambda cls: cls.offered_models())
    image_models = _FromEndpoint(lambda cls: list(cls.get_endpoint().image_models))
    vision_models = _FromEndpoint(lambda cls: list(cls.get_endpoint().vision_models))
    default_model = _FromEndpoint(lambda cls: next(iter(cls.offered_models()), None))

    @classmethod
    def get_endpoint(cls) -> Endpoint:
        """The endpoint this class talks to (``OPENAI_*`` unless made by :meth:`for_endpoint`)."""
        return cls._endpoint or env_endpoint(cls.get_settings())

    @classmethod
    def for_endpoint(cls, endpoint: Endpoint, settings: ProviderSettings | None = None
                     ) -> type[OpenAI]:
        """A subclass named after ``endpoint`` (``OpenAI`` for the one named ``openai``) that
        talks to it, with its own :class:`ModelCatalog`; ``settings`` bound as by
        ``with_settings`` (the timeouts, byte bounds and proxy)."""
        name = "OpenAI" if endpoint.name.lower() == "openai" else endpoint.name
        namespace = {"_endpoint": endpoint, "_settings": settings, "catalog": ModelCatalog(),
                     "__module__": cls.__module__, "__qualname__": name, "__doc__": cls.__doc__}
        return type(name, (cls,), namespace)

    @classmethod
    def offered_models(cls) -> list[str]:
        """The models offered: the last ``/models`` answer through the allow-list, else the
        configured ones (:meth:`Endpoint.configured_models`)."""
        endpoint = cls.get_endpoint()
        listed = cls.catalog.listed if cls.catalog is not None else None
        return endpoint.configured_models() if listed is None else endpoint.offered(listed)

    @classmethod
    def is_configured(cls) -> bool:
        """True for an endpoint of the file; for ``OPENAI_*``, when a key is set or the base URL
        is not OpenAI's (settings.openai_configured)."""
        return cls._endpoint is not None or cls.get_settings().openai_configured

    @classmethod
    def api_url(cls, path: str) -> str:
        """``path`` behind the endpoint's base URL."""
        return cls.get_endpoint().base_url.rstrip("/") + path

    @classmethod
    def request_headers(cls) -> dict[str, str]:
        """The endpoint's extra headers and, when it has a key, ``Authorization: Bearer``."""
        endpoint = cls.get_endpoint()
        key = endpoint.key()
        return {**endpoint.headers, **({"Authorization": f"Bearer {key}"} if key else {})}

    @classmethod
    async def refresh_models(cls) -> list[str]:
        """Ask ``GET {base}/models`` (within ``MODELS_TIMEOUT`` seconds) and keep its ids in
        :attr:`catalog`; returns the models now offered. On failure the catalog keeps its last
        good list, records the error's message and the error is raised (ProviderError). An
        endpoint with ``fetch_models = false`` is not asked: its allow-list is its list."""
        if cls.catalog is None:
            cls.catalog = ModelCatalog()
        if not cls.get_endpoint().fetch_models:
            return cls.offered_models()
        settings = cls.get_settings()
        try:
            ids = await fetch_model_ids(cls.api_url("/models"), cls.request_headers(),
                                        cls.get_limits(), cls.get_proxy(None),
                                        settings.models_timeout)
        except ProviderError as error:
            error.provider = error.provider or cls.__name__
            cls.catalog.error = str(error)
            raise
        cls.catalog.succeeded(ids)
        return cls.offered_models()

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
        auth = cls.request_headers()
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

