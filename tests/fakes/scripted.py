"""An in-process provider whose replies a test scripts (like llm's mock model), for turns whose
chunks the wire does not matter to: text, then a ``Usage`` chunk as an endpoint reports it.

``provider = scripted_provider()`` makes a fresh class (its own queue and requests); a test
queues replies with ``provider.push("Hello", Usage(10, 2))`` and reads what each request
carried in ``provider.requests`` (the ``messages``). With nothing queued it answers "Hello!".
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator
from typing import Any, ClassVar

from providers.base import AsyncGeneratorProvider, Chunk, Messages, ProviderModelMixin

MODEL = "scripted"


class Scripted(AsyncGeneratorProvider, ProviderModelMixin):
    """Streams the next queued reply's chunks, in order."""

    working = True
    supports_message_history = True
    default_model = MODEL
    models: ClassVar[list[str]] = [MODEL]
    replies: ClassVar[deque[tuple[Chunk, ...]]]
    requests: ClassVar[list[Messages]]

    @classmethod
    def push(cls, *chunks: Chunk) -> None:
        """Queue one reply: its chunks, streamed in order."""
        cls.replies.append(chunks)

    @classmethod
    async def create_async_generator(
        cls, model: str, messages: Messages, proxy: str | None = None, **kwargs: Any
    ) -> AsyncGenerator[Chunk, None]:
        cls.requests.append(messages)
        for chunk in cls.replies.popleft() if cls.replies else ("Hello!",):
            yield chunk


def scripted_provider() -> type[Scripted]:
    """A fresh ``Scripted`` class named ``Scripted`` (its own queue and requests)."""
    namespace = {"replies": deque(), "requests": [], "__module__": __name__}
    return type("Scripted", (Scripted,), namespace)
