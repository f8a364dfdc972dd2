"""Helpers shared by the provider tests."""

from __future__ import annotations

from typing import Any

from providers.base import AsyncGeneratorProvider, Chunk, Usage

MESSAGES = [{"role": "user", "content": "Hello, how are you?"}]
TEXT = "Привет, мир! 你好，世界 🌍\nSecond line: ünïcödé — done."
"""A reply with 2-, 3- and 4-byte UTF-8 characters and a line break."""


async def collect(provider: type[AsyncGeneratorProvider], model: str, messages: Any = None,
                  **kwargs: Any) -> list[Chunk]:
    """Every chunk a provider yields."""
    stream = provider.create_async_generator(model, messages or MESSAGES, **kwargs)
    return [chunk async for chunk in stream]


async def text_of(provider: type[AsyncGeneratorProvider], model: str, **kwargs: Any) -> str:
    """The whole streamed text; also checks every chunk is a non-empty str, but for one
    Usage chunk at the end (an OpenAI-compatible server's usage report)."""
    chunks = await collect(provider, model, **kwargs)
    if chunks and isinstance(chunks[-1], Usage):
        chunks.pop()
    assert chunks and all(isinstance(chunk, str) and chunk for chunk in chunks), chunks
    return "".join(chunks)  # type: ignore[arg-type]
