"""The Telegram side of a turn: a :class:`~bot.service.ReplySink` backed by the reply streamer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
from collections.abc import AsyncIterable

from telegram import ReplyParameters
from telegram.error import TelegramError

from bot.i18n import N_
from bot.service import DeliveryError, SinkReply, WriteCallback
from bot.streamer import ReplyStreamer
from providers import ImageResponse, Reasoning

log = logging.getLogger(__name__)

#: Seconds a chat action stays visible (Bot API sendChatAction: "5 seconds or less").
ACTION_REFRESH = 4.5
#: Seconds after which a chat action is no longer refreshed, whatever happens.
ACTION_LIMIT = 300.0


class TelegramSink:
    """Sends one turn's reply into one chat (and forum topic), as a reply to the user's message."""

    def __init__(
        self,
        streamer: ReplyStreamer,
        chat_id: int,
        thread_id: int | None,
        reply_to_message_id: int | None,
    ) -> None:
        self.streamer = streamer
        self.chat_id = chat_id
        self.thread_id = thread_id
        self.reply_to = reply_to_message_id
        self._action: asyncio.Task[None] | None = None

    async def stream(
        self,
        chunks: AsyncIterable[str | Reasoning],
        on_write: WriteCallback,
        stop: asyncio.Event,
        *,
        show_reasoning: bool = False,
    ) -> SinkReply:
        delivered = await self.streamer.stream(
            self.chat_id,
            chunks,
            message_thread_id=self.thread_id,
            reply_to_message_id=self.reply_to,
            on_write=on_write,
            stop=stop,
            show_reasoning=show_reasoning,
        )
        return SinkReply(delivered.text, list(delivered.message_ids), delivered.error)

    async def send_photo(self, image: ImageResponse, caption: str) -> tuple[int, str]:
        """Upload the image as a photo; raises DeliveryError when Telegram does not take it."""
        extension = mimetypes.guess_extension(image.mime_type or "") or ".png"
        try:
            return await self.streamer.send_photo(
                self.chat_id,
                image.data,
                caption=caption,
                filename=f"image{extension}",
                message_thread_id=self.thread_id,
                reply_to_message_id=self.reply_to,
                action=self._action is None,  # "upload_photo" shows already, while generating
            )
        except TelegramError as error:
            raise DeliveryError(
                N_("Telegram did not take the image ({error})"), error=str(error)
            ) from error
        finally:
            self._stop_action()

    async def notice(self, text: str) -> list[int]:
        self._stop_action()
        return await self.streamer.send_text(
            self.chat_id,
            text,
            message_thread_id=self.thread_id,
            reply_to_message_id=self.reply_to,
            markdown=False,
        )

    async def send_voice(self, audio: bytes) -> int:
        """Send OGG/Opus ``audio`` as a voice message replying to the user's message (paced by
        the bot's flood control like any write); returns its message id."""
        reply = None
        if self.reply_to:
            reply = ReplyParameters(self.reply_to, allow_sending_without_reply=True)
        try:
            message = await self.streamer.bot.send_voice(
                self.chat_id,
                audio,
                filename="reply.ogg",
                message_thread_id=self.thread_id,
                reply_parameters=reply,
            )
        finally:
            self._stop_action()
        return message.message_id

    async def action(self, action: str) -> None:
        """Show ``action`` (e.g. ``upload_photo``) until the next photo or notice is sent."""
        self._stop_action()
        self._action = asyncio.create_task(self._keep_action(action))

    async def _keep_action(self, action: str) -> None:
        bot = self.streamer.bot
        for _ in range(int(ACTION_LIMIT / ACTION_REFRESH)):
            with contextlib.suppress(TelegramError):
                await bot.send_chat_action(
                    self.chat_id, action, message_thread_id=self.thread_id
                )
            await asyncio.sleep(ACTION_REFRESH)

    def _stop_action(self) -> None:
        if self._action is not None:
            self._action.cancel()
            self._action = None

