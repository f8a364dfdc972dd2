"""AiChats (ai-chats.org): ``gpt-4`` text over ``data:`` lines and ``dalle`` images.

Wire format (provider-protocols.md §4; seed 003): ``POST {origin}/chat/send2/`` with the
original's Chrome 127 headers (``referer`` ``/image/`` for dalle, ``/chat/`` otherwise) and
``{type: "image"|"chat", messagesHistory: [{from: "you", content: <prompt>}]}``; the prompt is
``format_prompt(messages)`` for chat and the last message's content for dalle.
- chat: the body is SSE-style ``data: <text>`` lines (plain text, not JSON).
- dalle: ``{"data": [{"url": ...}]}``; the image is then downloaded from that URL.

Concatenation: each SSE event's data is one chunk and the chunks are concatenated with no
separator, as the original concatenated payloads; the ``data:`` lines of one event are joined
with ``\\n`` (the original dropped those line breaks). So a server sending one ``data:`` line
per token with blank-line event separators yields its tokens in order. Whitespace around the
whole reply is trimmed, as the original's ``.strip()`` did: leading whitespace is skipped and
trailing whitespace is held back until more text follows it.

Fixed here: streamed as events arrive (the original read the whole body); errors raise
ProviderErrors (the original yielded "Error occurred: ..." as text); the image bytes and their
real MIME type are kept (the original labelled everything ``image/png``), capped at
``IMAGE_MAX_BYTES`` and the time bounds, downloaded through the proxy too; every line and event
is bounded (``PROVIDER_MAX_LINE_BYTES``), the JSON body too (``PROVIDER_MAX_JSON_BYTES``). The
format has no end marker: only HTTP framing (chunked encoding, Content-Length) tells a cut
reply; ``get_model()`` applied.
The original's hard-coded session cookie is not shipped (``AICHATS_COOKIE`` supplies one).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from yarl import URL

from providers.base import (
    AsyncGeneratorProvider,
    ImageResponse,
    Messages,
    ProviderModelMixin,
    format_prompt,
)
from providers.errors import N_, ResponseFormatError
from providers.http import client_session, download_image, post
from providers.sse import iter_sse


class AiChats(AsyncGeneratorProvider, ProviderModelMixin):
    """AiChats: ``gpt-4`` (text) and ``dalle`` (one ImageResponse)."""

    url = "https://ai-chats.org"
    api_origin = "https://ai-chats.org"
    url_setting = "aichats_url"
    working = True
    supports_message_history = True
    default_model = "gpt-4"
    models = ["gpt-4", "dalle"]
    image_models = ["dalle"]

    @classmethod
    async def create_async_generator(
        cls, model: str, messages: Messages, proxy: str | None = None,
        timeout: float | None = None, **kwargs: Any,
    ) -> AsyncGenerator[str | ImageResponse, None]:
        """Stream the gpt-4 reply as ``str`` deltas, or yield one ImageResponse for dalle.

        Raises ResponseFormatError (no image URL, not an image, too large), and ProviderErrors
        for HTTP, timeout (``timeout`` seconds, default ``PROVIDER_FIRST_BYTE_TIMEOUT``) and
        connection failures."""
        image = cls.get_model(model) == "dalle"
        headers = {
            "accept": "application/json, text/event-stream",
            "accept-language": "en-US,en;q=0.9",
            "cache-control": "no-cache",
            "content-type": "application/json",
            "origin": cls.url,
            "pragma": "no-cache",
            "referer": f"{cls.url}/{'image' if image else 'chat'}/",
            "sec-ch-ua": '"Chromium";v="127", "Not)A;Brand";v="99"',
            "sec-ch-ua-mobile": "?0",
            "sec-ch-ua-platform": '"Linux"',
            "sec-fetch-dest": "empty",
            "sec-fetch-mode": "cors",
            "sec-fetch-site": "same-origin",
            "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                          "(KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36",
        }
        settings = cls.get_settings()
        cookie = settings.aichats_cookie
        prompt = messages[-1]["content"] if image else format_prompt(messages)
        data = {"type": "image" if image else "chat",
                "messagesHistory": [{"from": "you", "content": prompt}]}
        limits, proxy = cls.get_limits(timeout), cls.get_proxy(proxy)
        async with client_session(headers, limits) as session:
            async with post(session, cls.api_url("/chat/send2/"), json=data, proxy=proxy,
                            limits=limits,
                            headers={"cookie": cookie.get_secret_value()} if cookie else None,
                            ) as response:
                if not image:
                    events = iter_sse(response.chunks(), limits.max_line_bytes)
                    async for text in _stripped(events):
                        yield text
                    return
                reply = await response.json()
                items = reply.get("data") if isinstance(reply, dict) else None
                first = items[0] if isinstance(items, list) and items else None
                image_url = first.get("url") if isinstance(first, dict) else None
                if not isinstance(image_url, str) or not image_url:
                    raise ResponseFormatError(N_("AiChats returned no image URL"))
                image_url = str(response.url.join(URL(image_url)))
            body, mime = await download_image(session, image_url, proxy=proxy, limits=limits)
        yield ImageResponse([image_url], prompt, data=body, mime_type=mime)


async def _stripped(events: AsyncIterator[str]) -> AsyncIterator[str]:
    """The events' text with the whole reply's outer whitespace removed, still streaming."""
    started, held = False, ""
    async for text in events:
        if not started:
            text = text.lstrip()
            started = bool(text)
        body = text.rstrip()
        if body:
            yield held + body
            held = text[len(body):]
        else:
            held += text
