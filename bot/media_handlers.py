"""Telegram handlers for files — photos (and albums), documents, voice — and ``/voice``.

Each handler only recognises the kind of input and fetches the file
(:mod:`bot.telegram_files`); the chat service turns it into the user's words and runs the turn.
What is refused before a download (a file over the Bot API's 20 MB, a photo for a model that
cannot see, voice when it is off or too long) gets one line and costs no download.
"""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass, field
from datetime import timedelta

from telegram import Audio, Message, Update, VideoNote, Voice
from telegram.constants import ChatType
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from bot.handlers import Deps, _allowed, _deps, _replies_to_bot, _sink, addressed_text, target_of
from bot.i18n import _
from bot.inputs import InputError, Upload
from bot.telegram_files import TelegramFiles, largest_photo, too_large

ALBUM_WAIT = 1.0
"""Seconds without a new part after which an album (``media_group_id``) is complete."""
MEDIA = (
    filters.PHOTO | filters.Document.ALL | filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE
)


@dataclass(frozen=True)
class Media:
    """The file of a message, as Telegram describes it: ``kind`` ``"photo"``, ``"document"``
    or ``"voice"`` (voice notes, audio files, video notes); ``file_size`` bytes and
    ``seconds`` (audio) when known."""

    kind: str
    file_id: str
    file_size: int | None
    file_name: str | None = None
    mime_type: str | None = None
    seconds: int | None = None


def media_of(message: Message, photo_max_bytes: int) -> Media | None:
    """The message's file: the largest photo size within ``photo_max_bytes``; an image sent as
    a document is a photo; None when the message has none of these."""
    if message.photo:
        size = largest_photo(message.photo, photo_max_bytes)
        return Media("photo", size.file_id, size.file_size, None, "image/jpeg")
    if message.document is not None:
        document = message.document
        mime = document.mime_type or ""
        kind = "photo" if mime.startswith("image/") else "document"
        return Media(kind, document.file_id, document.file_size, document.file_name, mime or None)
    audio: Voice | Audio | VideoNote | None = message.voice or message.audio or message.video_note
    if audio is None:
        return None
    audio_mime = "video/mp4" if isinstance(audio, VideoNote) else audio.mime_type
    name = audio.file_name if isinstance(audio, Audio) else None
    return Media("voice", audio.file_id, audio.file_size, name, audio_mime, _seconds(audio))


def _seconds(audio: Voice | Audio | VideoNote) -> int:
    with warnings.catch_warnings():  # an int is deprecated since PTB 22.2 unless PTB_TIMEDELTA
        warnings.simplefilter("ignore")
        value = audio.duration
    return int(value.total_seconds() if isinstance(value, timedelta) else value)


def addressed_caption(message: Message, bot_id: int, bot_username: str) -> str | None:
    """The caption meant for the bot ("" for none), or None when a group message is not for
    the bot (see :func:`bot.handlers.addressed_text`)."""
    if message.caption is None:
        private = message.chat.type == ChatType.PRIVATE
        return "" if private or _replies_to_bot(message, bot_id) else None
    return addressed_text(message, bot_id, bot_username)


def files_of(context: ContextTypes.DEFAULT_TYPE) -> TelegramFiles:
    """The file downloader for this bot (FILE_DOWNLOAD_TIMEOUT)."""
    return TelegramFiles(context.bot, timeout=_deps(context).settings.file_download_timeout)


async def _answer_files(
    messages: list[Message], caption: str, context: ContextTypes.DEFAULT_TYPE
) -> None:
    """Check, fetch and answer the files of ``messages`` (one message, or an album's parts) as
    one turn replying to the first."""
    deps, first = _deps(context), messages[0]
    target = target_of(first)
    found = [m for m in (media_of(message, deps.settings.photo_max_bytes) for message in messages)
             if m is not None]
    for media in found:
        refusal = too_large(media.file_size) or await deps.service.refusal(
            target, media.kind, media.seconds
        )
        if refusal is not None:
            await first.reply_text(f"⚠️ {refusal}")
            return
    files = files_of(context)
    uploads = []
    try:
        for media in found:
            data = await files.fetch(media.file_id)
            uploads.append(
                Upload(media.kind, data, media.file_id, media.file_name, media.mime_type)
            )
    except InputError as error:
        await first.reply_text(f"⚠️ {error}")
        return
    await deps.service.run_upload_turn(
        target,
        caption,
        uploads,
        _sink(deps, first),
        telegram_message_id=first.message_id,
        files=files,
    )


async def on_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo, document, voice note, audio file or video note (not part of an album)."""
    message = update.effective_message
    if message is None:
        return
    caption = addressed_caption(message, context.bot.id, context.bot.username)
    if caption is None or not await _allowed(update, _deps(context)):
        return
    await _answer_files([message], caption, context)


@dataclass
class _Album:
    messages: list[Message]
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


async def on_album_part(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A part of an album: the first part waits until no part came for :data:`ALBUM_WAIT`
    seconds, then the whole album is one turn (caption: the first part's that has one).

    Runs without blocking the chat's queue (``block=False``), so the other parts can arrive."""
    message = update.effective_message
    if message is None or message.media_group_id is None:
        return
    albums: dict[str, _Album] = context.bot_data.setdefault("albums", {})
    album = albums.get(message.media_group_id)
    if album is not None:
        album.messages.append(message)
        album.arrived.set()
        return
    album = albums[message.media_group_id] = _Album([message])
    try:
        while True:
            album.arrived.clear()
            try:
                await asyncio.wait_for(album.arrived.wait(), ALBUM_WAIT)
            except TimeoutError:
                break
    finally:
        del albums[message.media_group_id]
    parts = sorted(album.messages, key=lambda part: part.message_id)
    captions = [addressed_caption(part, context.bot.id, context.bot.username) for part in parts]
    addressed = [caption for caption in captions if caption is not None]
    if not addressed or not await _allowed(update, _deps(context)):
        return
    await _answer_files(parts, next((c for c in addressed if c), ""), context)


async def voice_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/voice``: spoken replies on or off for this chat (``/voice on``, ``/voice off``)."""
    deps: Deps = _deps(context)
    message = update.effective_message
    if message is None or not await _allowed(update, deps):
        return
    wanted = {"on": True, "off": False}.get((context.args or [""])[0].lower())
    on = await deps.service.toggles.set_voice(target_of(message), wanted)
    await message.reply_text(
        _("Spoken replies are on: each reply also comes as a voice message. /voice turns them "
          "off.")
        if on
        else _("Spoken replies are off. /voice turns them on.")
    )


def register(application: Application) -> None:
    """Add the file handlers and ``/voice`` (before the text and non-text handlers)."""
    application.add_handler(CommandHandler("voice", voice_command))
    application.add_handler(MessageHandler(MEDIA & _InAlbum(), on_album_part, block=False))
    application.add_handler(MessageHandler(MEDIA, on_media))


class _InAlbum(filters.MessageFilter):
    """Messages that are part of an album (they have a ``media_group_id``)."""

    def filter(self, message: Message) -> bool:
        return message.media_group_id is not None
