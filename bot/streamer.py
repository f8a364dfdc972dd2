"""The reply streamer: a stream of text chunks becomes a live, growing Telegram reply.

How a reply is written (issue 4):

* a ``typing`` chat action at once, repeated every 4.5 s until the first text is visible
  (Bot API sendChatAction: "the status is set for 5 seconds or less");
* the first text is sent as soon as it arrives (priority ``FIRST``);
* then a writer, decoupled from the chunk reader, keeps the message in step with the *draft*
  (the text received so far): it writes when the draft differs from what is shown, the chat's
  edit interval has passed and the chat has a token to spare beyond the one kept for the final
  write. While a write waits, newer text replaces it: there is never a queue of stale edits;
* when the source ends, the final write goes at once at priority ``FINAL``, and is retried
  until delivered: after a 429 (``retry_after`` honoured), a timeout or network error (with
  backoff), a "can't parse entities" (sent again as plain text), a deleted message (sent anew);
  "message is not modified" counts as delivered. A generous cap (5 min) ends the attempts;
* text is rendered with :func:`bot.formatting.render` (text + entities, no parse_mode); a part
  that outgrows Telegram's 4096 characters is completed and the rest continues in a new
  message, cut by :func:`bot.formatting.cut_markdown` at a sensible boundary.

All writes take their tokens from :class:`bot.flood.FloodControl` first; they bypass a
:class:`bot.flood.FloodRateLimiter` on the bot (``rate_limit_args={"paced": True}``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import telegram
from telegram import MessageEntity, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import BadRequest, NetworkError, RetryAfter

from bot.flood import FloodControl, FloodRateLimiter, Priority, retry_after_seconds
from bot.formatting import MESSAGE_LIMIT, Cut, cut_markdown, cut_text, render, shorten, utf16_len

__all__ = ["ReplyStreamer", "StreamedReply"]

_LOGGER = logging.getLogger(__name__)
OnWrite = Callable[[str, list[int]], Awaitable[None]]


@dataclass
class StreamedReply:
    """What :meth:`ReplyStreamer.stream` delivered."""

    text: str  # the complete raw (Markdown) text received and delivered
    message_ids: list[int]  # Telegram message ids of the reply, in order
    error: BaseException | None = None  # what ended the chunk source early (the text so far was delivered)
    delivered: bool = True  # False only if the final text could not be landed within the cap


@dataclass(slots=True)
class _Write:
    text: str
    entities: list[MessageEntity]
    end: int  # offset in the raw draft covered once this write lands
    cut: Cut | None  # set when this write completes the current message (rollover)


def _key(text: str, entities: list[MessageEntity]) -> tuple[Any, ...]:
    return text, tuple((e.type, e.offset, e.length, e.url, e.language, e.custom_emoji_id) for e in entities)


class ReplyStreamer:
    """Writes replies into Telegram chats, paced by a :class:`FloodControl`.

    ``edit_interval`` / ``group_edit_interval``: seconds between writes of one reply in a
    private chat / a group (``chat_id < 0``). ``clock`` returns seconds and ``sleep`` waits
    seconds (injectable for tests). ``final_timeout``: seconds after the source ends during
    which the final text is retried. ``cancel_timeout``: seconds allowed to land the text after
    a cancellation. ``limit``: characters per message (Bot API: 4096).
    """

    def __init__(
        self,
        bot: telegram.Bot,
        flood: FloodControl,
        *,
        edit_interval: float = 1.0,
        group_edit_interval: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        typing_interval: float = 4.5,
        final_timeout: float = 300.0,
        cancel_timeout: float = 5.0,
        limit: int = MESSAGE_LIMIT,
    ) -> None:
        self.bot = bot
        self.flood = flood
        self.edit_interval = edit_interval
        self.group_edit_interval = group_edit_interval
        self.clock = clock
        self.sleep = sleep
        self.typing_interval = typing_interval
        self.final_timeout = final_timeout
        self.cancel_timeout = cancel_timeout
        self.limit = limit
        paced = isinstance(getattr(bot, "rate_limiter", None), FloodRateLimiter)
        self.paced: dict[str, Any] = {"rate_limit_args": {"paced": True}} if paced else {}

    async def stream(
        self,
        chat_id: int,
        chunks: AsyncIterable[str],
        *,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        on_write: OnWrite | None = None,
    ) -> StreamedReply:
        """Show ``chunks`` (text deltas) as one growing reply; return once all of it landed.

        ``on_write(text_so_far, message_ids)`` is awaited after each successful write; its
        exceptions are logged and ignored. If the source raises, the text received so far is
        landed and returned with ``.error`` set. If this task is cancelled, the text so far is
        landed once (shielded, ``cancel_timeout`` seconds at most), then CancelledError is
        re-raised. Raises a ``telegram.error.TelegramError`` that no retry can fix (e.g.
        ``Forbidden``: the user blocked the bot), after stopping the source.
        """
        run = _Run(self, chat_id, message_thread_id, reply_to_message_id, on_write)
        reader = asyncio.ensure_future(run.read(chunks))
        run.typing = asyncio.ensure_future(run.keep_typing())
        try:
            delivered = await run.write_loop()
        except asyncio.CancelledError:
            reader.cancel()
            await asyncio.wait({reader})
            run.deadline = self.clock() + self.cancel_timeout
            try:
                await asyncio.wait_for(asyncio.shield(run.write_loop()), self.cancel_timeout)
            except Exception:  # noqa: BLE001 - best effort while cancelling
                _LOGGER.warning("Could not land the reply in chat %s after cancellation", chat_id, exc_info=True)
            raise
        finally:
            run.typing.cancel()
            if not reader.done():  # a permanent Telegram error: stop reading the source
                reader.cancel()
                await asyncio.wait({reader}, timeout=self.cancel_timeout)
        return StreamedReply(run.text, run.message_ids, run.error, delivered)

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

        Split and rendered like a streamed reply, at priority FINAL, retried like a final
        write. ``reply_markup`` goes on the last message. Returns the message ids (empty for a
        whitespace-only text). Raises what :meth:`stream` raises.
        """
        run = _Run(self, chat_id, message_thread_id, reply_to_message_id, None, markdown=markdown)
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
    ) -> tuple[int, str]:
        """Upload ``photo`` (image bytes, at most 10 MB per the Bot API) with a plain caption.

        Sends an ``upload_photo`` action first; the caption is cut to 1024 characters on a word
        boundary, ending with "…". 429s are honoured and timeouts retried for up to
        ``final_timeout`` seconds. Returns (message_id, file_id of the largest size). Raises the
        last ``TelegramError`` when retries are exhausted or the error is permanent.
        """
        await _quietly(self.bot.send_chat_action(chat_id, ChatAction.UPLOAD_PHOTO, message_thread_id=message_thread_id))
        reply = ReplyParameters(reply_to_message_id, allow_sending_without_reply=True) if reply_to_message_id else None
        deadline, failures = self.clock() + self.final_timeout, 0
        while True:
            await self.flood.acquire(chat_id, Priority.FINAL)
            try:
                message = await self.bot.send_photo(
                    chat_id, photo, caption=shorten(caption, 1024) or None, parse_mode=None, filename=filename,
                    message_thread_id=message_thread_id, reply_parameters=reply, **self.paced)
                return message.message_id, message.photo[-1].file_id
            except RetryAfter as exc:
                self.flood.penalize(chat_id, retry_after_seconds(exc))
                if self.clock() > deadline:
                    raise
            except BadRequest:
                raise
            except NetworkError:
                failures += 1
                if self.clock() > deadline:
                    raise
                await self.sleep(_backoff(failures))


def _backoff(failures: int) -> float:
    """Seconds to wait after the n-th failed attempt in a row: 0.25, 0.5, 1, ... up to 10."""
    return min(0.25 * 2 ** (failures - 1), 10.0)


async def _quietly(action: Coroutine[Any, Any, Any]) -> None:
    """Run a chat action; its failures only matter to the log."""
    try:
        await action
    except telegram.error.TelegramError as exc:
        _LOGGER.debug("Chat action failed: %s", exc)


class _Run:
    """The state of one reply: the draft, what is shown, and the messages written."""

    def __init__(self, streamer: ReplyStreamer, chat_id: int, thread_id: int | None, reply_to: int | None,
                 on_write: OnWrite | None, *, markdown: bool = True) -> None:
        self.s = streamer
        self.chat_id, self.thread_id, self.reply_to, self.on_write = chat_id, thread_id, reply_to, on_write
        self.markdown, self.entities_ok = markdown, True
        self.reply_markup: telegram.InlineKeyboardMarkup | None = None
        self.interval = streamer.group_edit_interval if chat_id < 0 else streamer.edit_interval
        self.limit = streamer.limit
        self.chunks: list[str] = []
        self.size = 0  # characters received
        self._joined = ""
        self.changed, self.done = asyncio.Event(), asyncio.Event()
        self.error: BaseException | None = None
        self.message_ids: list[int] = []
        self.current: int | None = None  # the message being written, None before it is sent
        self.shown: tuple[Any, ...] | None = None  # _key of what `current` shows
        self.base, self.prefix = 0, ""  # current message's Markdown is prefix + draft[base:]
        self.covered = 0  # draft characters already written (or found to change nothing)
        self.last_write = -math.inf
        self.failures = 0
        self.deadline: float | None = None
        self.typing: asyncio.Future[None] | None = None

    @property
    def text(self) -> str:
        if len(self._joined) != self.size:
            self._joined = "".join(self.chunks)
        return self._joined

    def feed(self, chunk: str) -> None:
        if not isinstance(chunk, str):
            raise TypeError(f"a text chunk must be str, not {type(chunk).__name__}")
        if chunk:
            self.chunks.append(chunk)
            self.size += len(chunk)
            self.changed.set()

    async def read(self, chunks: AsyncIterable[str]) -> None:
        try:
            async for chunk in chunks:
                self.feed(chunk)
        except Exception as exc:  # noqa: BLE001 - reported in StreamedReply.error
            _LOGGER.info("Chunk source for chat %s ended with %r", self.chat_id, exc)
            self.error = exc
        finally:
            self.done.set()

    async def keep_typing(self) -> None:
        while not self.message_ids:
            await _quietly(self.s.bot.send_chat_action(self.chat_id, ChatAction.TYPING,
                                                       message_thread_id=self.thread_id))
            await self.s.sleep(self.s.typing_interval)

    async def until_done(self, step: Coroutine[Any, Any, Any]) -> bool:
        """Run ``step`` unless the source ends first (then cancel it); True if it completed."""
        if self.done.is_set():
            step.close()
            return False
        task = asyncio.ensure_future(step)
        ended = asyncio.ensure_future(self.done.wait())
        try:
            await asyncio.wait({task, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
        if task.cancelled():
            return False
        task.result()
        return True

    async def write_loop(self) -> bool:
        """Write until the whole draft is shown; False if the final text could not land in time."""
        flood = self.s.flood
        while True:
            if self.done.is_set():
                if self.size <= self.covered:
                    return True
                if self.deadline is None:
                    self.deadline = self.s.clock() + self.s.final_timeout
                elif self.s.clock() > self.deadline:
                    _LOGGER.error("Gave up landing the reply in chat %s", self.chat_id)
                    return False
                await flood.acquire(self.chat_id, Priority.FINAL)
            else:
                if self.size <= self.covered:
                    self.changed.clear()
                    await self.until_done(self.changed.wait())
                    continue
                first = not self.message_ids
                wait = 0.0 if first else self.last_write + self.interval - self.s.clock()
                if wait > 0:
                    await self.until_done(self.s.sleep(wait))
                    continue
                priority, reserve = (Priority.FIRST, 0) if first else (Priority.EDIT, 1)
                if not await self.until_done(flood.acquire(self.chat_id, priority, reserve=reserve)):
                    continue
            await self.write_once()

    def rendered(self, markdown: str) -> tuple[str, list[MessageEntity]]:
        if not self.markdown:
            return markdown.strip(), []
        text, entities = render(markdown)
        return (text, entities) if self.entities_ok else (text, [])

    def compose(self) -> _Write | None:
        """The write that would bring the current message up to date, or None."""
        draft = self.text
        markdown = self.prefix + draft[self.base :]
        text, entities = self.rendered(markdown)
        end, cut = len(draft), None
        if utf16_len(text) > self.limit:
            cut = cut_markdown(markdown, self.limit) if self.markdown else cut_text(markdown, self.limit)
            if cut is not None:
                text, entities = self.rendered(cut.head)
                end = max(self.base + cut.consumed - len(self.prefix), self.base + 1)
        if not text or (cut is None and _key(text, entities) == self.shown):
            self.covered = end
            return None
        return _Write(text, entities, end, cut)

    async def write_once(self) -> None:
        """Make one write with the tokens already taken; failures leave the draft pending."""
        write = self.compose()
        if write is None:
            self.s.flood.refund(self.chat_id)
            return
        final = self.done.is_set()
        started = self.s.clock()
        bot, paced = self.s.bot, self.s.paced
        try:
            if self.current is None:
                last_part = write.cut is None and final
                reply = None
                if self.reply_to and not self.message_ids:
                    reply = ReplyParameters(self.reply_to, allow_sending_without_reply=True)
                message = await bot.send_message(
                    self.chat_id, write.text, parse_mode=None, entities=write.entities or None,
                    message_thread_id=self.thread_id,
                    reply_parameters=reply, reply_markup=self.reply_markup if last_part else None, **paced)
                self.current = message.message_id
                self.message_ids.append(message.message_id)
                if self.typing is not None:
                    self.typing.cancel()
            else:
                await bot.edit_message_text(write.text, self.chat_id, self.current, parse_mode=None,
                                            entities=write.entities or None, **paced)
        except RetryAfter as exc:
            self.s.flood.penalize(self.chat_id, retry_after_seconds(exc))
            self.last_write = started
            return
        except BadRequest as exc:
            if not self.recover(exc):
                raise
            if "not modified" not in str(exc).lower():
                return
        except NetworkError as exc:  # TimedOut included; the draft stays pending
            _LOGGER.info("Write to chat %s failed: %s", self.chat_id, exc)
            self.last_write = started
            self.failures += 1
            if final:
                await self.s.sleep(_backoff(self.failures))
            return
        self.failures = 0
        self.last_write = started
        self.shown = _key(write.text, write.entities)
        self.covered = write.end
        if write.cut is not None:
            self.current, self.shown = None, None
            self.base, self.prefix = write.end, write.cut.reopen
        await self.notify()

    def recover(self, exc: BadRequest) -> bool:
        """Adjust to a BadRequest that a new attempt can fix; False if none can."""
        reason = str(exc).lower()
        if "not modified" in reason:
            return True
        if "can't parse entities" in reason or "entity" in reason:
            self.entities_ok = False
            return True
        if "message to edit not found" in reason or "message can't be edited" in reason:
            if self.current in self.message_ids:
                self.message_ids.remove(self.current)
            self.current, self.shown = None, None
            return True
        if "too long" in reason and self.limit > 1024:
            self.limit = max(self.limit - 512, 1024)
            return True
        return False

    async def notify(self) -> None:
        if self.on_write is None:
            return
        try:
            await self.on_write(self.text[: self.covered], list(self.message_ids))
        except Exception:  # noqa: BLE001 - persistence must never break the stream
            _LOGGER.exception("on_write failed for chat %s", self.chat_id)
