"""Voice: voice notes, audio files and video notes, as a transcript (the user's words).

The audio goes to an OpenAI-compatible ``/audio/transcriptions`` endpoint
(:func:`providers.audio.transcribe`); the transcript becomes the user's message, and the user
first sees what was heard (:func:`heard`).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from bot.i18n import _
from bot.inputs import InputError, Upload
from providers.audio import AudioEndpoint, transcribe

HEARD_CHARS = 300
"""Characters of the transcript shown back to the user (the rest is replaced by "…")."""
EXTENSIONS = {"audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/x-m4a": ".m4a",
              "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/webm": ".webm",
              "audio/flac": ".flac", "video/mp4": ".mp4"}


def audio_file_name(upload: Upload) -> str:
    """A file name whose extension tells the transcription server the format (Telegram's voice
    notes are OGG/Opus, video notes MP4)."""
    if upload.file_name and PurePosixPath(upload.file_name).suffix:
        return upload.file_name
    return "voice" + EXTENSIONS.get((upload.mime_type or "").lower(), ".ogg")


async def transcript(upload: Upload, endpoint: AudioEndpoint, model: str) -> str:
    """What was said in ``upload``. Raises :class:`InputError` for an empty file or when
    nothing was heard, and the ProviderError of :func:`providers.audio.transcribe` when the
    transcription endpoint fails."""
    if not upload.data:
        raise InputError(_("That voice message is empty: record it again."))
    text = await transcribe(endpoint, upload.data, file_name=audio_file_name(upload),
                            model=model, mime_type=upload.mime_type or "application/octet-stream")
    if not text:
        raise InputError(_("I heard nothing in that recording: try again, or write to me."))
    return text


def heard(text: str) -> str:
    """The line that shows the user what was heard: ``🎤 “…”``, at most :data:`HEARD_CHARS`
    characters of the transcript."""
    shown = text if len(text) <= HEARD_CHARS else text[:HEARD_CHARS - 1].rstrip() + "…"
    return f"🎤 “{shown}”"
