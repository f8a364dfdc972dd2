"""Files from Telegram: one place fetches a message's file (``getFile``, then the file URL).

The Bot API serves files of at most 20 MB through ``getFile`` (Bot API, "getFile": "bots can
download files of up to 20MB in size"); larger ones are refused from the message's
``file_size`` before any request. A download is capped in bytes (read in pieces, stopped as
soon as it is over) and in time (``FILE_DOWNLOAD_TIMEOUT`` seconds in all). The file URL holds
the bot token (``/file/bot<token>/<path>``): it is never logged and never part of an error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import aiohttp
from telegram import Bot, PhotoSize
from telegram.error import TelegramError

from bot.i18n import _
from bot.inputs import InputError

log = logging.getLogger(__name__)

BOT_API_FILE_LIMIT = 20 * 1024 * 1024
"""Bytes: the largest file ``getFile`` serves (Bot API, "getFile")."""


def too_large(file_size: int | None, max_bytes: int = BOT_API_FILE_LIMIT) -> str | None:
    """The answer for a file over ``max_bytes`` (bytes, as Telegram reported it), else None."""
    if file_size is not None and file_size > max_bytes:
        megabytes, kilobytes = max_bytes // 1_048_576, max_bytes // 1024
        if megabytes:
            limit = _("{n} MB", n=megabytes)
        else:
            limit = _("{n} kB", n=kilobytes)
        return _("That file is {size} MB; I can read files of up to {limit}.",
                 size=format(file_size / 1_048_576, ".1f"), limit=limit)
    return None


def largest_photo(sizes: Sequence[PhotoSize], max_bytes: int) -> PhotoSize:
    """The largest size (by pixels) whose ``file_size`` is at most ``max_bytes``; the smallest
    size when none fits (a size without ``file_size`` counts as fitting)."""
    ordered = sorted(sizes, key=lambda size: size.width * size.height)
    fitting = [size for size in ordered if (size.file_size or 0) <= max_bytes]
    return fitting[-1] if fitting else ordered[0]


class TelegramFiles:
    """Downloads files of the bot's chats; implements :class:`bot.inputs.FileFetcher`."""

    def __init__(self, bot: Bot, *, timeout: float) -> None:
        self.bot = bot
        self.timeout = timeout

    async def fetch(self, file_id: str, max_bytes: int = BOT_API_FILE_LIMIT) -> bytes:
        """The file's bytes: ``getFile``, then a GET of its URL, at most ``max_bytes`` bytes
        and ``timeout`` seconds.

        Raises :class:`InputError` (a sentence for the user) when Telegram refuses the file,
        the download fails or takes too long, or the file is over ``max_bytes``."""
        limit = min(max_bytes, BOT_API_FILE_LIMIT)
        try:
            file = await self.bot.get_file(file_id)
        except TelegramError as error:
            log.warning("getFile failed for %s: %s", file_id, error)
            raise InputError(
                _("Telegram would not give me the file ({error}).", error=error.message)
            ) from None
        if (refusal := too_large(file.file_size, limit)) is not None:
            raise InputError(refusal)
        if not file.file_path:
            raise InputError(_("Telegram gave me no way to download the file."))
        try:
            return await self._download(file.file_path, limit)
        except TimeoutError:
            raise InputError(_(
                "Downloading the file from Telegram took over {seconds} s.",
                seconds=format(self.timeout, "g"),
            )) from None
        except aiohttp.ClientError as error:
            # The error's text may hold the URL, and so the token: only its type is logged.
            log.warning("download of %s failed: %s", file_id, type(error).__name__)
            raise InputError(_("Downloading the file from Telegram failed.")) from None

    async def _download(self, url: str, limit: int) -> bytes:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            if response.status != 200:
                log.warning("file download answered HTTP %s", response.status)
                raise InputError(
                    _("Telegram answered HTTP {status} for the file.", status=response.status)
                )
            if (refusal := too_large(response.content_length, limit)) is not None:
                raise InputError(refusal)
            data = bytearray()
            async for piece in response.content.iter_chunked(65_536):
                data += piece
                if (refusal := too_large(len(data), limit)) is not None:
                    raise InputError(refusal)
            return bytes(data)
