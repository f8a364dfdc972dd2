"""Trimming a conversation to what a provider is sent: a message count and a character budget."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def trim_context(
    newest_first: Iterable[Sequence[Any]],
    *,
    max_chars: int,
    system_prompt: str | None = None,
) -> list[dict[str, Any]]:
    """OpenAI-style ``[{"role", "content"}]``, oldest first, from ``(role, content)`` pairs
    given newest first (already limited to the wanted count). A third item, the message's
    attachments (a list, or None), becomes the key ``"attachments"`` when not empty.

    Messages are taken from the newest back while the total content characters (the system
    prompt's included) stay within ``max_chars``; the first that does not fit ends the walk, so
    the oldest are dropped and no gap is left. The newest message is always kept, even alone
    over budget. ``system_prompt`` (if given and not empty) comes first.
    """
    budget = max_chars - (len(system_prompt) if system_prompt else 0)
    kept: list[dict[str, Any]] = []
    for role, content, *rest in newest_first:
        if kept and len(content) > budget:
            break
        message: dict[str, Any] = {"role": role, "content": content}
        if rest and rest[0]:
            message["attachments"] = rest[0]
        kept.append(message)
        budget -= len(content)
    kept.reverse()
    if system_prompt:
        kept.insert(0, {"role": "system", "content": system_prompt})
    return kept
