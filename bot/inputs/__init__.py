"""What a user sends besides text, made into something a model takes; no Telegram here.

One module per input kind: :mod:`bot.inputs.documents` (a file's text), :mod:`bot.inputs.images`
(OpenAI image content parts), :mod:`bot.inputs.voice` (a transcript). The Telegram handlers
recognise the kind and fetch the bytes (``bot.telegram_files``); the chat service calls these
modules and runs the same turn for every kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class InputError(Exception):
    """An input that cannot be used; ``str(error)`` is one sentence safe to show the user."""


@dataclass(frozen=True)
class Upload:
    """A file the user sent, fetched: ``kind`` is ``"photo"``, ``"document"`` or ``"voice"``
    (voice notes, audio files and video notes alike); ``file_id`` is Telegram's, kept in the
    history; ``file_name`` and ``mime_type`` as the sender's client gave them (may be None);
    ``data`` the file's bytes."""

    kind: str
    data: bytes
    file_id: str
    file_name: str | None = None
    mime_type: str | None = None


class FileFetcher(Protocol):
    """Fetches a file the user sent earlier, by its ``file_id`` (to send old images again)."""

    async def fetch(self, file_id: str, max_bytes: int) -> bytes:
        """The file's bytes, at most ``max_bytes``; raises :class:`InputError` otherwise."""
        ...
