"""Spoken replies (``/voice``): a reply's text also sent as a voice message (Telegram-free).

The text goes to the OpenAI-compatible ``/audio/speech`` endpoint (:func:`providers.audio.speech`,
``TTS_MODEL``, ``TTS_VOICE``, OGG/Opus) and the audio to the sink's ``send_voice``. A failure
leaves the text reply as it is and says so in one line.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.i18n import _
from bot.settings import Settings
from providers import ProviderError
from providers.audio import speech

if TYPE_CHECKING:
    from bot.service import ReplySink

log = logging.getLogger(__name__)

VOICE_MAX_BYTES = 20 * 1024 * 1024
"""Bytes: the largest spoken reply accepted (Telegram's limit for a voice message to be shown
as one, Bot API sendVoice)."""


async def speak(text: str, sink: ReplySink, settings: Settings) -> bool:
    """Send ``text`` (cut to the endpoint's 4,096 characters at a sentence end) as a voice
    message; True when it was sent. On failure the user gets one line and False is returned."""
    try:
        await sink.action("record_voice")
        audio = await speech(settings.tts_endpoint, text, model=settings.tts_model,
                             voice=settings.tts_voice, max_bytes=VOICE_MAX_BYTES)
        await sink.send_voice(audio)
    except ProviderError as error:
        await sink.notice(
            _("⚠️ I couldn't read the reply aloud: {error}", error=error.translated(_))
        )
        return False
    except Exception as error:  # e.g. Telegram refused the voice: the text reply stays
        log.warning("spoken reply failed", exc_info=error)
        await sink.notice(_("⚠️ I couldn't send the reply as a voice message."))
        return False
    return True
