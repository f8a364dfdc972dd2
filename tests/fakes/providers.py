"""Fake provider servers: one real aiohttp server on 127.0.0.1 (random free port) that speaks
the wire format of all six providers (provider-protocols.md; OpenAI's API reference) and
records every request it gets.

Paths (behind ``origin``, ``http://127.0.0.1:PORT``)::

    POST /aiask/v1/chat/gpt/               raw UTF-8 text, one piece per word
    POST /chatanywhere/v1/chat/gpt/        raw UTF-8 text, one piece per word
    POST /ai365vip/api/chat                raw text, one piece per line
    POST /aichats/chat/send2/              "chat": one SSE event per word ("data: " lines,
                                           a word's line breaks as extra data lines);
                                           "image": {"data": [{"url": <served file>}]}
    GET  /aichats/files/<name>             the image file of a dalle reply
    POST /ylokh/v1/chat/completions        OpenAI chat completions (SSE or JSON)
    POST /openai/v1/chat/completions       OpenAI chat completions (needs the API key)
    POST /openai/v1/images/generations     OpenAI images: b64_json, or url (the default)
    GET  /openai/v1/files/<name>           the image file of a url reply (no key needed)
    GET  /openai/v1/models                 the model list: ``{"object": "list", "data":
                                           [{"id", "object", "created", "owned_by"}]}`` of
                                           ``fake.models`` (queued as "models", recorded
                                           in ``list_requests``; needs the API key)
    POST /openai/v1/audio/transcriptions   multipart file + model -> {"text": reply.text}
                                           (recorded as "transcription": ``json`` holds the
                                           form's fields, ``body`` the file's bytes)
    POST /openai/v1/audio/speech           {model, input, voice, response_format} -> audio
                                           bytes (recorded as "speech"; DEFAULT_SPEECH unless
                                           the reply has a ``body``)

A :class:`Reply` says what the next request to a provider gets: ``fake.push("aiask",
Reply("Hi"))`` queues one; ``fake.default[provider]`` answers when the queue is empty. Streamed
OpenAI-style replies (Ylokh, OpenAI) are a role-only first delta, one content delta per word (or
per ``delta_chars`` characters), a ``finish_reason: "stop"`` delta and ``data: [DONE]`` (both
left out with ``done=False``: a stream that just stops); a request with ``"stream": false`` gets
one ``chat.completion`` JSON object. An error status without ``body`` gets ``{"error":
{"message": text}}`` (Ylokh, OpenAI) or ``text`` (others). A wrong OpenAI key gets OpenAI's 401,
which quotes part of the key.

Reasoning models: ``Reply(text, reasoning=..., reasoning_field="reasoning_content")``
(DeepSeek; ``"reasoning"``: OpenRouter) streams reasoning deltas (``content: null``) before the
answer, or puts it in the ``chat.completion`` message; a ``<think>`` block is just part of
``text``. Usage: a request with ``stream_options.include_usage`` gets the usage object
(``Reply.usage``, default: words counted) where ``Reply.usage_at`` says (its own chunk before
``[DONE]``, on the last chunk with ``usage.cost`` as OpenRouter, after ``[DONE]``, or never); a
``chat.completion`` always carries it. ``fake.rejects_stream_options.add("openai")`` makes
every request with ``stream_options`` get a 400 naming it (:data:`STREAM_OPTIONS_REJECTED`).

Misbehaving servers: ``Reply(done=False)`` (a clean end without ``[DONE]``),
``Reply(close=True)`` (a clean TCP close in the middle of a chunked body), ``Reply(cut=True)``
(a reset connection), ``stall_after``/``stall`` (silence mid-reply), ``endless`` (a line or body
that never ends), ``content_length`` (a declared size), :func:`key_rejected` (OpenAI's 401
quoting a key fragment); ready-made ones in ``tests.fakes.provider_faults``.

Usage::

    async with FakeProviders() as fake:
        fake.push("ylokh", Reply("Hello, world", chunk_size=1))
        os.environ.update(fake.env())   # or monkeypatch.setenv for each item
        ...
        assert fake.requests_for("ylokh")[0].json["model"] == "gpt-3.5-turbo"

Run ``python -m tests.fakes.providers --port 8080`` to serve until interrupted; it prints the
environment lines (``KEY=value``) that point the providers at it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import json
import re
import signal
import struct
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

PROVIDERS = ("aiask", "chatanywhere", "ai365vip", "aichats", "ylokh", "openai")
AUDIO = ("transcription", "speech")  # the OpenAI endpoint's audio API, queued on their own
LISTS = ("models",)  # the OpenAI endpoint's GET /models, queued on its own
DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "dall-e-3")
DEFAULT_SPEECH = b"OggS\x00\x02" + bytes(range(256)) * 4  # stands for an OGG/Opus file


def make_png(width: int = 1, height: int = 1) -> bytes:
    """A valid RGB PNG of the given size (pixels), black."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


DEFAULT_IMAGE = make_png()


@dataclass
class Reply:
    """What the next request to a provider gets."""

    text: str = "Hello!"            # the reply text, rendered in the provider's wire format
    chunk_size: int | None = None   # split the encoded body bytes into pieces of this many bytes
    delay: float = 0.0              # seconds between pieces
    status: int = 200
    body: bytes | str | None = None  # raw body override (error pages, malformed streams)
    content_type: str | None = None
    cut: bool = False               # send half of the body, then drop the connection
    hang: float | None = None       # sleep this long (seconds) before answering
    image: bytes | None = None      # for image models: the image file served
    image_mime: str = "image/png"
    delta_chars: int | None = None  # OpenAI-style streams: characters per content delta
    newline: str = "\n"             # line terminator of SSE replies ("\r\n" or "\r" to test)
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    done: bool = True               # OpenAI-style streams: end with finish_reason and [DONE]
    close: bool = False             # send half of the body, then close cleanly (FIN, no end chunk)
    stall_after: int | None = None  # after this many pieces, send nothing for ``stall`` seconds
    stall: float = 0.0
    endless: bytes | None = None    # after the pieces, send this again and again until the client
                                    # goes away (a line or a body that never ends)
    content_length: int | None = None  # declare this Content-Length instead of chunked encoding
    # OpenAI-style replies: reasoning before the answer, in ``reasoning_field`` of each delta
    # ("reasoning_content": DeepSeek; "reasoning": OpenRouter), split like the text
    reasoning: str = ""
    reasoning_field: str = "reasoning_content"
    # OpenAI-style streams asked for usage (stream_options.include_usage): this ``usage`` object
    # (None: counted from the words), sent where ``usage_at`` says: "own" (a chunk with
    # ``choices: []`` before [DONE], as OpenAI), "last" (on the finish_reason chunk, as
    # OpenRouter), "after_done" (a chunk after [DONE]) or "none" (never)
    usage: dict[str, Any] | None = None
    usage_at: str = "own"
    echo: bool = False              # append the request's last message to ``text`` (tells which
                                    # message a reply answers, e.g. its turn number)


@dataclass
class RecordedRequest:
    """A request as the fake received it. ``time`` is ``time.monotonic()`` seconds; ``raw_path``
    is the absolute URL when the request came through a proxy."""

    provider: str
    method: str
    path: str
    headers: CIMultiDictProxy[str]
    json: Any
    body: bytes
    time: float
    raw_path: str = ""
    last_chunk_at: float | None = None  # time.monotonic() just after the body's last piece was written


def words(text: str) -> list[str]:
    """The natural pieces of a text: each word with the whitespace after it."""
    return re.findall(r"\s+|\S+\s*", text) if text.strip() else ([text] if text else [])


class FakeProviders:
    """The fake server; an async context manager (see the module docstring)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 api_key: str | None = "test-key") -> None:
        self.host, self.port = host, port
        self.api_key = api_key  # the OpenAI fake wants "Bearer <api_key>"; None: no check
        self.origin = ""
        self.requests: list[RecordedRequest] = []  # every request but GET /models
        self.list_requests: list[RecordedRequest] = []  # GET /models (asked at every start)
        self.default: dict[str, Reply] = {
            provider: Reply() for provider in PROVIDERS + AUDIO + LISTS}
        self.models: list[str] = list(DEFAULT_MODELS)  # what GET /openai/v1/models lists
        self.files: dict[str, tuple[bytes, str]] = {}
        self._queues: dict[str, deque[Reply]] = {
            name: deque() for name in PROVIDERS + AUDIO + LISTS}
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        # providers whose chat endpoint answers any request with ``stream_options`` with a 400
        # (STREAM_OPTIONS_REJECTED), as some OpenAI-compatible servers do; the queue is untouched
        self.rejects_stream_options: set[str] = set()

    async def __aenter__(self) -> FakeProviders:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        app = web.Application()
        add = app.router.add_route
        add("POST", "/aiask/v1/chat/gpt/", self._provider("aiask", self._raw_text))
        add("POST", "/chatanywhere/v1/chat/gpt/", self._provider("chatanywhere", self._raw_text))
        add("POST", "/ai365vip/api/chat", self._provider("ai365vip", self._lines))
        add("POST", "/aichats/chat/send2/", self._provider("aichats", self._aichats))
        add("GET", "/aichats/files/{name}", self._file("aichats"))
        add("POST", "/ylokh/v1/chat/completions", self._provider("ylokh", self._chat))
        add("POST", "/openai/v1/chat/completions", self._provider("openai", self._chat))
        add("POST", "/openai/v1/images/generations", self._provider("openai", self._images))
        add("GET", "/openai/v1/files/{name}", self._file("openai"))
        add("GET", "/openai/v1/models", self._provider("models", self._models))
        add("POST", "/openai/v1/audio/transcriptions",
            self._provider("transcription", self._transcription))
        add("POST", "/openai/v1/audio/speech", self._provider("speech", self._speech))
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.origin = f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def env(self, *, openai_models: str = "gpt-4o-mini,gpt-4o",
            openai_image_models: str = "dall-e-3") -> dict[str, str]:
        """Environment variables pointing every provider here."""
        env = {f"{provider.upper()}_URL": f"{self.origin}/{provider}"
               for provider in PROVIDERS if provider != "openai"}
        env.update(OPENAI_BASE_URL=f"{self.origin}/openai/v1", OPENAI_API_KEY=self.api_key or "",
                   OPENAI_MODELS=openai_models, OPENAI_IMAGE_MODELS=openai_image_models)
        return env

    def push(self, provider: str, *replies: Reply) -> None:
        """Queue replies for the next requests to ``provider`` (one of ``PROVIDERS``)."""
        self._queues[provider].extend(replies)

    def requests_for(self, provider: str) -> list[RecordedRequest]:
        """The requests to ``provider`` (``"models"``: the GET /models requests)."""
        recorded = self.list_requests if provider in LISTS else self.requests
        return [request for request in recorded if request.provider == provider]

    # -- plumbing ---------------------------------------------------------------------------

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up when the server closes (so a hanging reply never delays it)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    async def _record(self, provider: str, request: web.Request) -> RecordedRequest:
        if request.content_type == "multipart/form-data":
            parsed, body = await self._read_form(request)
        else:
            body = await request.read()
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = None
        recorded = RecordedRequest(provider, request.method, request.path,
                                   CIMultiDictProxy(CIMultiDict(request.headers)), parsed, body,
                                   time.monotonic(), request.raw_path)
        (self.list_requests if provider in LISTS else self.requests).append(recorded)
        return recorded

    def _provider(self, provider: str, render: Callable[..., tuple[list[bytes], str]]) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            recorded = await self._record(provider, request)
            if provider in self.rejects_stream_options and "stream_options" in (
                    recorded.json if isinstance(recorded.json, dict) else {}):
                return web.json_response(STREAM_OPTIONS_REJECTED, status=400)
            queue = self._queues[provider]
            reply = queue.popleft() if queue else self.default[provider]
            if reply.echo:
                reply = dataclasses.replace(reply, text=reply.text + _last_message(recorded.json))
            if reply.hang:
                await self._sleep(reply.hang)
                if self._closing.is_set():
                    return web.Response(status=503)
            if provider in ("openai", *AUDIO, *LISTS) and self.api_key is not None and request.headers.get(
                    "Authorization") != f"Bearer {self.api_key}":
                given = request.headers.get("Authorization", "").removeprefix("Bearer ")
                reply = key_rejected(given)
            if reply.body is not None:
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                pieces, content_type = [body], reply.content_type or "text/html"
            elif reply.status >= 400:
                pieces, content_type = self._error(provider, reply)
            else:
                pieces, content_type = render(reply, recorded.json or {}, provider)
            return await self._send(request, reply, pieces, reply.content_type or content_type,
                                    recorded)
        return handle

    def _file(self, provider: str) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            await self._record(provider, request)
            if request.match_info["name"] not in self.files:
                raise web.HTTPNotFound()
            data, mime = self.files[request.match_info["name"]]
            return web.Response(body=data, content_type=mime)
        return handle

    async def _send(self, request: web.Request, reply: Reply, pieces: list[bytes],
                    content_type: str, recorded: RecordedRequest) -> web.StreamResponse:
        if reply.chunk_size:
            blob = b"".join(pieces)
            pieces = [blob[i:i + reply.chunk_size] for i in range(0, len(blob), reply.chunk_size)]
        if reply.cut or reply.close:
            keep: list[bytes] = []
            blob = b"".join(pieces)
            for piece in pieces:
                if sum(map(len, keep)) + len(piece) > len(blob) // 2:
                    break
                keep.append(piece)
            pieces = keep or [blob[:len(blob) // 2]]
        response = web.StreamResponse(status=reply.status, headers=reply.headers)
        response.content_type = content_type.split(";")[0]
        if content_type.startswith(("text/", "application/json")):
            response.charset = "utf-8"
        if reply.content_length is not None:
            response.content_length = reply.content_length
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for index, piece in enumerate(pieces):
                if index and reply.delay:
                    await self._sleep(reply.delay)
                if index == reply.stall_after:  # 0: right after the headers
                    await self._sleep(reply.stall)
                if self._closing.is_set():
                    break
                await response.write(piece)
                recorded.last_chunk_at = time.monotonic()
            while reply.endless and not self._closing.is_set():
                await response.write(reply.endless)
                await asyncio.sleep(0)  # let the client read, and go away
        except ConnectionError:  # the client went away (e.g. it refused an endless line)
            return response
        if reply.cut or reply.close:
            if request.transport is not None:
                if reply.cut:
                    request.transport.abort()  # RST: a reset connection
                else:
                    request.transport.close()  # FIN: a clean close, the body unfinished
            return response
        await response.write_eof()
        return response

    def _error(self, provider: str, reply: Reply) -> tuple[list[bytes], str]:
        if provider in ("ylokh", "openai", *AUDIO, *LISTS):
            error = {"message": reply.text, "type": "invalid_request_error", "code": None}
            return [json.dumps({"error": error}).encode()], "application/json"
        return [reply.text.encode()], "text/plain"

    # -- wire formats -------------------------------------------------------------------------

    def _raw_text(self, reply: Reply, _: Any, __: str) -> tuple[list[bytes], str]:
        return [piece.encode() for piece in words(reply.text)], "text/plain"

    def _lines(self, reply: Reply, _: Any, __: str) -> tuple[list[bytes], str]:
        return [line.encode() for line in reply.text.splitlines(keepends=True)], "text/plain"

    def _aichats(self, reply: Reply, request: Any, _: str) -> tuple[list[bytes], str]:
        if request.get("type") == "image":
            url = self._serve_file("aichats", reply)
            return [json.dumps({"data": [{"url": url}]}).encode()], "application/json"
        nl = reply.newline
        events = ["".join(f"data: {line}{nl}" for line in piece.split("\n")) + nl
                  for piece in words(reply.text)]
        return [event.encode() for event in events], "text/event-stream"

    def _serve_file(self, provider: str, reply: Reply) -> str:
        name = f"{uuid.uuid4().hex}.{reply.image_mime.rpartition('/')[2] or 'bin'}"
        self.files[name] = (reply.image if reply.image is not None else DEFAULT_IMAGE,
                            reply.image_mime)
        prefix = "/aichats/files" if provider == "aichats" else "/openai/v1/files"
        return f"{self.origin}{prefix}/{name}"

    def _chat(self, reply: Reply, request: Any, _: str) -> tuple[list[bytes], str]:
        model = request.get("model", "")
        base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": model}
        step = reply.delta_chars

        def split(text: str) -> list[str]:
            return [text[i:i + step] for i in range(0, len(text), step)] if step else words(text)

        parts, thoughts = split(reply.text), split(reply.reasoning)
        usage = reply.usage if reply.usage is not None else {
            "prompt_tokens": sum(len(words(content_text(m.get("content"))))
                                 for m in request.get("messages", [])),
            "completion_tokens": len(parts) + len(thoughts)}
        usage = {**usage, "total_tokens": usage.get("prompt_tokens", 0) + usage.get(
            "completion_tokens", 0)}
        if request.get("stream") is False:
            message = {"role": "assistant", "content": reply.text}
            if reply.reasoning:
                message[reply.reasoning_field] = reply.reasoning
            body = {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": message, "finish_reason": "stop"}]}
            return [json.dumps(body, ensure_ascii=False).encode()], "application/json"
        options = request.get("stream_options")
        asked = isinstance(options, dict) and options.get("include_usage") is True
        usage_at = reply.usage_at if asked else "none"
        deltas = [{"role": "assistant", "content": ""},
                  *({"content": None, reply.reasoning_field: p} for p in thoughts),
                  *({"content": p} for p in parts)]
        if reply.done:
            deltas.append({})
        nl = reply.newline

        def event(chunk: Any) -> str:
            return f"data: {json.dumps(chunk, ensure_ascii=False)}{nl}{nl}"

        events = []
        for index, delta in enumerate(deltas):
            last = reply.done and index == len(deltas) - 1
            choice = {"index": 0, "delta": delta, "finish_reason": "stop" if last else None}
            chunk = {**base, "object": "chat.completion.chunk", "choices": [choice]}
            if usage_at in ("own", "after_done"):
                chunk["usage"] = None  # OpenAI: null on every chunk but the usage one
            elif usage_at == "last" and last:
                chunk["usage"] = usage
            events.append(event(chunk))
        usage_chunk = event({**base, "object": "chat.completion.chunk", "choices": [],
                             "usage": usage})
        if reply.done and usage_at == "own":
            events.append(usage_chunk)
        if reply.done:
            events.append(f"data: [DONE]{nl}{nl}")
        if reply.done and usage_at == "after_done":
            events.append(usage_chunk)
        return [event.encode() for event in events], "text/event-stream"

    def _images(self, reply: Reply, request: Any, _: str) -> tuple[list[bytes], str]:
        items = []
        for _index in range(int(request.get("n") or 1)):
            if request.get("response_format") == "b64_json":
                image = reply.image if reply.image is not None else DEFAULT_IMAGE
                item = {"b64_json": base64.b64encode(image).decode("ascii")}
            else:
                item = {"url": self._serve_file("openai", reply)}
            items.append({**item, "revised_prompt": request.get("prompt", "")})
        body = {"created": int(time.time()), "data": items}
        return [json.dumps(body).encode()], "application/json"

    # -- the audio API (OpenAI "Audio") and image content parts ----------------------------------

    @staticmethod
    async def _read_form(request: web.Request) -> tuple[dict[str, Any], bytes]:
        """A multipart form: its fields (a file field as ``{"filename", "content_type",
        "size"}``) and the bytes of its ``file`` field."""
        fields: dict[str, Any] = {}
        data = b""
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                content = value.file.read()
                fields[name] = {"filename": value.filename, "content_type": value.content_type,
                                "size": len(content)}
                if name == "file":
                    data = content
            else:
                fields[name] = value
        return fields, data

    def _transcription(self, reply: Reply, request: Any, _: str) -> tuple[list[bytes], str]:
        return [json.dumps({"text": reply.text}, ensure_ascii=False).encode()], "application/json"

    def _speech(self, reply: Reply, request: Any, _: str) -> tuple[list[bytes], str]:
        return [DEFAULT_SPEECH], "audio/ogg"

    def chat_content_parts(self, index: int = -1) -> list[list[dict[str, Any]]]:
        """The content parts of each user message of the ``index``-th OpenAI chat request (a
        string content is one ``text`` part)."""
        chats = [r for r in self.requests_for("openai") if r.path.endswith("/chat/completions")]
        return [message["content"] if isinstance(message["content"], list)
                else [{"type": "text", "text": message["content"]}]
                for message in chats[index].json["messages"] if message["role"] == "user"]

    def _models(self, reply: Reply, request: Any, _: str) -> tuple[list[bytes], str]:
        data = [{"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "fake"}
                for model in self.models]
        return [json.dumps({"object": "list", "data": data}).encode()], "application/json"


#: What a server that does not know ``stream_options`` answers (Azure OpenAI's older API
#: versions' wording), with status 400.
STREAM_OPTIONS_REJECTED = {"error": {
    "message": "Unrecognized request argument supplied: stream_options",
    "type": "invalid_request_error", "param": None, "code": None}}


def content_text(content: Any) -> str:
    """A message content's text (a string, or the ``text`` parts of content parts)."""
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


# -- OpenAI's 401 ---------------------------------------------------------------------------

def _last_message(request: Any) -> str:
    """The text of a chat request's last message ("" when there is none)."""
    messages = (request or {}).get("messages") or [{}]
    content = messages[-1].get("content", "")
    if isinstance(content, list):  # OpenAI content parts
        content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def masked_key(key: str) -> str:
    """A key as OpenAI's 401 quotes it: the first 3 and last 4 characters kept, the rest ``*``
    (``wro**-key`` for ``wrong-key``)."""
    return key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 7 else key


def key_rejected(key: str) -> Reply:
    """OpenAI's 401 for a wrong key (its real wording), quoting a fragment of ``key``."""
    error = {"message": f"Incorrect API key provided: {masked_key(key)}. You can find your API "
                        "key at https://platform.openai.com/account/api-keys.",
             "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
    return Reply(status=401, body=json.dumps({"error": error}), content_type="application/json")


async def serve(host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM, after printing the environment lines."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with FakeProviders(host, port) as fake:
        for key, value in fake.env().items():
            print(f"{key}={value}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.providers",
                                     description="Serve the fake providers on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a random free port")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
