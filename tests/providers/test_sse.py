"""The byte-level parsers (providers/sse.py), fed every possible chunk border."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from providers.errors import (
    ProviderError,
    RateLimitError,
    ResponseFormatError,
    ResponseTooLargeError,
)
from providers.sse import (
    LineSplitter,
    SSEDecoder,
    TextDecoder,
    chat_delta_text,
    chat_message_text,
    iter_chat_deltas,
    iter_lines,
    iter_sse,
    iter_text,
)
from tests.providers.helpers import TEXT

ENCODED = TEXT.encode()


def splits(data: bytes) -> list[list[bytes]]:
    """``data`` cut in two at every position, and cut into single bytes."""
    cases = [[data[:i], data[i:]] for i in range(len(data) + 1)]
    return [*cases, [data[i:i + 1] for i in range(len(data))]]


async def chunks_of(pieces: list[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


def test_text_decoder_survives_every_border_inside_multibyte_characters() -> None:
    assert len(ENCODED) > len(TEXT)  # the text really has multi-byte characters
    for pieces in splits(ENCODED):
        decoder = TextDecoder()
        assert "".join(decoder.decode(piece) for piece in pieces) + decoder.flush() == TEXT


def test_text_decoder_replaces_a_truncated_character_at_the_end() -> None:
    decoder = TextDecoder()
    assert decoder.decode("ok é".encode()[:-1]) == "ok "
    assert decoder.flush() == "\ufffd"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_splitter_handles_every_terminator_at_every_border(newline: str) -> None:
    lines = ["first", "", "зелёный", "last"]
    data = newline.join(lines).encode() + newline.encode()
    for pieces in splits(data):
        splitter = LineSplitter()
        got = [line for piece in pieces for line in splitter.feed(piece)] + splitter.flush()
        assert [line.decode() for line in got] == lines, pieces


def test_line_splitter_returns_an_unterminated_last_line_at_the_end() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\nb") == [b"a"]
    assert splitter.flush() == [b"b"]


def test_sse_decoder_joins_multi_line_events_and_ignores_other_fields() -> None:
    stream = (b": a comment\r\nevent: message\r\nid: 7\r\ndata: one\r\ndata:two\r\n\r\n"
              b"retry: 10\n\ndata: \n\ndata: last")
    for pieces in splits(stream):
        decoder = SSEDecoder()
        events = [event for piece in pieces for event in decoder.feed(piece)] + decoder.flush()
        assert events == ["one\ntwo", "", "last"], pieces


async def test_async_helpers_stream_text_lines_and_events() -> None:
    assert "".join([t async for t in iter_text(chunks_of([ENCODED[:3], ENCODED[3:]]))]) == TEXT
    lines = [line async for line in iter_lines(chunks_of([b"a\nb", b"b\n", b"c"]))]
    assert lines == ["a\n", "bb\n", "c"]
    events = [e async for e in iter_sse(chunks_of([b"data: x\n", b"\ndata: y\n\n"]))]
    assert events == ["x", "y"]


async def test_iter_lines_passes_a_huge_line_on_in_pieces() -> None:
    huge = b"x" * 200_000
    pieces = [line async for line in iter_lines(chunks_of([huge[i:i + 4096]
                                                          for i in range(0, len(huge), 4096)]))]
    assert len(pieces) > 1 and "".join(pieces) == huge.decode()


def chunk(content: object) -> bytes:
    return f"data: {json.dumps({'choices': [{'delta': {'content': content}}]})}\n\n".encode()


async def test_chat_deltas_skip_empty_deltas_and_stop_at_done() -> None:
    stream = [b'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n', chunk("Hel"),
              chunk(None), chunk(""), chunk("lo"), b"data: [DONE]\n\n", chunk("after done")]
    assert [t async for t in iter_chat_deltas(chunks_of(stream))] == ["Hel", "lo"]


async def test_chat_deltas_raise_on_malformed_json_and_error_events() -> None:
    with pytest.raises(ResponseFormatError, match="Malformed JSON"):
        [t async for t in iter_chat_deltas(chunks_of([chunk("ok"), b"data: {oops\n\n"]))]
    error = b'data: {"error": {"message": "model overloaded", "type": "server_error"}}\n\n'
    with pytest.raises(ProviderError, match="^the provider reported an error$") as info:
        [t async for t in iter_chat_deltas(chunks_of([error]))]
    assert type(info.value) is ProviderError and info.value.detail == "model overloaded"
    limited = b'data: {"error": {"message": "slow down", "code": "rate_limit_exceeded"}}\n\n'
    with pytest.raises(RateLimitError):
        [t async for t in iter_chat_deltas(chunks_of([limited]))]


def test_chat_shapes() -> None:
    assert chat_delta_text({"choices": []}) == ""
    assert chat_message_text({"choices": [{"message": {"content": None}}]}) == ""
    assert chat_message_text({"choices": [{"message": {"content": "hi"}}]}) == "hi"
    with pytest.raises(ResponseFormatError):
        chat_delta_text({"object": "something else"})


def test_a_line_up_to_the_bound_passes_and_one_byte_more_is_refused() -> None:
    splitter = LineSplitter(max_bytes=10)
    assert splitter.feed(b"0123456789\r\n") == [b"0123456789"]  # terminator not counted
    with pytest.raises(ResponseTooLargeError, match="line of the reply is larger than 10 bytes"):
        LineSplitter(max_bytes=10).feed(b"0123456789A\n")


def test_an_unterminated_line_is_refused_as_soon_as_it_passes_the_bound() -> None:
    """Fed a byte at a time, the pending line is refused at byte 11, not at its end."""
    splitter = LineSplitter(max_bytes=10)
    for _ in range(10):
        assert splitter.feed(b"x") == []
    with pytest.raises(ResponseTooLargeError):
        splitter.feed(b"x")


def test_pieces_of_a_pending_line_are_joined_once_into_the_line() -> None:
    splitter = LineSplitter(max_bytes=100)
    assert [splitter.feed(piece) for piece in (b"ab", b"cd", b"e\r", b"\nf")] == [
        [], [], [b"abcde"], []]
    assert splitter.flush() == [b"f"]


def test_an_sse_event_of_many_short_lines_is_bounded_as_a_whole() -> None:
    decoder = SSEDecoder(max_bytes=64)
    assert decoder.feed(b"data: 0123456789\n" * 3 + b"\n") == ["0123456789\n" * 2 + "0123456789"]
    with pytest.raises(ResponseTooLargeError, match="SSE event of the reply is larger than 64"):
        decoder.feed(b"data: 0123456789\n" * 5)


async def test_iter_sse_passes_its_bound_on() -> None:
    with pytest.raises(ResponseTooLargeError):
        [event async for event in iter_sse(chunks_of([b"data: " + b"x" * 50]), max_bytes=32)]
