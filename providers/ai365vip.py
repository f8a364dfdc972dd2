"""AI365VIP (chat.ai365vip.com): raw text streamed line by line.

Wire format (provider-protocols.md §3; seed 002): ``POST {origin}/api/chat`` with the
original's Chrome 127 headers (client hints included) and a chatbot-ui style JSON body:
``{model: {id, name: "GPT-3.5", maxLength: 3000, tokenLimit: 2048}, messages: [{role: "user",
content: format_prompt(messages)}], key: "", prompt: "You are a helpful assistant.",
temperature: 1}``. The reply body is plain UTF-8 text; the original read it line by line
(aiohttp ``readline``), yielding each line with its ``\\n``, so the chunks joined give the
body exactly.

Fixed here: ``get_model()`` is applied, so the provider's alias works (``gpt-3.5-turbo`` is
sent as ``gpt-3.5-turbo-16k``; the original sent the raw string); a line over 64K characters
is passed on in pieces instead of failing with "Chunk too big"; a Cloudflare page raises
CloudflareError (the original disabled this provider because of Cloudflare).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from providers.base import AsyncGeneratorProvider, Messages, ProviderModelMixin, format_prompt
from providers.http import client_session, post
from providers.sse import iter_lines


class AI365VIP(AsyncGeneratorProvider, ProviderModelMixin):
    """AI365VIP: ``gpt-3.5-turbo`` (alias of ``gpt-3.5-turbo-16k``), ``gpt-3.5-turbo-16k``,
    ``gpt-4o``. The history is flattened into one user turn (``format_prompt``)."""

    url = "https://chat.ai365vip.com"
    api_origin = "https://chat.ai365vip.com"
    url_setting = "ai365vip_url"
    api_endpoint = "/api/chat"
    working = True
    default_model = "gpt-3.5-turbo"
    models = ["gpt-3.5-turbo", "gpt-3.5-turbo-16k", "gpt-4o"]
    model_aliases = {"gpt-3.5-turbo": "gpt-3.5-turbo-16k", "gpt-3.5": "gpt-3.5-turbo-16k"}

    @classmethod
    async def create_async_generator(
        cls, model: str, messages: Messages, proxy: str | None = None,
        timeout: float | None = None, **kwargs: Any,
    ) -> AsyncGenerator[str, None]:
        """Stream AI365VIP's reply: one ``str`` chunk per line, ``\\n`` included.

        Raises ModelNotSupportedError for an unknown model, CloudflareError for a challenge
        page, and ProviderErrors for other HTTP, timeout (``timeout`` seconds, default
        ``PROVIDER_FIRST_BYTE_TIMEOUT``) and connection failures."""
        model = cls.get_model(model)
        headers = {
            "accept": "*/*",
            "accept-language": "en-US,en;q=0.9",
            "content-type": "application/json",
            "origin": cls.url,
            "referer": f"{cls.url}/en",
            "sec-ch-ua": '"Chromium";v="127", "Not)A;Brand";v="99"',
            "sec-ch-ua-arch": '"x86"',
            "sec-ch-ua-bitness": '"64"',
            "sec-ch-ua-full-version": '"127.0.6533.119"',
            "sec-ch-ua-full-version-list":
                '"Chromium";v="127.0.6533.119", "Not)A;Brand";v="99.0.0.0"',
            "sec-ch-ua-mobile": "?0",
            "sec-ch-ua-model": '""',
            "sec-ch-ua-platform": '"Linux"',
            "sec-ch-ua-platform-version": '"4.19.276"',
            "sec-fetch-dest": "empty",
            "sec-fetch-mode": "cors",
            "sec-fetch-site": "same-origin",
            "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                          "(KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36",
        }
        data = {
            "model": {"id": model, "name": "GPT-3.5", "maxLength": 3000, "tokenLimit": 2048},
            "messages": [{"role": "user", "content": format_prompt(messages)}],
            "key": "",
            "prompt": "You are a helpful assistant.",
            "temperature": 1,
        }
        limits = cls.get_limits(timeout)
        async with client_session(headers, limits) as session, post(
                session, cls.api_url(cls.api_endpoint), json=data,
                proxy=cls.get_proxy(proxy), limits=limits) as response:
            async for line in iter_lines(response.chunks()):
                yield line
