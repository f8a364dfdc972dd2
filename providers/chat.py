"""OpenAI-compatible chat completions as typed chunks: answer text, reasoning, usage.

Wire format (OpenAI API reference, "Chat"; DeepSeek's and OpenRouter's references):

- The request asks for usage in the stream: ``stream_options: {"include_usage": true}``. The
  reply's usage then comes in a chunk of its own (``choices: []``) before ``data: [DONE]``
  (OpenAI), or on the last chunk (OpenRouter, with ``usage.cost`` in US dollars). A server that
  answers that request with a 400 naming ``stream_options`` (or ``include_usage``) is asked
  again without it, once, and is never asked with it again by this process (remembered per
  chat completions URL). A 400 that names neither is the request's own fault and is raised.
- Each ``chat.completion.chunk`` gives its ``delta.reasoning_content`` / ``delta.reasoning``
  as :class:`Reasoning`, then its ``delta.content`` as text (a leading ``<think>`` block in it
  as Reasoning, see :mod:`providers.reasoning`).
- Reading goes on after a ``finish_reason``, until ``data: [DONE]`` or the end of the body;
  the last ``usage`` object seen becomes one :class:`Usage` chunk, yielded at that end. What
  comes after ``[DONE]`` is not read (``[DONE]`` ends the stream: a usage sent after it is
  ignored, and the reply is not held up by a server that keeps the connection open). No usage
  object: no Usage chunk. A stream that ends before ``[DONE]`` without any ``finish_reason`` was
  cut short: ProviderConnectionError, after the chunks so far (and no Usage).
- A non-streamed ``chat.completion`` gives ``message.reasoning_content`` / ``reasoning`` (or a
  leading ``<think>`` block of ``message.content``) as Reasoning, the content, then its usage.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

import aiohttp

from providers.base import Reasoning, Usage
from providers.errors import ResponseStatusError
from providers.http import post
from providers.limits import Limits
from providers.reasoning import ThinkSplitter, reasoning_of
from providers.sse import MAX_LINE_BYTES, end_of_stream, first_choice, iter_sse, parse_json

Chunk = str | Reasoning | Usage

USAGE_REQUEST = {"include_usage": True}
"""The ``stream_options`` a streamed request carries (OpenAI's chat completions API)."""
REJECTED_OPTIONS = ("stream_options", "include_usage")
"""Words of a 400's message that say the server refused ``stream_options``."""

STREAM_OPTIONS_REFUSED: set[str] = set()
"""Chat completions URLs that refused ``stream_options``: this process's memory (a restart
asks again)."""


def usage_of(obj: Any) -> Usage | None:
    """The :class:`Usage` of a chunk or completion object: its ``usage.prompt_tokens`` and
    ``usage.completion_tokens`` (tokens, whole numbers >= 0) and ``usage.cost`` when it is a
    number (OpenRouter, US dollars); None when ``usage`` is missing, null, or lacks the counts."""
    usage = obj.get("usage") if isinstance(obj, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt, completion, cost = (usage.get(name)
                                for name in ("prompt_tokens", "completion_tokens", "cost"))
    if not (isinstance(prompt, int) and isinstance(completion, int)) or min(
            prompt, completion) < 0 or isinstance(prompt, bool) or isinstance(completion, bool):
        return None
    if not isinstance(cost, int | float) or isinstance(cost, bool):
        cost = None
    return Usage(prompt, completion, None if cost is None else float(cost))


def _part_chunks(part: Any, splitter: ThinkSplitter) -> list[Chunk]:
    """The reasoning and text of one ``delta`` (or ``message``) object, in that order."""
    chunks: list[Chunk] = []
    if thought := reasoning_of(part):
        chunks.append(Reasoning(thought))
    content = part.get("content") if isinstance(part, dict) else None
    if isinstance(content, str) and content:
        chunks.extend(splitter.feed(content))
    return chunks


async def iter_chat_chunks(chunks: AsyncIterable[bytes], max_bytes: int = MAX_LINE_BYTES
                           ) -> AsyncIterator[Chunk]:
    """Non-empty text, :class:`Reasoning` and at most one :class:`Usage` (last) of an
    OpenAI-compatible SSE stream (see the module docstring).

    Raises ResponseFormatError for malformed JSON, ResponseTooLargeError for a line or event
    over ``max_bytes``, the payload's ProviderError for an error event, and
    ProviderConnectionError when the stream was cut short."""
    finished, usage, splitter = False, None, ThinkSplitter()
    async for data in iter_sse(chunks, max_bytes):
        if data.startswith("[DONE]"):
            finished = True
            break
        if not data.strip():
            continue
        obj = parse_json(data)
        choice = first_choice(obj)
        finished = finished or bool(choice.get("finish_reason"))
        usage = usage_of(obj) or usage
        for chunk in _part_chunks(choice.get("delta"), splitter):
            yield chunk
    for chunk in splitter.flush():
        yield chunk
    end_of_stream(finished)
    if usage is not None:
        yield usage


def message_chunks(obj: Any) -> list[Chunk]:
    """The reasoning, text and usage of a non-streamed ``chat.completion``, in that order."""
    message = first_choice(obj).get("message")
    splitter = ThinkSplitter()
    chunks = [*_part_chunks(message, splitter), *splitter.flush()]
    usage = usage_of(obj)
    return chunks if usage is None else [*chunks, usage]


async def chat_completion(session: aiohttp.ClientSession, url: str, data: dict[str, Any], *,
                          proxy: str | None, limits: Limits,
                          headers: Mapping[str, str] | None = None) -> AsyncIterator[Chunk]:
    """POST ``data`` (a chat completions request; ``data["stream"]`` says which reply) to
    ``url`` and yield its chunks: streamed (:func:`iter_chat_chunks`, with
    ``stream_options`` unless ``url`` refused it) or whole (:func:`message_chunks`).

    Raises what :func:`providers.http.post` and the parsers raise; a 400 naming
    ``stream_options`` is answered by one more request without it."""
    stream = bool(data.get("stream"))
    if stream and url not in STREAM_OPTIONS_REFUSED:
        try:
            async with post(session, url, json={**data, "stream_options": USAGE_REQUEST},
                            proxy=proxy, limits=limits, headers=headers) as response:
                async for chunk in iter_chat_chunks(response.chunks(), limits.max_line_bytes):
                    yield chunk
            return
        except ResponseStatusError as error:
            detail = (error.detail or "").lower()
            if error.status != 400 or not any(word in detail for word in REJECTED_OPTIONS):
                raise
            STREAM_OPTIONS_REFUSED.add(url)
    async with post(session, url, json=data, proxy=proxy, limits=limits,
                    headers=headers) as response:
        if stream:
            async for chunk in iter_chat_chunks(response.chunks(), limits.max_line_bytes):
                yield chunk
        else:
            for chunk in message_chunks(await response.json()):
                yield chunk
