"""Ready-made misbehaving provider replies for :class:`tests.fakes.providers.FakeProviders`:
a long healthy stream, a stream that goes silent, a line or a JSON body that never ends, a 500
whose body is a stack trace. (OpenAI's 401 quoting a key fragment is the fake's own answer to a
wrong key: ``tests.fakes.providers.key_rejected``.)"""

from __future__ import annotations

from tests.fakes.providers import Reply

STACK_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/srv/llm-gateway/app/routes/chat.py", line 214, in completions\n'
    "    reply = await backend.generate(request)\n"
    '  File "/srv/llm-gateway/app/backends/vllm.py", line 88, in generate\n'
    '    raise RuntimeError(f"backend {BACKEND_URL} refused: {exc}")\n'
    "RuntimeError: backend http://10.0.3.7:8000 refused: connection reset by peer\n")
"""A 500 body as a crashed Python gateway sends it: file paths and an internal address."""


def crash() -> Reply:
    """A 500 whose body is :data:`STACK_TRACE` (plain text, as a crashed server sends it)."""
    return Reply(status=500, body=STACK_TRACE, content_type="text/plain")


def steady_stream(seconds: float, every: float) -> Reply:
    """A healthy long reply: one word every ``every`` seconds for about ``seconds`` in all.
    Its text is ``"w1 w2 ... wN "`` (N = seconds / every)."""
    count = max(1, round(seconds / every))
    return Reply("".join(f"w{n} " for n in range(1, count + 1)), delay=every)


def silent_stream(text: str, *, after: int, silence: float) -> Reply:
    """A reply that sends ``after`` pieces of ``text`` (one piece per word, or per SSE event for
    OpenAI-style providers), then nothing for ``silence`` seconds, then the rest."""
    return Reply(text, stall_after=after, stall=silence)


def endless_line(prefix: bytes = b"data: ", block: int = 65_536) -> Reply:
    """A body that starts with ``prefix`` and then sends ``block`` bytes of ``x`` again and again,
    never a line break, until the client goes away."""
    return Reply(body=prefix, content_type="text/event-stream", endless=b"x" * block)


def huge_json(block: int = 65_536, content_length: int | None = None) -> Reply:
    """A JSON body that never ends: an image reply's ``b64_json`` string, ``block`` bytes of
    base64 again and again until the client goes away. With ``content_length`` the body
    declares that size (instead of chunked encoding)."""
    return Reply(body=b'{"created": 1, "data": [{"b64_json": "', content_type="application/json",
                 endless=b"A" * block, content_length=content_length)
