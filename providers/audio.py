"""Speech to text and text to speech over the OpenAI-compatible audio API.

Wire format (OpenAI API reference, "Audio"), served alike by OpenAI's Whisper API, Groq,
faster-whisper-server, LocalAI and whisper.cpp's server:

- transcription: ``POST {base}/audio/transcriptions``, a multipart form with ``file`` (the audio
  file, with a file name) and ``model``; the JSON reply's ``text`` is the transcript.
- speech: ``POST {base}/audio/speech`` with JSON ``{model, input, voice, response_format}``;
  the body is the audio (``response_format: "opus"`` gives OGG/Opus, what Telegram's
  ``sendVoice`` plays). ``input`` holds at most :data:`SPEECH_MAX_CHARS` characters.

``Authorization: Bearer <key>`` is sent only when a key is given. Reads are held to the
providers' :class:`~providers.limits.Limits` (connect, first byte, silence; JSON body size).
Errors are the provider errors of :mod:`providers.status` (401 MissingAuthError, 429
RateLimitError, other statuses ResponseStatusError, timeouts ProviderTimeoutError, connection
failures ProviderConnectionError), each safe to show a user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiohttp

from providers.errors import N_, ProviderConnectionError, ProviderError, ResponseFormatError
from providers.http import client_session, request
from providers.limits import Limits
from providers.status import map_exception

SPEECH_MAX_CHARS = 4096
"""Characters: the longest ``input`` of ``/audio/speech`` (OpenAI API reference)."""
SENTENCE_END = re.compile(r"[.!?…。！？](?:[\"'”’)\]]*)\s")


@dataclass(frozen=True)
class AudioEndpoint:
    """An OpenAI-compatible audio API: ``base_url`` up to and including ``/v1``, its key
    (None: none sent), the ``limits`` its reads are held to, an optional ``proxy`` URL."""

    base_url: str
    api_key: str | None
    limits: Limits
    proxy: str | None = None

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


async def transcribe(endpoint: AudioEndpoint, audio: bytes, *, file_name: str,
                     model: str, mime_type: str = "application/octet-stream") -> str:
    """The transcript of ``audio`` (the file's bytes; ``file_name``'s extension tells the server
    its format), stripped. Raises a ProviderError (see the module docstring); a reply without a
    ``text`` string is ResponseFormatError."""
    form = aiohttp.FormData()
    form.add_field("file", audio, filename=file_name, content_type=mime_type)
    form.add_field("model", model)
    try:
        async with client_session(endpoint.headers, endpoint.limits) as session, request(
                session, "POST", endpoint.url("/audio/transcriptions"), data=form,
                proxy=endpoint.proxy, limits=endpoint.limits) as response:
            reply = await response.json()
    except (aiohttp.ClientError, TimeoutError) as error:
        raise _mapped(error) from error
    text = reply.get("text") if isinstance(reply, dict) else None
    if not isinstance(text, str):
        raise ResponseFormatError(N_("The transcription reply has no 'text'"))
    return text.strip()


async def speech(endpoint: AudioEndpoint, text: str, *, model: str, voice: str,
                 max_bytes: int) -> bytes:
    """OGG/Opus audio of ``text`` (cut with :func:`speech_input` first), at most ``max_bytes``
    bytes. Raises a ProviderError (see the module docstring); an empty or too large body is
    ResponseFormatError (ResponseTooLargeError past ``max_bytes``)."""
    payload = {"model": model, "input": speech_input(text), "voice": voice,
               "response_format": "opus"}
    try:
        async with client_session(endpoint.headers, endpoint.limits) as session, request(
                session, "POST", endpoint.url("/audio/speech"), json=payload,
                proxy=endpoint.proxy, limits=endpoint.limits) as response:
            data = await response.read(max_bytes, N_("speech"))
    except (aiohttp.ClientError, TimeoutError) as error:
        raise _mapped(error) from error
    if not data:
        raise ResponseFormatError(N_("The speech reply is empty"))
    return data


def speech_input(text: str, limit: int = SPEECH_MAX_CHARS) -> str:
    """``text`` if it has at most ``limit`` characters, else its start cut after the last
    sentence end (``.``, ``!``, ``?``, ``…`` followed by a space) within the limit; at the last
    space when no sentence ends there, at ``limit`` when there is no space either."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = text[:limit + 1]
    ends = [match.end() for match in SENTENCE_END.finditer(head)]
    if ends:
        return head[:ends[-1]].strip()
    space = head.rfind(" ")
    return (head[:space] if space > 0 else text[:limit]).strip()


def _mapped(error: aiohttp.ClientError | TimeoutError) -> ProviderError:
    """The ProviderError for a network failure while talking to the audio API."""
    return map_exception(error) or ProviderConnectionError(type(error).__name__)
