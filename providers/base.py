"""The seed API (g4f's provider shape, seeds 000-004): ``AsyncGeneratorProvider``,
``ProviderModelMixin``, ``ImageResponse``, ``Messages``, ``AsyncResult``, ``format_prompt``.

A provider is a class whose classmethod ``create_async_generator(model, messages, proxy=None,
**kwargs)`` streams non-empty ``str`` text deltas, or :class:`ImageResponse` values for an image
model. Failures are :class:`~providers.errors.ProviderError` exceptions, never text.

Every subclass's ``create_async_generator`` is wrapped (``__init_subclass__``) so that it
returns a :class:`ProviderStream`: an async generator that is also awaitable (``await``
returns the stream itself, for the Ylokh seed's ``generator = await
Ylokh.create_async_generator(...)``), that maps aiohttp and timeout errors to ProviderErrors
and sets their ``.provider``. A ``timeout=`` argument (seconds) bounds the wait for the reply
to start (``PROVIDER_FIRST_BYTE_TIMEOUT`` by default); the silence between pieces is bounded
by ``PROVIDER_IDLE_TIMEOUT``; there is no total deadline (``providers.limits``).

The six providers here have ``working = True``: they are our fixed ports, served on loopback
by the test fakes. The original hosts are dead (provider-protocols.md §7.13); point the
``*_URL`` settings at a live mirror to use them.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from providers import settings as _settings
from providers.errors import ModelNotSupportedError
from providers.limits import Limits
from providers.settings import ProviderSettings
from providers.status import map_exception

Messages = list[dict[str, Any]]
"""OpenAI-style history: ``[{"role": "system"|"user"|"assistant", "content": str}, ...]``; for a
model that can see, a user message's content may be a list of OpenAI content parts
(``{"type": "text", "text": ...}``, ``{"type": "image_url", "image_url": {"url": ...}}``)."""


def content_text(content: Any) -> str:
    """A message's text: the string itself, or the text parts of a list of content parts joined
    by line breaks (``""`` when there are none)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content
                         if isinstance(part, dict) and part.get("type") == "text")
    return ""


def text_only(messages: Messages) -> Messages:
    """``messages`` for a model that cannot see: a list-of-parts content becomes its text parts
    (``"[photo]"`` when it has none); string contents are kept as they are."""
    return [message if isinstance(message.get("content"), str)
            else {**message, "content": content_text(message.get("content")) or "[photo]"}
            for message in messages]


def format_prompt(messages: Messages, add_special_tokens: bool = False) -> str:
    """Flatten a history into one prompt; the g4f 2023/2024 behaviour, pinned
    (provider-protocols.md §6.5): one message (without special tokens) gives its content
    unchanged; otherwise ``"Role: content"`` lines (role ``.capitalize()``-d) joined with
    ``"\\n"`` plus ``"\\nAssistant:"``. An empty list raises IndexError, as it did."""
    if not add_special_tokens and len(messages) <= 1:
        return messages[0]["content"]
    lines = "\n".join(f"{message['role'].capitalize()}: {message['content']}"
                      for message in messages)
    return f"{lines}\nAssistant:"


class ImageResponse:
    """An image chunk: what a bot needs to send a photo.

    ``data``: the image bytes (empty when only a URL is known); ``mime_type``: e.g.
    ``"image/png"``, read from the reply (magic bytes / Content-Type), never assumed; ``urls``:
    source URL(s), possibly empty for a base64-only reply; ``alt``: the prompt. The g4f 2024
    constructor ``ImageResponse(images, alt, options={})`` and ``.images`` / ``get()`` /
    ``get_list()`` / markdown ``__str__`` are kept for the seeds."""

    def __init__(self, images: str | Sequence[str] = (), alt: str = "",
                 options: Mapping[str, Any] | None = None, *, data: bytes = b"",
                 mime_type: str = "") -> None:
        self.urls: list[str] = [images] if isinstance(images, str) else list(images)
        self.alt = alt
        self.options: dict[str, Any] = dict(options or {})
        self.data = data
        self.mime_type = mime_type

    @property
    def images(self) -> list[str]:
        """The seed's name for ``urls``."""
        return self.urls

    def get(self, key: str) -> Any:
        return self.options.get(key)

    def get_list(self) -> list[str]:
        return list(self.urls)

    @property
    def data_uri(self) -> str:
        """``data:<mime>;base64,...`` of ``data``, or ``""`` without data."""
        if not self.data:
            return ""
        return f"data:{self.mime_type};base64,{base64.b64encode(self.data).decode('ascii')}"

    @property
    def url(self) -> str:
        """The first source URL, else the data URI (what ``create_async`` returns)."""
        return self.urls[0] if self.urls else self.data_uri

    def __str__(self) -> str:
        preview = self.get("preview")
        images = self.urls or ([self.data_uri] if self.data else [])

        def link(image: str, alt: str) -> str:
            shown = preview.replace("{image}", image) if preview else image
            return f"[![{alt}]({shown})]({image})"

        if len(images) == 1:
            body = link(images[0], self.alt)
        else:
            body = "\n".join(link(image, f"#{n} {self.alt}") for n, image in enumerate(images, 1))
        return f"\n<!-- generated images start -->\n{body}\n<!-- generated images end -->\n\n"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ImageResponse):
            return NotImplemented
        return (self.urls, self.alt, self.data, self.mime_type) == (
            other.urls, other.alt, other.data, other.mime_type)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"ImageResponse(urls={self.urls!r}, alt={self.alt!r}, "
                f"mime_type={self.mime_type!r}, data=<{len(self.data)} bytes>)")


@dataclass(frozen=True)
class Reasoning:
    """A piece of the model's reasoning (its thinking before the answer), not part of the answer.

    Read from ``delta.reasoning_content`` (DeepSeek), ``delta.reasoning`` (OpenRouter) or inline
    ``<think>...</think>`` in the content (local models). ``text``: characters, as streamed."""

    text: str


@dataclass(frozen=True)
class Usage:
    """Token counts an endpoint reports for one reply (OpenAI's ``usage`` object).

    ``prompt_tokens`` and ``completion_tokens``: tokens; ``cost``: what the endpoint charged, in
    its currency (OpenRouter's ``usage.cost``, US dollars), or None when it does not say."""

    prompt_tokens: int
    completion_tokens: int
    cost: float | None = None


Chunk = str | ImageResponse | Reasoning | Usage
AsyncResult = AsyncGenerator[Chunk, None]
"""What ``create_async_generator`` returns: an async iterator of text deltas or images."""
T = TypeVar("T")


class ProviderStream(AsyncGenerator[Chunk, None]):
    """A provider's async generator, also awaitable (``await stream`` returns ``stream``).

    Exceptions from aiohttp or timeouts become ProviderErrors (``providers.status.map_exception``)
    and every ProviderError gets ``.provider`` (the class name) if it had none."""

    def __init__(self, generator: AsyncGenerator[Chunk, None], provider: str) -> None:
        self._generator = generator
        self.provider = provider

    def __await__(self) -> Generator[Any, None, ProviderStream]:
        return self
        yield  # unreachable: makes this a generator function that returns at once

    async def asend(self, value: None) -> Chunk:
        return await self._run(self._generator.asend(value))

    async def athrow(self, *args: Any) -> Chunk:
        return await self._run(self._generator.athrow(*args))

    async def aclose(self) -> None:
        await self._run(self._generator.aclose())

    async def _run(self, step: Awaitable[T]) -> T:
        try:
            return await step
        except Exception as exc:
            if isinstance(exc, StopAsyncIteration) or (error := map_exception(exc)) is None:
                raise
            if error.provider is None:
                error.provider = self.provider
            if error is exc:
                raise
            raise error from exc


def _stream_wrapper(func: Callable[..., AsyncGenerator[Chunk, None]]) -> Callable[..., Any]:
    @functools.wraps(func)
    def create_async_generator(cls: type, model: str, messages: Messages, *args: Any,
                               **kwargs: Any) -> ProviderStream:
        if not messages:
            raise ValueError("messages must not be empty")
        return ProviderStream(func(cls, model, messages, *args, **kwargs), cls.__name__)

    create_async_generator.__wrapped_stream__ = True  # type: ignore[attr-defined]
    return create_async_generator


class BaseProvider:
    """Class flags shared by providers (g4f 2024 ``BaseProvider`` defaults)."""

    url: str | None = None
    working: bool = False
    needs_auth: bool = False
    supports_stream: bool = False
    supports_message_history: bool = False


class AsyncGeneratorProvider(BaseProvider):
    """Base of every provider. Subclasses implement the classmethod async generator
    ``create_async_generator(model, messages, proxy=None, **kwargs)``.

    ``api_origin`` is the original API origin; the settings field named by ``url_setting``
    (e.g. ``"aiask_url"`` for ``AIASK_URL``) replaces it, see :meth:`api_url`."""

    supports_stream = True
    api_origin: str = ""
    url_setting: str | None = None
    _settings: ProviderSettings | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        method = cls.__dict__.get("create_async_generator")
        if isinstance(method, classmethod) and not hasattr(method.__func__, "__wrapped_stream__"):
            cls.create_async_generator = classmethod(  # type: ignore[method-assign,assignment]
                _stream_wrapper(method.__func__))  # the same signature, wrapped in a ProviderStream

    @classmethod
    def create_async_generator(cls, model: str, messages: Messages, proxy: str | None = None,
                               **kwargs: Any) -> AsyncResult:
        """Stream the reply to ``messages``: ``str`` deltas, or ImageResponse for an image model."""
        raise NotImplementedError

    @classmethod
    async def create_async(cls, model: str, messages: Messages, **kwargs: Any) -> str:
        """The whole reply text; for an image model the image URL (the first URL, or a ``data:``
        URI when the provider sent only base64). Non-streaming where the provider has a
        ``stream`` switch (g4f 2023 passed ``stream=False``). Raises ProviderError."""
        kwargs.setdefault("stream", False)
        parts: list[str] = []
        async with aclosing(cls.create_async_generator(model, messages, **kwargs)) as stream:
            async for chunk in stream:
                if isinstance(chunk, ImageResponse):
                    return chunk.url
                if isinstance(chunk, str):  # the answer only: not Reasoning, not Usage
                    parts.append(chunk)
        return "".join(parts)

    @classmethod
    def get_settings(cls) -> ProviderSettings:
        """Settings bound with :meth:`with_settings`, else ``providers.settings.current()``."""
        return cls._settings if cls._settings is not None else _settings.current()

    @classmethod
    def with_settings(cls, settings: ProviderSettings) -> type[Self]:
        """A subclass of the same name that reads ``settings`` instead of ``current()``."""
        namespace = {"_settings": settings, "__module__": cls.__module__,
                     "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}
        return type(cls.__name__, (cls,), namespace)

    @classmethod
    def api_url(cls, path: str) -> str:
        """``path`` behind the configured origin (``*_URL`` setting) or ``api_origin``."""
        override = getattr(cls.get_settings(), cls.url_setting) if cls.url_setting else None
        return (override or cls.api_origin).rstrip("/") + path

    @classmethod
    def get_proxy(cls, proxy: str | None) -> str | None:
        """The explicit ``proxy``, else ``PROXY_URL``, else None."""
        return proxy or cls.get_settings().proxy_url

    @classmethod
    def get_limits(cls, timeout: float | None = None) -> Limits:
        """The read bounds from the settings (``providers.limits``); an explicit ``timeout``
        (seconds) replaces ``PROVIDER_FIRST_BYTE_TIMEOUT``, the wait for the reply to start."""
        return Limits.from_settings(cls.get_settings(), float(timeout) if timeout else None)


class ProviderModelMixin:
    """Model list and aliases (g4f 2024 ``ProviderModelMixin``, provider-protocols.md §6.4).

    ``image_models`` are the ``models`` that yield ImageResponse instead of text;
    ``vision_models`` those that take images in (content parts, see ``Messages``)."""

    default_model: str | None = None
    models: list[str] = []
    model_aliases: dict[str, str] = {}
    image_models: list[str] = []
    vision_models: list[str] = []

    @classmethod
    def get_models(cls) -> list[str]:
        """``models``, or ``[default_model]`` when there is no list."""
        if not cls.models and cls.default_model:
            return [cls.default_model]
        return list(cls.models)

    @classmethod
    def get_model(cls, model: str | None) -> str:
        """The provider's model id for ``model``: the default for an empty one, the alias target
        for an alias (aliases first, as g4f did), the id itself; case-insensitive.

        Raises ModelNotSupportedError for a model the provider does not list."""
        if not model:
            if cls.default_model:
                return cls.default_model
            raise ModelNotSupportedError(str(model), cls.__name__, cls.get_models())
        aliases = {alias.lower(): target for alias, target in cls.model_aliases.items()}
        if model.lower() in aliases:
            return aliases[model.lower()]
        models = cls.get_models()
        for known in models:
            if known.lower() == model.lower():
                return known
        if models:
            raise ModelNotSupportedError(model, cls.__name__, models)
        return model
