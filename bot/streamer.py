"""The reply streamer: a stream of text chunks becomes a live, growing Telegram reply.

* ``typing`` 0.2 s in (unless the text came first) and every 4.5 s until the first text shows
  (Bot API sendChatAction: "the status is set for 5 seconds or less"); the first text goes out
  as soon as it arrives.
* A writer, decoupled from the chunk reader, keeps the message in step with the *draft* (the
  text so far): it writes when the draft differs from what is shown, the edit interval has
  passed and the chat keeps ``edit_reserve`` tokens (this reply's final write, the next reply's
  first text). A write is composed once its tokens are granted, from the latest draft: newer
  text replaces a waiting edit, never a queue of stale edits. A 429 or network error on an
  intermediate edit drops it (the chat is penalized for ``retry_after``).
* When the source ends, the final write goes at once (priority FINAL, no interval) and is
  retried until it lands, for up to ``final_timeout``: after a 429 (``retry_after`` honoured), a
  timeout or network error (backoff), "can't parse entities" (sent again without entities), a
  deleted message (sent anew); "message is not modified" counts as delivered.
* A new message (sendMessage) is waited for ``send_timeout`` seconds, not resent when its
  answer is merely slow: the Bot API may have shown it already, and only its answer gives the
  id later edits need. When even that answer is lost (a read timeout, a dropped connection),
  the message may be on screen with an id nobody can learn: no new message is sent until the
  source ends, then the final text is sent once more (shown at most twice, never lost).
* Reasoning chunks (:class:`providers.Reasoning`) are not the reply's text: while only they
  have come, the message shows a "Thinking…" line with the seconds so far; the reasoning goes
  above the answer of the first message, collapsed, for chats that show it (:mod:`bot.thinking`).
* Text is sent as :func:`bot.formatting.render` gives it (text + entities, no parse_mode). When
  it outgrows 4096 characters, the current message gets its complete part
  (:func:`bot.formatting.cut_markdown`) and a new message continues with the rest.

Writes take their tokens from :class:`bot.flood.FloodControl` and so bypass a
:class:`bot.flood_limiter.FloodRateLimiter` on the bot (``rate_limit_args={"paced": True}``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import telegram
from telegram import ReplyParameters
from telegram.constants import ChatAction
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from bot.draft import Draft, OnWrite, backoff
from bot.flood import FloodBudget, Priority
from bot.flood_limiter import FloodRateLimiter, retry_after_seconds
from bot.formatting import (
    MESSAGE_LIMIT,
    shorten,
)
from providers import Reasoning

__all__ = ["ReplyStreamer", "StreamedReply"]

_LOGGER = logging.getLogger(__name__)

#: Attempts of a photo upload failing with a server error (5xx), a timeout or a lost connection.
PHOTO_ATTEMPTS = 3


@dataclass
class StreamedReply:
    """What :meth:`ReplyStreamer.stream` delivered."""

    text: str  # the complete raw (Markdown) text received and delivered, stripped as Telegram does
    message_ids: list[int]  # Telegram message ids of the reply, in order
    # what ended the chunk source early (the text so far was delivered)
    error: BaseException | None = None
    delivered: bool = True  # False only if the final text could not land within final_timeout


class ReplyStreamer:
    """Writes replies into Telegram chats, paced by a :class:`bot.flood.FloodBudget`.

    ``edit_interval`` / ``group_edit_interval``: seconds between writes of one reply in a private
    chat / a group (``chat_id < 0``). ``clock`` returns seconds, ``sleep`` waits seconds (both
    injectable). ``typing_delay``: seconds to wait for the first text before the first typing action
(a reply whose text comes at once needs none, and a request is saved); ``typing_interval``:
seconds between typing actions. ``final_timeout``: seconds
    after the source ends during which the final text is retried. ``cancel_timeout``: seconds
    allowed to land the text after a cancellation. ``limit``: characters per message (4096).
    ``edit_reserve``: chat tokens an intermediate edit must leave (one for this reply's final
    write, one for the next reply's first text; see :mod:`bot.flood`). ``send_timeout``:
    seconds to wait for the answer to a sendMessage (its read timeout) before its outcome counts
    as unknown.
    """

    def __init__(
        self,
        bot: telegram.Bot,
        flood: FloodBudget,
        *,
        edit_interval: float = 1.0,
        group_edit_interval: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        typing_delay: float = 0.2,
        typing_interval: float = 4.5,
        final_timeout: float = 300.0,
        cancel_timeout: float = 5.0,
        limit: int = MESSAGE_LIMIT,
        edit_reserve: int = 2,
        send_timeout: float = 60.0,
    ) -> None:
        self.bot, self.flood = bot, flood
        self.edit_reserve = edit_reserve
        self.edit_interval, self.group_edit_interval = edit_interval, group_edit_interval
        self.clock, self.sleep = clock, sleep
        self.typing_delay, self.typing_interval = typing_delay, typing_interval
        self.final_timeout, self.cancel_timeout = final_timeout, cancel_timeout
        self.limit = limit
        self.send_timeout = send_timeout
        paced = isinstance(getattr(bot, "rate_limiter", None), FloodRateLimiter)
        self.paced: dict[str, Any] = {"rate_limit_args": {"paced": True}} if paced else {}

    async def stream(
        self,
        chat_id: int,
        chunks: AsyncIterable[str | Reasoning],
        *,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        on_write: OnWrite | None = None,
        stop: asyncio.Event | None = None,
        show_reasoning: bool = False,
    ) -> StreamedReply:
        """Show ``chunks`` (text deltas, Markdown) as one growing reply; return once all of it
        landed.

        :class:`~providers.Reasoning` chunks are not the reply's text: while only they have
        come, the reply shows a "Thinking…" line with the seconds so far (edited at the usual
        pace); with ``show_reasoning`` the final first message has the reasoning above the
        answer in an expandable blockquote (:mod:`bot.thinking`).

        When ``stop`` is set (``/stop``), reading ``chunks`` ends at once (the source is closed,
        even while it waits for its next chunk) and the text so far is the reply.

        ``on_write(text_so_far, message_ids)`` is awaited after each successful write (the raw
        text shown so far, stripped, and the message ids); its exceptions are logged and
        ignored. If the source raises, the text so far is landed and returned with ``.error``
        set. If this task is cancelled, the text so far is landed once (shielded,
        ``cancel_timeout`` seconds at most), then CancelledError is re-raised. A
        ``TelegramError`` no retry can fix (e.g. ``Forbidden``: the bot was blocked) stops the
        source and is raised.
        """
        run = Draft(self, chat_id, message_thread_id, reply_to_message_id, on_write,
                    show_reasoning=show_reasoning)
        reader = asyncio.ensure_future(run.read(chunks))
        typing = asyncio.ensure_future(run.keep_typing())
        stopper = None if stop is None else asyncio.ensure_future(stop.wait())
        if stopper is not None:

            def on_stop(waited: asyncio.Future[Any]) -> None:
                if not waited.cancelled():
                    run.stop_reading(reader)

            stopper.add_done_callback(on_stop)
        try:
            delivered = await run.write_loop()
        except asyncio.CancelledError:
            reader.cancel()
            await asyncio.wait({reader}, timeout=self.cancel_timeout)
            run.done.set()
            run.deadline = self.clock() + self.cancel_timeout
            try:
                await asyncio.wait_for(asyncio.shield(run.write_loop()), self.cancel_timeout)
            except Exception:  # best effort while cancelling
                _LOGGER.warning("Could not land the reply in chat %s after cancellation", chat_id,
                                exc_info=True)
            raise
        finally:
            if stopper is not None:
                stopper.cancel()
            run.visible.set()  # ends the typing loop after its current request
            if not typing.done() and not run.message_ids:
                typing.cancel()
            if not reader.done():  # a permanent Telegram error: stop reading the source
                reader.cancel()
                await asyncio.wait({reader}, timeout=self.cancel_timeout)
        return StreamedReply(run.text.strip(), run.message_ids, run.error, delivered)

    async def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        reply_markup: telegram.InlineKeyboardMarkup | None = None,
        markdown: bool = True,
    ) -> list[int]:
        """Send ``text`` (Markdown unless ``markdown=False``) as one or more messages.

        Split and rendered like a streamed reply and delivered like its final write (priority
        FINAL, retried). ``reply_markup`` goes on the last message. Returns the message ids (none
        for a blank text). Raises a ``TelegramError`` no retry can fix.
        """
        run = Draft(self, chat_id, message_thread_id, reply_to_message_id, None, markdown=markdown)
        run.reply_markup = reply_markup
        run.feed(text)
        run.done.set()
        await run.write_loop()
        return run.message_ids

    async def send_photo(
        self,
        chat_id: int,
        photo: bytes,
        *,
        caption: str = "",
        filename: str = "image.png",
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        action: bool = True,
    ) -> tuple[int, str]:
        """Upload ``photo`` (image bytes; the Bot API takes up to 10 MB) with a plain-text caption.

        An ``upload_photo`` action goes first (unless ``action`` is False: the caller shows it
        already); the caption is cut to 1024 characters on a word
        boundary, ending with "…". 429s are honoured (for up to ``final_timeout`` seconds); a
        server error, timeout or lost connection is logged and retried, :data:`PHOTO_ATTEMPTS`
        uploads in all. Returns (message_id, file_id of the largest size). Raises the
        ``TelegramError`` when it is permanent (e.g. ``BadRequest``) or the attempts or the time
        are used up. Cancelling it (``/stop``) cancels the upload.
        """
        if action:
            try:
                await self.bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO,
                                                message_thread_id=message_thread_id)
            except TelegramError as exc:
                _LOGGER.debug("Chat action failed in chat %s: %s", chat_id, exc)
        reply = None
        if reply_to_message_id:
            reply = ReplyParameters(reply_to_message_id, allow_sending_without_reply=True)
        deadline, failures = self.clock() + self.final_timeout, 0
        while True:
            await self.flood.acquire(chat_id, Priority.FINAL)
            try:
                message = await self.bot.send_photo(
                    chat_id, photo, caption=shorten(caption, 1024) or None, parse_mode=None,
                    filename=filename, message_thread_id=message_thread_id, reply_parameters=reply,
                    **self.paced)
                return message.message_id, message.photo[-1].file_id
            except RetryAfter as exc:
                self.flood.penalize(chat_id, retry_after_seconds(exc))
                if self.clock() > deadline:
                    raise
            except BadRequest:
                raise
            except NetworkError as exc:
                failures += 1
                _LOGGER.warning("Photo upload to chat %s failed (%s), attempt %d of %d",
                                chat_id, exc, failures, PHOTO_ATTEMPTS)
                if failures >= PHOTO_ATTEMPTS or self.clock() > deadline:
                    raise
                await self.sleep(backoff(failures))
