"""A user's turn from what they sent: text, and files made into what a model takes.

:func:`user_turn` calls the module of each kind (documents, images, voice) and gives one
:class:`UserTurn`, which the chat service runs like any text turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.i18n import N_, _
from bot.inputs import InputError, Upload
from bot.inputs.documents import document_text
from bot.inputs.images import Image, checked_image
from bot.inputs.voice import heard, transcript
from providers.audio import AudioEndpoint


@dataclass
class UserTurn:
    """The user's side of a turn.

    ``text``: the user's words as stored in the history (the caption or text, a transcript,
    a document's labelled text followed by the caption); ``attachments``: the files, as stored
    (``{"kind", "file_id", ...}``); ``images``: this turn's images by ``file_id``;
    ``heard``: the line showing a transcript, shown before the answer (None: no voice)."""

    text: str
    attachments: list[dict[str, Any]] = field(default_factory=list)
    images: dict[str, Image] = field(default_factory=dict)
    heard: str | None = None


@dataclass(frozen=True)
class Converters:
    """What turning files into words needs: DOCUMENT_MAX_CHARS, and the transcription endpoint
    and model (an empty model: voice is off)."""

    document_max_chars: int
    transcription: AudioEndpoint
    transcription_model: str


async def user_turn(text: str, uploads: Sequence[Upload], converters: Converters) -> UserTurn:
    """The turn for ``text`` (a caption, may be empty) and ``uploads``.

    Documents become their labelled text before ``text`` (the question); voice becomes its
    transcript (with ``text`` after it, if any); photos stay bytes for the vision model.
    Raises :class:`InputError` for a file that cannot be used, and the ProviderError of the
    transcription endpoint when it fails."""
    words: list[str] = []
    turn = UserTurn("")
    for upload in uploads:
        reference: dict[str, Any] = {"kind": upload.kind, "file_id": upload.file_id}
        if upload.file_name:
            reference["file_name"] = upload.file_name
        if upload.kind == "photo":
            turn.images[upload.file_id] = checked_image(upload.data, upload.mime_type)
        elif upload.kind == "document":
            words.append(await asyncio.to_thread(
                document_text, upload.data, upload.file_name, upload.mime_type,
                converters.document_max_chars))
        elif upload.kind == "voice":
            if not converters.transcription_model:
                raise InputError(_(VOICE_OFF))
            said = await transcript(
                upload, converters.transcription, converters.transcription_model
            )
            words.append(said)
            turn.heard = heard(said)
        else:
            raise InputError(_("I can't use a {kind} file.", kind=upload.kind))
        turn.attachments.append(reference)
    if text.strip():
        words.append(text.strip())
    turn.text = "\n\n".join(words)
    return turn


VOICE_OFF = N_(
    "I can't listen to voice messages here (no speech-to-text is set up): write to me."
)
