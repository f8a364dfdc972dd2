"""ChatAnywhere (chatanywhere.cn): raw text stream.

Wire format (provider-protocols.md §2; seed 001): ``POST {origin}/v1/chat/gpt/`` with the
original's browser headers (Firefox 119 User-Agent, ``Referer``/``Origin`` of the original
site, an empty ``Authorization``) and the JSON body ``{list: <messages as-is>, id: <fixed
conversation id>, title: <last message's content>, prompt: "", temperature: 0.5,
models: "61490748", continuous: true}``. The reply body is plain UTF-8 text; its end ends
the reply (there is no end marker: only HTTP framing tells a cut reply). The original's 120 s
total timeout is now the wait for the reply to start (``PROVIDER_FIRST_BYTE_TIMEOUT``).

Fixed here: incremental UTF-8 decoding across chunk borders; ``Accept-Encoding`` advertises
``br`` only when aiohttp can decode Brotli (the original always did, and failed without it).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from aiohttp.compression_utils import HAS_BROTLI

from providers.base import AsyncGeneratorProvider, Messages, ProviderModelMixin
from providers.http import client_session, post
from providers.sse import iter_text


class ChatAnywhere(AsyncGeneratorProvider, ProviderModelMixin):
    """ChatAnywhere: ``gpt-3.5-turbo`` only (the server's ``models`` value is ``"61490748"``)."""

    url = "https://chatanywhere.cn"
    api_origin = "https://chatanywhere.cn"
    url_setting = "chatanywhere_url"
    working = True
    supports_message_history = True
    supports_gpt_35_turbo = True
    default_model = "gpt-3.5-turbo"
    models = ["gpt-3.5-turbo"]
    model_aliases = {"gpt-3.5": "gpt-3.5-turbo"}
    conversation_id = "s1_qYuOLXjI3rEpc7WHfQ"

    @classmethod
    async def create_async_generator(
        cls, model: str, messages: Messages, proxy: str | None = None,
        timeout: float | None = None, temperature: float = 0.5, **kwargs: Any,
    ) -> AsyncGenerator[str, None]:
        """Stream ChatAnywhere's reply: non-empty ``str`` deltas. ``timeout``: seconds to wait for
        the reply to start.

        Raises ModelNotSupportedError for a model other than gpt-3.5-turbo, and ProviderErrors
        for HTTP, timeout and connection failures."""
        cls.get_model(model)
        headers = {
            "User-Agent": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) "
                          "Gecko/20100101 Firefox/119.0",
            "Accept": "application/json, text/plain, */*",
            "Accept-Language": "de,en-US;q=0.7,en;q=0.3",
            "Accept-Encoding": "gzip, deflate, br" if HAS_BROTLI else "gzip, deflate",
            "Content-Type": "application/json",
            "Referer": f"{cls.url}/",
            "Origin": cls.url,
            "Sec-Fetch-Dest": "empty",
            "Sec-Fetch-Mode": "cors",
            "Sec-Fetch-Site": "same-origin",
            "Authorization": "",
            "Connection": "keep-alive",
            "TE": "trailers",
        }
        data = {
            "list": messages,
            "id": cls.conversation_id,
            "title": messages[-1]["content"],
            "prompt": "",
            "temperature": temperature,
            "models": "61490748",
            "continuous": True,
        }
        limits = cls.get_limits(timeout)
        async with client_session(headers, limits) as session, post(
                session, cls.api_url("/v1/chat/gpt/"), json=data,
                proxy=cls.get_proxy(proxy), limits=limits) as response:
            async for text in iter_text(response.chunks()):
                yield text
