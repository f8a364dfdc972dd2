"""Ylokh (chatapi.ylokh.xyz): an OpenAI-compatible chat completions proxy.

Wire format (provider-protocols.md §5; seed 004): ``POST {origin}/v1/chat/completions`` with
``Origin``/``Referer`` of the web UI (``https://chat.ylokh.xyz``) and the JSON body
``{messages, model, temperature: 1, presence_penalty: 0, top_p: 1, frequency_penalty: 0,
allow_fallback: true, stream}`` followed by every extra keyword argument (they override the
defaults or add keys, as in the original). With ``stream`` the reply is SSE
(``data: {chat.completion.chunk}`` events, ``data: [DONE]`` at the end); without, one
``chat.completion`` JSON object. A stream that ends before ``[DONE]`` without a
``finish_reason`` was cut short (ProviderConnectionError). The original's 120 s total timeout
is now the wait for the reply to start (``PROVIDER_FIRST_BYTE_TIMEOUT``).

Fixed here: SSE lines reassembled across chunks (``\\n``, ``\\r\\n``, ``\\r``), multi-line
events joined with ``\\n``; malformed JSON raises ResponseFormatError and an ``{"error": ...}``
event raises its ProviderError (the original crashed with JSONDecodeError/KeyError); the
non-stream reply never yields None; ``get_model()`` applied (empty -> ``gpt-3.5-turbo``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from providers.base import AsyncGeneratorProvider, Messages, ProviderModelMixin
from providers.http import client_session, post
from providers.sse import chat_message_text, iter_chat_deltas


class Ylokh(AsyncGeneratorProvider, ProviderModelMixin):
    """Ylokh: ``gpt-3.5-turbo``, streamed over SSE or answered in one JSON object."""

    url = "https://chat.ylokh.xyz"
    api_origin = "https://chatapi.ylokh.xyz"
    url_setting = "ylokh_url"
    working = True
    supports_message_history = True
    supports_gpt_35_turbo = True
    default_model = "gpt-3.5-turbo"
    models = ["gpt-3.5-turbo"]
    model_aliases = {"gpt-3.5": "gpt-3.5-turbo"}

    @classmethod
    async def create_async_generator(
        cls, model: str, messages: Messages, proxy: str | None = None, stream: bool = True,
        timeout: float | None = None, **kwargs: Any,
    ) -> AsyncGenerator[str, None]:
        """Stream Ylokh's reply: non-empty ``str`` deltas (one chunk when ``stream`` is False).

        ``timeout``: seconds to wait for the reply to start. Raises ResponseFormatError for a
        malformed reply, the error event's ProviderError, and ProviderErrors for HTTP, timeout
        and connection failures."""
        data = {
            "messages": messages,
            "model": cls.get_model(model),
            "temperature": 1,
            "presence_penalty": 0,
            "top_p": 1,
            "frequency_penalty": 0,
            "allow_fallback": True,
            "stream": stream,
            **kwargs,
        }
        headers = {"Origin": cls.url, "Referer": f"{cls.url}/"}
        limits = cls.get_limits(timeout)
        async with client_session(headers, limits) as session, post(
                session, cls.api_url("/v1/chat/completions"), json=data,
                proxy=cls.get_proxy(proxy), limits=limits) as response:
            if stream:
                async for text in iter_chat_deltas(response.chunks(), limits.max_line_bytes):
                    yield text
            elif text := chat_message_text(await response.json()):
                yield text
