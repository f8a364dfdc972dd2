"""What is refused before a file is even downloaded, by kind (Telegram-free).

Photos need a model that can see (``OPENAI_VISION_MODELS``, the registry's routes); voice needs
a ``TRANSCRIPTION_MODEL`` and at most ``VOICE_MAX_SECONDS``. Documents are judged once read
(:mod:`bot.inputs.documents`); the 20 MB Bot API limit is the Telegram side's
(``bot.telegram_files.too_large``).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.i18n import _
from bot.inputs.turn import VOICE_OFF
from providers import Route


def refusal(kind: str, seconds: int | None, *, transcription_model: str, voice_max_seconds: int,
            model: str, routes: Sequence[Route], vision_models: Sequence[str]) -> str | None:
    """The one-line answer refusing a file of ``kind`` (``"photo"``, ``"voice"``,
    ``"document"``; ``seconds`` long for voice) for a chat whose ``model`` is served by
    ``routes``, or None when it may be downloaded. ``vision_models`` are the models that can
    see, named in the answer to a photo."""
    if kind == "voice":
        if not transcription_model:
            return _(VOICE_OFF)
        if seconds is not None and seconds > voice_max_seconds:
            return _("That recording is {seconds} s long; I listen to up to {limit} s. "
                     "Send a shorter one.", seconds=seconds, limit=voice_max_seconds)
    if kind == "photo" and not any(route.can_see for route in routes):
        if not vision_models:
            return _("{model} can't see images, and no model here can (OPENAI_VISION_MODELS).",
                     model=model)
        return _("{model} can't see images. Models that can: {models} "
                 "(switch with /model {first}).",
                 model=model, models=", ".join(vision_models), first=vision_models[0])
    return None
