"""Trimming a conversation to what a provider is sent: a message count and a character budget,
and roles that alternate (user, assistant, user, ...), as some servers require.

A reply that failed (or vanished) leaves two user messages in a row in the history; they are
merged into one user message (their texts joined by a blank line) rather than filled with an
invented assistant turn: the model then sees everything the user wrote, and nothing the model
did not say. An assistant message left first by trimming is dropped (the first turn after the
system prompt is the user's)."""

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
    over budget. Consecutive messages of one role are then merged (:func:`alternate`).
    ``system_prompt`` (if given and not empty) comes first.
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
    kept = alternate(kept)
    if system_prompt:
        kept.insert(0, {"role": "system", "content": system_prompt})
    return kept


#: Joins the texts of consecutive messages of one role.
SEPARATOR = "\n\n"


def alternate(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` (oldest first, no system prompt) with consecutive messages of one role
    merged into one (non-empty texts joined by :data:`SEPARATOR`, ``attachments`` joined) and
    leading assistant messages dropped, so roles alternate and the first is ``user``. An empty
    list stays empty."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        if not merged and message["role"] == "assistant":
            continue
        if not merged or merged[-1]["role"] != message["role"]:
            merged.append(dict(message))
            continue
        previous = merged[-1]
        texts = [text for text in (previous["content"], message["content"]) if text]
        combined = {**previous, "content": SEPARATOR.join(texts)}
        attachments = [*previous.get("attachments", []), *message.get("attachments", [])]
        if attachments:
            combined["attachments"] = attachments
        merged[-1] = combined
    return merged
