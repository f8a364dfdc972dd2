"""Reasoning in an OpenAI-compatible reply, told apart from the answer.

Reasoning models send their thinking in one of three shapes (provider-protocols.md; the
providers' API references):

- ``reasoning_content`` next to ``content`` (DeepSeek's API, vLLM, SGLang);
- ``reasoning`` next to ``content`` (OpenRouter);
- inline, as ``<think>...</think>`` at the start of ``content`` (local models: Qwen3,
  DeepSeek-R1 distills on Ollama or llama.cpp).

:func:`reasoning_of` reads the first two from a ``delta`` or ``message`` object;
:class:`ThinkSplitter` takes the third apart as it streams, the tags split across chunks at
any character.

Only a *leading* ``<think>`` block is reasoning (whitespace before it is allowed): that is
where reasoning models write it, and a ``<think>`` later in a reply is the answer's own text (a
model explaining the tag, or code that contains it), kept as written. A ``<think>`` that never
closes makes everything after it reasoning: the answer is then empty.
"""

from __future__ import annotations

from typing import Any

from providers.base import Reasoning

OPEN, CLOSE = "<think>", "</think>"
REASONING_FIELDS = ("reasoning_content", "reasoning")
"""The fields of a ``delta`` or ``message`` that carry reasoning, in the order they are read."""


def reasoning_of(part: Any) -> str:
    """The reasoning text of a ``delta`` or ``message`` object: its ``reasoning_content``
    (DeepSeek) or else its ``reasoning`` (OpenRouter); ``""`` when neither is a non-empty
    string (OpenAI sends neither; null and other shapes are ignored)."""
    if not isinstance(part, dict):
        return ""
    for name in REASONING_FIELDS:
        value = part.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def _partial_suffix(text: str, tag: str) -> int:
    """The length of the longest end of ``text`` that is a proper beginning of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkSplitter:
    """Splits streamed ``content`` into answer text (``str``) and :class:`Reasoning`.

    :meth:`feed` takes each content delta and returns the chunks it completes, in order;
    :meth:`flush` returns what is held at the end of the stream. Characters that may be the
    start of a tag (``<th``) are held until the next delta says; the answer text outside the
    block is passed on as it came, except the whitespace right after ``</think>``. Work per
    delta is O(its length) (a tag is at most 8 characters)."""

    def __init__(self) -> None:
        # "start": nothing but blanks yet; "think": in the block; "after": just after it;
        # "answer": the rest passes through
        self._state = "start"
        self._held = ""

    def feed(self, text: str) -> list[str | Reasoning]:
        """The answer text and reasoning that ``text`` completes (possibly none yet)."""
        if self._state == "answer":
            return [text] if text else []
        if self._state == "after":  # just after "</think>": its whitespace is not the answer's
            if not (text := text.lstrip()):
                return []
            self._state = "answer"
            return [text]
        held = self._held + text
        self._held = ""
        if self._state == "start":
            lead = held.lstrip()
            if len(lead) < len(OPEN) and OPEN.startswith(lead):
                self._held = held  # blank so far, or the beginning of "<think>"
                return []
            if not lead.startswith(OPEN):
                self._state = "answer"
                return [held]
            self._state, held = "think", lead[len(OPEN):]
        return self._think(held)

    def _think(self, text: str) -> list[str | Reasoning]:
        end = text.find(CLOSE)
        if end < 0:
            keep = _partial_suffix(text, CLOSE)
            self._held = text[len(text) - keep:] if keep else ""
            thought = text[:len(text) - keep]
            return [Reasoning(thought)] if thought else []
        self._state = "answer"
        chunks: list[str | Reasoning] = [Reasoning(text[:end])] if end else []
        if answer := text[end + len(CLOSE):].lstrip():
            chunks.append(answer)
        else:
            self._state = "after"  # the answer's leading whitespace is still to be skipped
        return chunks

    def flush(self) -> list[str | Reasoning]:
        """End of the stream: held characters as what they turned out to be (an unfinished
        ``<thi`` before any answer is answer text; inside a block that never closed, reasoning)."""
        held, self._held = self._held, ""
        if not held:
            return []
        return [Reasoning(held)] if self._state == "think" else [held]

