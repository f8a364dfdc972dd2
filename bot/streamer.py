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
* Text is sent as :func:`bot.formatting.render` gives it (text + entities, no parse_mode). When
  it outgrows 4096 characters, the current message gets its complete part
  (:func:`bot.formatting.cut_markdown`) and a new message continues with the rest.

Writes take their tokens from :class:`bot.flood.FloodControl` and so bypass a
:class:`bot.flood.FloodRateLimiter` on the bot (``rate_limit_args={"paced": True}``). Known
limit: a sendMessage that timed out may have been delivered anyway; its retry then shows the
text twice (better than losing it).
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
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from bot.flood import FloodControl, FloodRateLimiter, Priority, retry_after_seconds
from bot.formatting import (
    MESSAGE_LIMIT,
    Cut,
    cut_markdown,
    cut_text,
    render,
    shorten,
    utf16_len,
)

__all__ = ["ReplyStreamer", "StreamedReply"]

_LOGGER = logging.getLogger(__name__)
OnWrite = Callable[[str, list[int]], Awaitable[None]]


@dataclass
class StreamedReply:
    """What :meth:`ReplyStreamer.stream` delivered."""

    text: str  # the complete raw (Markdown) text received and delivered, stripped as Telegram does
    message_ids: list[int]  # Telegram message ids of the reply, in order
    error: BaseException | None = None  # what ended the chunk source early (the text so far was delivered)
    delivered: bool = True  # False only if the final text could not land within final_timeout


@dataclass(slots=True)
class _Write:
    text: str
    entities: list[MessageEntity]
    end: int  # draft characters covered once this write lands
    cut: Cut | None  # set when this write completes the current message (rollover)


def _key(text: str, entities: list[MessageEntity]) -> tuple[Any, ...]:
    return text, tuple((e.type, e.offset, e.length, e.url, e.language, e.custom_emoji_id) for e in entities)


def _backoff(failures: int) -> float:
    """Seconds to wait after the n-th failed attempt in a row: 0.25, 0.5, 1, ... up to 10."""
    return min(0.25 * 2 ** (failures - 1), 10.0)


async def _race(step: Coroutine[Any, Any, Any], event: asyncio.Event) -> bool:
    """Run ``step`` unless ``event`` is set first (then cancel it); True if ``step`` completed."""
    if event.is_set():
        step.close()
        return False
    task, waiter = asyncio.ensure_future(step), asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    if task.cancelled():
        return False
    task.result()
    return True


class ReplyStreamer:
    """Writes replies into Telegram chats, paced by a :class:`FloodControl`.

    ``edit_interval`` / ``group_edit_interval``: seconds between writes of one reply in a private
    chat / a group (``chat_id < 0``). ``clock`` returns seconds, ``sleep`` waits seconds (both
    injectable). ``typing_delay``: seconds to wait for the first text before the first typing action
(a reply whose text comes at once needs none, and a request is saved); ``typing_interval``:
seconds between typing actions. ``final_timeout``: seconds
    after the source ends during which the final text is retried. ``cancel_timeout``: seconds
    allowed to land the text after a cancellation. ``limit``: characters per message (4096).
    ``edit_reserve``: chat tokens an intermediate edit must leave (one for this reply's final
    write, one for the next reply's first text; see :mod:`bot.flood`).
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
        typing_delay: float = 0.2,
        typing_interval: float = 4.5,
        final_timeout: float = 300.0,
        cancel_timeout: float = 5.0,
        limit: int = MESSAGE_LIMIT,
        edit_reserve: int = 2,
    ) -> None:
        self.bot, self.flood = bot, flood
        self.edit_reserve = edit_reserve
        self.edit_interval, self.group_edit_interval = edit_interval, group_edit_interval
        self.clock, self.sleep = clock, sleep
        self.typing_delay, self.typing_interval = typing_delay, typing_interval
        self.final_timeout, self.cancel_timeout = final_timeout, cancel_timeout
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
        stop: asyncio.Event | None = None,
    ) -> StreamedReply:
        """Show ``chunks`` (text deltas, Markdown) as one growing reply; return once all of it landed.

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
        run = _Run(self, chat_id, message_thread_id, reply_to_message_id, on_write)
        reader = asyncio.ensure_future(run.read(chunks))
        typing = asyncio.ensure_future(run.keep_typing())
        stopper = None if stop is None else asyncio.ensure_future(stop.wait())
        if stopper is not None:
            stopper.add_done_callback(lambda waited: waited.cancelled() or run.stop_reading(reader))
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
        """Upload ``photo`` (image bytes; the Bot API takes up to 10 MB) with a plain-text caption.

        An ``upload_photo`` action goes first; the caption is cut to 1024 characters on a word
        boundary, ending with "…". 429s are honoured and network errors retried for up to
        ``final_timeout`` seconds. Returns (message_id, file_id of the largest size). Raises the
        ``TelegramError`` when it is permanent (e.g. ``BadRequest``) or time is up.
        """
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
            except NetworkError:
                failures += 1
                if self.clock() > deadline:
                    raise
                await self.sleep(_backoff(failures))


class _Run:
    """One reply: the draft, what is shown, and the messages written."""

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
        self.changed, self.done, self.visible = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self.error: BaseException | None = None
        self.message_ids: list[int] = []
        self.current: int | None = None  # the message being written; None until it is sent
        self.shown: tuple[Any, ...] | None = None  # _key of what `current` shows
        self.base, self.prefix = 0, ""  # the current message's Markdown is prefix + draft[base:]
        self.covered = 0  # draft characters written (or found to change nothing on screen)
        self.last_write = -math.inf
        self.failures = 0
        self.deadline: float | None = None
        self.stopped = False  # stop_reading() ended the source

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

    def stop_reading(self, reader: asyncio.Future[None]) -> None:
        """End the reply where it is (``/stop``): the reader's wait for a chunk is cancelled."""
        if not reader.done() and not self.done.is_set():
            self.stopped = True
            reader.cancel()

    async def read(self, chunks: AsyncIterable[str]) -> None:
        try:
            async for chunk in chunks:
                self.feed(chunk)
        except asyncio.CancelledError:
            if not self.stopped:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # a stop, not a cancellation of the reply: land the text so far
        except Exception as exc:  # noqa: BLE001 - reported in StreamedReply.error
            _LOGGER.info("Chunk source for chat %s ended with %r", self.chat_id, exc)
            self.error = exc
        finally:
            self.done.set()

    async def keep_typing(self) -> None:
        if self.s.typing_delay:
            await _race(self.s.sleep(self.s.typing_delay), self.visible)
        while not self.visible.is_set():
            try:
                await self.s.bot.send_chat_action(self.chat_id, ChatAction.TYPING,
                                                  message_thread_id=self.thread_id)
            except TelegramError as exc:
                _LOGGER.debug("Chat action failed in chat %s: %s", self.chat_id, exc)
            await _race(self.s.sleep(self.s.typing_interval), self.visible)

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
            elif self.size <= self.covered:
                self.changed.clear()
                await _race(self.changed.wait(), self.done)
                continue
            else:
                first = not self.message_ids
                wait = 0.0 if first else self.last_write + self.interval - self.s.clock()
                if wait > 0:
                    await _race(self.s.sleep(wait), self.done)
                    continue
                priority, reserve = (Priority.FIRST, 0) if first else (Priority.EDIT, self.s.edit_reserve)
                if not await _race(flood.acquire(self.chat_id, priority, reserve=reserve), self.done):
                    continue  # the source ended meanwhile: acquire again at FINAL priority
            await self.write_once()

    def rendered(self, markdown: str) -> tuple[str, list[MessageEntity]]:
        if not self.markdown:
            return markdown.strip(), []
        text, entities = render(markdown)
        return (text, entities) if self.entities_ok else (text, [])

    def compose(self) -> _Write | None:
        """The write that brings the current message up to date with the draft, or None."""
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
        """Make one write with the tokens already taken; a failure leaves the draft pending."""
        write = self.compose()
        if write is None:
            self.s.flood.refund(self.chat_id)
            return
        final, started = self.done.is_set(), self.s.clock()
        self.last_write = started
        try:
            await self.send(write, final)
        except RetryAfter as exc:
            self.s.flood.penalize(self.chat_id, retry_after_seconds(exc))
            return
        except BadRequest as exc:
            if not self.recover(exc):
                raise
            if "not modified" not in str(exc).lower():
                return
        except NetworkError as exc:  # TimedOut included
            _LOGGER.info("Write to chat %s failed: %s", self.chat_id, exc)
            self.failures += 1
            if final:
                await self.s.sleep(_backoff(self.failures))
            return
        self.failures = 0
        self.shown, self.covered = _key(write.text, write.entities), write.end
        if write.cut is not None:
            self.current, self.shown = None, None
            self.base, self.prefix = write.end, write.cut.reopen
        if self.on_write is not None:
            try:
                await self.on_write(self.text[: self.covered].strip(), list(self.message_ids))
            except Exception:  # persistence must never break the stream
                _LOGGER.exception("on_write failed for chat %s", self.chat_id)

    async def send(self, write: _Write, final: bool) -> None:
        bot, entities = self.s.bot, write.entities or None
        if self.current is not None:
            await bot.edit_message_text(write.text, self.chat_id, self.current, parse_mode=None,
                                        entities=entities, **self.s.paced)
            return
        reply = None
        if self.reply_to and not self.message_ids:
            reply = ReplyParameters(self.reply_to, allow_sending_without_reply=True)
        markup = self.reply_markup if final and write.cut is None else None
        message = await bot.send_message(self.chat_id, write.text, parse_mode=None, entities=entities,
                                          message_thread_id=self.thread_id, reply_parameters=reply,
                                          reply_markup=markup, **self.s.paced)
        self.current = message.message_id
        self.message_ids.append(message.message_id)
        self.visible.set()

    def recover(self, exc: BadRequest) -> bool:
        """Adapt to a BadRequest that another attempt can fix; False if none can."""
        reason = str(exc).lower()
        if "not modified" in reason:
            return True
        if ("can't parse entities" in reason or "entity" in reason) and self.entities_ok:
            self.entities_ok = False  # from now on the rendered text goes out without entities
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
