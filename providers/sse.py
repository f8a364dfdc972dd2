"""Byte-level stream parsing shared by every provider: no network, no aiohttp.

Network chunks arrive with arbitrary borders (aiohttp ``iter_any()`` hands over bytes as
they arrive), so every parser here is incremental and keeps what it cannot finish yet:

- :class:`TextDecoder`: UTF-8 decoding that survives a multi-byte character split across
  chunks (the originals decoded each chunk alone and crashed; provider-protocols.md §7.1).
- :class:`LineSplitter`: lines ended by ``\\n``, ``\\r\\n`` or a lone ``\\r`` (curl_cffi's
  ``splitlines`` accepted all three), even when a terminator is split across chunks.
- :class:`SSEDecoder`: Server-Sent Events (WHATWG HTML "server-sent events" parsing):
  ``data:`` lines of one event are joined with ``\\n``; a blank line ends the event; comment
  lines (``:...``) and other fields (``event:``, ``id:``, ``retry:``) are ignored; one space
  after the colon is removed (the spec's rule, so ``data:x`` is accepted too, unlike the
  originals, which required ``data: ``). An unterminated last event is delivered at EOF.
- OpenAI chat-completion chunks (Ylokh and OpenAI): :func:`iter_chat_deltas`,
  :func:`chat_message_text`. The format's end is ``data: [DONE]`` or a chunk with a
  ``finish_reason``; a stream that stops before either (even with a clean close) was cut
  short and raises ProviderConnectionError, as a reset connection does.

Size: a line, and an SSE event's data, longer than ``max_bytes`` (``PROVIDER_MAX_LINE_BYTES``,
default :data:`MAX_LINE_BYTES`) raises ResponseTooLargeError as soon as it is seen, so a line
that never ends cannot fill memory. Held bytes are kept as a list of pieces and joined once,
so the work per chunk does not grow with the length of the pending line.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from providers.errors import N_, ProviderConnectionError, ResponseFormatError
from providers.limits import Limits, too_large
from providers.status import error_from_payload, parse_json

MAX_LINE_CHARS = 65_536
"""A text line longer than this (characters) is passed on in pieces instead of being held."""
MAX_LINE_BYTES = Limits.max_line_bytes
"""The default bound of a line or SSE event (bytes; ``PROVIDER_MAX_LINE_BYTES``)."""


class TextDecoder:
    """Incremental UTF-8 decoder. Invalid bytes become U+FFFD instead of failing the reply."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def decode(self, data: bytes) -> str:
        """Decode ``data``; bytes of an unfinished character are kept for the next call."""
        return self._decoder.decode(data)

    def flush(self) -> str:
        """End of stream: decode what is left (an unfinished character becomes U+FFFD)."""
        return self._decoder.decode(b"", final=True)


class LineSplitter:
    """Split a byte stream into lines (without terminators) on ``\\n``, ``\\r\\n`` or ``\\r``.

    A line longer than ``max_bytes`` raises ResponseTooLargeError (terminator excluded)."""

    def __init__(self, max_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._pending: list[bytes] = []  # pieces of the unterminated last line
        self._pending_size = 0
        self._after_cr = False  # the last chunk ended with "\r": a leading "\n" belongs to it

    def feed(self, data: bytes) -> list[bytes]:
        """Complete lines found so far; a partial last line is kept for the next call."""
        if self._after_cr and data.startswith(b"\n"):
            data = data[1:]
        self._after_cr = False
        if not data:
            return []
        longest = self._pending_size + len(data)  # no line can be longer than this
        parts = data.splitlines(keepends=True)
        tail = b""
        if parts[-1].endswith((b"\n", b"\r")):
            self._after_cr = parts[-1].endswith(b"\r")
        else:
            tail = parts.pop()
        if parts and self._pending:
            parts[0] = b"".join([*self._pending, parts[0]])
            self._pending, self._pending_size = [], 0
        if tail:
            self._pending.append(tail)
            self._pending_size += len(tail)
        lines = [line.rstrip(b"\r\n") for line in parts]
        if longest > self.max_bytes and (self._pending_size > self.max_bytes or any(
                len(line) > self.max_bytes for line in lines)):
            raise too_large(N_("line of the reply"), self.max_bytes)
        return lines

    def flush(self) -> list[bytes]:
        """End of stream: the unterminated last line, if any."""
        pending, self._pending, self._pending_size = b"".join(self._pending), [], 0
        return [pending] if pending else []


class SSEDecoder:
    """Turn a byte stream into SSE event data strings (see the module docstring). A line or
    an event's data longer than ``max_bytes`` raises ResponseTooLargeError."""

    def __init__(self, max_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lines = LineSplitter(max_bytes)
        self._data: list[str] | None = None
        self._data_size = 0

    def feed(self, data: bytes) -> list[str]:
        """Data of every event completed by ``data`` (possibly ``""`` for an empty ``data:``)."""
        return [event for line in self._lines.feed(data)
                if (event := self._line(line)) is not None]

    def flush(self) -> list[str]:
        """End of stream: the last event, even without its closing blank line."""
        events = [event for line in self._lines.flush()
                  if (event := self._line(line)) is not None]
        if self._data is not None:
            events.append("\n".join(self._data))
            self._data, self._data_size = None, 0
        return events

    def _line(self, raw: bytes) -> str | None:
        if not raw:
            if self._data is None:
                return None
            event, self._data, self._data_size = "\n".join(self._data), None, 0
            return event
        line = raw.decode("utf-8", errors="replace")  # whole lines never split a character
        field, _, value = line.partition(":")
        if field == "data":
            if value.startswith(" "):
                value = value[1:]
            if self._data is None:
                self._data = []
            self._data.append(value)
            self._data_size += len(raw)
            if self._data_size > self.max_bytes:
                raise too_large(N_("SSE event of the reply"), self.max_bytes)
        return None


async def iter_text(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """Decoded text as it arrives: non-empty ``str`` pieces, UTF-8 split-safe."""
    decoder = TextDecoder()
    async for chunk in chunks:
        if text := decoder.decode(chunk):
            yield text
    if text := decoder.flush():
        yield text


async def iter_lines(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """Decoded lines *with* their ``\\n`` (aiohttp ``readline`` semantics, so joining them gives
    the body back exactly). The last line may lack ``\\n``; a line longer than
    ``MAX_LINE_CHARS`` is passed on in pieces rather than failing (aiohttp: "Chunk too big")."""
    pending = ""
    async for text in iter_text(chunks):
        pending += text
        while (end := pending.find("\n")) >= 0:
            yield pending[:end + 1]
            pending = pending[end + 1:]
        if len(pending) > MAX_LINE_CHARS:
            yield pending
            pending = ""
    if pending:
        yield pending


async def iter_sse(chunks: AsyncIterable[bytes], max_bytes: int = MAX_LINE_BYTES
                   ) -> AsyncIterator[str]:
    """SSE event data strings as events complete (see :class:`SSEDecoder`); ``max_bytes``
    bounds a line and an event (ResponseTooLargeError past it)."""
    decoder = SSEDecoder(max_bytes)
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.flush():
        yield event


def first_choice(obj: Any) -> dict[str, Any]:
    """``choices[0]`` of a chat completion (chunk): ``{}`` for ``choices: []`` (a usage-only
    chunk). An ``{"error": ...}`` object raises its ProviderError; another shape without a
    ``choices`` list raises ResponseFormatError."""
    if isinstance(obj, dict) and obj.get("error"):
        raise error_from_payload(obj)
    choices = obj.get("choices") if isinstance(obj, dict) else None
    if not isinstance(choices, list):
        raise ResponseFormatError(N_("Unexpected reply format: no 'choices'"))
    if not choices:  # e.g. a usage-only chunk
        return {}
    if not isinstance(choices[0], dict):
        raise ResponseFormatError(N_("Unexpected reply format: bad 'choices'"))
    return choices[0]


def chat_delta_text(obj: Any) -> str:
    """The text of one ``chat.completion.chunk`` (OpenAI streaming format): ``choices[0].delta
    .content``, ``""`` when missing or null (the role-only first delta). An ``{"error": ...}``
    object raises its :class:`ProviderError`; another shape raises ResponseFormatError."""
    return _delta_text(first_choice(obj))


def _delta_text(choice: dict[str, Any]) -> str:
    delta = choice.get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


def chat_message_text(obj: Any) -> str:
    """The text of a non-streamed ``chat.completion``: ``choices[0].message.content`` (``""``
    when null, e.g. a tool call; never None)."""
    message = first_choice(obj).get("message") or {}
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else ""


async def iter_chat_deltas(chunks: AsyncIterable[bytes], max_bytes: int = MAX_LINE_BYTES
                           ) -> AsyncIterator[str]:
    """Non-empty text deltas of an OpenAI-compatible SSE stream, until ``data: [DONE]``.

    Raises ResponseFormatError for malformed JSON, ResponseTooLargeError for a line or event
    over ``max_bytes``, the payload's ProviderError for an error event, and
    ProviderConnectionError when the stream ends before ``data: [DONE]`` without any chunk
    having a ``finish_reason`` (the reply was cut short)."""
    finished = False
    async for data in iter_sse(chunks, max_bytes):
        if data.startswith("[DONE]"):
            return
        if not data.strip():
            continue
        choice = first_choice(parse_json(data))
        finished = finished or bool(choice.get("finish_reason"))
        if text := _delta_text(choice):
            yield text
    end_of_stream(finished)


def end_of_stream(finished: bool) -> None:
    """At the end of an OpenAI-style stream: raise ProviderConnectionError unless it
    ``finished`` (``data: [DONE]`` or a ``finish_reason`` came): it was cut short."""
    if not finished:
        raise ProviderConnectionError(
            N_("The connection closed before the reply was complete"),
            detail="the stream ended without 'data: [DONE]' and without a finish_reason")


__all__ = [
    "LineSplitter", "SSEDecoder", "TextDecoder", "chat_delta_text",
    "chat_message_text", "end_of_stream", "first_choice", "iter_chat_deltas", "iter_lines",
    "iter_sse", "iter_text", "parse_json",
]
