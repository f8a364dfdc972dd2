"""AiChats against its fake: gpt-4 text streamed from ``data:`` lines, dalle images."""

from __future__ import annotations

import pytest

from providers import AiChats, ImageResponse, ProviderConnectionError, ResponseFormatError
from tests.fakes.providers import FakeProviders, Reply, make_png
from tests.providers.helpers import TEXT, collect, text_of

HISTORY = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
           {"role": "user", "content": "Draw a cat"}]


@pytest.mark.parametrize(("model", "kind", "referer", "prompt"), [
    ("gpt-4", "chat", "https://ai-chats.org/chat/",
     "User: Hi\nAssistant: Hello\nUser: Draw a cat\nAssistant:"),
    ("dalle", "image", "https://ai-chats.org/image/", "Draw a cat"),
])
async def test_request_matches_the_original(fake: FakeProviders, model: str, kind: str,
                                            referer: str, prompt: str) -> None:
    await collect(AiChats, model, HISTORY)
    request = fake.requests_for("aichats")[0]
    assert (request.method, request.path) == ("POST", "/aichats/chat/send2/")
    assert request.headers["accept"] == "application/json, text/event-stream"
    assert request.headers["origin"] == "https://ai-chats.org"
    assert request.headers["referer"] == referer
    assert request.headers["cache-control"] == request.headers["pragma"] == "no-cache"
    assert request.headers["sec-ch-ua-platform"] == '"Linux"'
    assert "cookie" not in request.headers
    assert request.json == {"type": kind, "messagesHistory": [{"from": "you", "content": prompt}]}


async def test_a_configured_cookie_goes_with_the_post_only(fake: FakeProviders,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AICHATS_COOKIE", "muVyak=abc; ai-chat-front=def")
    await collect(AiChats, "dalle")
    post, download = fake.requests_for("aichats")
    assert post.headers["cookie"] == "muVyak=abc; ai-chat-front=def"
    assert download.method == "GET" and "cookie" not in download.headers


@pytest.mark.parametrize(("chunk_size", "newline"), [(None, "\n"), (1, "\n"), (1, "\r\n"),
                                                     (3, "\r"), (5, "\r\n")])
async def test_streamed_text_equals_the_served_text(fake: FakeProviders, chunk_size: int | None,
                                                    newline: str) -> None:
    fake.push("aichats", Reply(TEXT, chunk_size=chunk_size, newline=newline,
                               delay=0.001 if chunk_size and chunk_size > 1 else 0))
    assert await text_of(AiChats, "gpt-4") == TEXT


async def test_events_are_chunks_and_multi_line_events_keep_their_line_breaks(
        fake: FakeProviders) -> None:
    body = ("data: \n\ndata:   Line one\ndata: line two\n\nevent: ping\n\n"
            "data:  and more  \n\n: comment\ndata:   \n\n")
    fake.push("aichats", Reply(body=body, content_type="text/event-stream"))
    assert await collect(AiChats, "gpt-4") == ["Line one\nline two", " and more"]


async def test_text_is_yielded_as_events_arrive(fake: FakeProviders) -> None:
    # The connection drops half-way: a client that buffered the whole body (the original)
    # would yield nothing; a streaming one yields the first events, then raises.
    fake.push("aichats", Reply(" ".join(f"word{i}" for i in range(40)), cut=True))
    chunks: list[object] = []
    with pytest.raises(ProviderConnectionError):
        async for chunk in AiChats.create_async_generator("gpt-4", HISTORY):
            chunks.append(chunk)
    assert chunks[:2] == ["word0", " word1"]


async def test_dalle_yields_the_served_image_bytes_and_mime_type(fake: FakeProviders) -> None:
    image = make_png(3, 2)
    fake.push("aichats", Reply(image=image, image_mime="application/octet-stream"))
    [chunk] = await collect(AiChats, "DALLE", HISTORY)
    assert isinstance(chunk, ImageResponse)
    assert chunk.data == image and chunk.mime_type == "image/png" and chunk.alt == "Draw a cat"
    [url] = chunk.urls
    assert url.startswith(f"{fake.origin}/aichats/files/")
    assert fake.requests_for("aichats")[1].path == url.removeprefix(fake.origin)


async def test_dalle_mime_type_comes_from_the_response_header(fake: FakeProviders) -> None:
    fake.push("aichats", Reply(image=b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                               image_mime="image/svg+xml"))
    [chunk] = await collect(AiChats, "dalle")
    assert isinstance(chunk, ImageResponse) and chunk.mime_type == "image/svg+xml"


async def test_create_async_returns_the_whole_image_url(fake: FakeProviders) -> None:
    url = await AiChats.create_async("dalle", HISTORY)
    assert url.startswith(f"{fake.origin}/aichats/files/") and url.endswith(".png")


@pytest.mark.parametrize(("reply", "message"), [
    (Reply(body='{"data": []}', content_type="application/json"), "no image URL"),
    (Reply(body='{"data": [{"b64": "x"}]}', content_type="application/json"), "no image URL"),
    (Reply(body="<html>oops</html>", content_type="text/html"), "Malformed JSON"),
    (Reply(image=b"<html>not an image</html>", image_mime="text/html"), "not an image"),
    (Reply(image=make_png() + bytes(1000)), "larger than 100 bytes"),
])
async def test_bad_image_replies_raise_instead_of_yielding_text(
        fake: FakeProviders, monkeypatch: pytest.MonkeyPatch, reply: Reply, message: str) -> None:
    monkeypatch.setenv("IMAGE_MAX_BYTES", "100")
    fake.push("aichats", reply)
    with pytest.raises(ResponseFormatError, match=message) as info:
        await collect(AiChats, "dalle")
    assert info.value.provider == "AiChats"
