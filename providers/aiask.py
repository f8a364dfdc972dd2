"""AiAsk (e.aiask.me): raw text stream with a rate-limit sentinel.

Wire format (provider-protocols.md §1; seed 000): ``POST {origin}/v1/chat/gpt/`` with headers
``accept``, ``origin`` and ``referer`` (the original site's values) and the JSON body
``{continuous: true, id: <fixed conversation id>, list: <messages as-is>, models: "0",
prompt: "", temperature: kwargs.get("temperature", 0.5), title: ""}``. The reply body is
plain UTF-8 text streamed as it is generated; the end of the body ends the reply.

When the free quota is used up, the body is the sentinel ``RATE_LIMIT_SENTINEL`` instead.

Fixed here: the text is decoded incrementally (the original decoded each chunk alone and
crashed on a split character); only the start of the reply is held back while it is a prefix
of the sentinel, and a reply that *starts with* the sentinel raises ``RateLimitError("Rate
limit reached")`` (the original raised only for an exact match at a chunk start and could
hold back text mid-reply); a held-back prefix is flushed at the end of a normal reply (the
original dropped it).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from providers.base import AsyncGeneratorProvider, Messages, ProviderModelMixin
from providers.errors import N_, RateLimitError
from providers.http import client_session, post
from providers.sse import iter_text

RATE_LIMIT_SENTINEL = "您的免费额度不够使用这个模型啦，请点击右上角登录继续使用！"
"""AiAsk's "free quota used up, please log in" reply (29 characters, 87 bytes in UTF-8)."""


class AiAsk(AsyncGeneratorProvider, ProviderModelMixin):
    """AiAsk: ``gpt-3.5-turbo`` only (the server's ``models`` value is the fixed ``"0"``)."""

    url = "https://e.aiask.me"
    api_origin = "https://e.aiask.me"
    url_setting = "aiask_url"
    working = True
    supports_message_history = True
    supports_gpt_35_turbo = True
    default_model = "gpt-3.5-turbo"
    models = ["gpt-3.5-turbo"]
    model_aliases = {"gpt-3.5": "gpt-3.5-turbo"}
    conversation_id = "fRMSQtuHl91A4De9cCvKD"

    @classmethod
    async def create_async_generator(
        cls, model: str, messages: Messages, proxy: str | None = None,
        timeout: float | None = None, **kwargs: Any,
    ) -> AsyncGenerator[str, None]:
        """Stream AiAsk's reply: non-empty ``str`` deltas.

        Raises RateLimitError (a RuntimeError, as the seed documents) for the sentinel reply,
        ModelNotSupportedError for a model other than gpt-3.5-turbo, and the other
        ProviderErrors for HTTP, timeout (``timeout`` seconds, default
        ``PROVIDER_FIRST_BYTE_TIMEOUT``) and connection failures."""
        cls.get_model(model)
        headers = {
            "accept": "application/json, text/plain, */*",
            "origin": cls.url,
            "referer": f"{cls.url}/chat",
        }
        data = {
            "continuous": True,
            "id": cls.conversation_id,
            "list": messages,
            "models": "0",
            "prompt": "",
            "temperature": kwargs.get("temperature", 0.5),
            "title": "",
        }
        limits = cls.get_limits(timeout)
        async with client_session(headers, limits) as session, post(
                session, cls.api_url("/v1/chat/gpt/"), json=data,
                proxy=cls.get_proxy(proxy), limits=limits) as response:
            held = ""  # the start of the reply while it may still be the sentinel
            checking = True
            async for text in iter_text(response.chunks()):
                if not checking:
                    yield text
                    continue
                held += text
                if held.startswith(RATE_LIMIT_SENTINEL):
                    raise RateLimitError(N_("Rate limit reached"))
                if not RATE_LIMIT_SENTINEL.startswith(held):
                    checking = False
                    yield held
            if checking and held:
                yield held
