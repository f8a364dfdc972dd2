"""One reply being written: the *draft* (the text so far), what Telegram shows, and the writes.

:class:`Draft` is the reply streamer's per-reply state machine (see :mod:`bot.streamer` for
the rules it follows): a reader feeds it chunks, a writer loop keeps the chat's message(s) in
step with it within the flood budget, and the final write is retried until it lands.

Work per write does not grow with the reply: messages already rolled over are frozen
(:class:`bot.draft_text.DraftText`), and a write renders only the current message's Markdown,
at most :data:`WINDOW_LIMITS` message limits of it (the text beyond waits for the next
messages): once for an edit, a few times (2 log2(window) at worst) when the message fills up
and rolls over. Feeding a chunk is O(1).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import telegram
from telegram import MessageEntity, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    ChatMigrated,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.draft_text import DraftText
from bot.flood import Priority
from bot.flood_limiter import retry_after_seconds
from bot.formatting import Cut, cut_markdown, cut_text, render, utf16_len
from bot.racing import race
from bot.thinking import Thinking
from providers import Reasoning

if TYPE_CHECKING:
    from bot.streamer import ReplyStreamer

_LOGGER = logging.getLogger("bot.streamer")

OnWrite = Callable[[str, list[int]], Awaitable[None]]

#: How much of the draft one write renders: this many times the message limit in characters of
#: Markdown (a message's rendered text is at most its limit; raw Markdown is longer by its markup).
WINDOW_LIMITS = 4


@dataclass(slots=True)
class _Write:
    text: str
    entities: list[MessageEntity]
    end: int  # draft characters covered once this write lands
    cut: Cut | None  # set when this write completes the current message (rollover)


def _key(text: str, entities: list[MessageEntity]) -> tuple[Any, ...]:
    return text, tuple(
        (e.type, e.offset, e.length, e.url, e.language, e.custom_emoji_id) for e in entities
    )


def maybe_delivered(exc: NetworkError) -> bool:
    """Whether a request that failed with ``exc`` may have been carried out by the Bot API: the
    request went out and the answer was lost (PTB wraps httpx's error as ``__cause__``: a read
    timeout, or the connection dropped while waiting). A connect or pool timeout, a refused
    connection or an HTTP error answer (502, ...) mean it was not carried out."""
    lost = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)
    return isinstance(exc.__cause__, lost)


def backoff(failures: int) -> float:
    """Seconds to wait after the n-th failed attempt in a row: 0.25, 0.5, 1, ... up to 10."""
    return min(0.25 * 2 ** (failures - 1), 10.0)


class Draft:
    """One reply: the draft, what is shown, and the messages written."""

    def __init__(self, streamer: ReplyStreamer, chat_id: int, thread_id: int | None,
                 reply_to: int | None, on_write: OnWrite | None, *, markdown: bool = True,
                 show_reasoning: bool = False) -> None:
        self.s = streamer
        self.chat_id, self.thread_id, self.reply_to = chat_id, thread_id, reply_to
        self.on_write = on_write
        self.markdown, self.entities_ok = markdown, True
        self.reply_markup: telegram.InlineKeyboardMarkup | None = None
        self.interval = streamer.group_edit_interval if chat_id < 0 else streamer.edit_interval
        self.limit = streamer.limit
        self.draft = DraftText()  # base: where the current message starts
        self.window = WINDOW_LIMITS * streamer.limit  # characters of Markdown one write renders
        self.changed, self.done, self.visible = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self.error: BaseException | None = None
        self.message_ids: list[int] = []
        self.current: int | None = None  # the message being written; None until it is sent
        self.shown: tuple[Any, ...] | None = None  # _key of what `current` shows
        self.prefix = ""  # the current message's Markdown is prefix + draft[base:]
        self.covered = 0  # draft characters written (or found to change nothing on screen)
        self.last_write = -math.inf
        self.failures = 0
        self.unsure = False  # a sendMessage of this reply may have been shown with an unknown id
        self.deadline: float | None = None
        self.stopped = False  # stop_reading() ended the source
        self.thinking = Thinking(streamer.clock(), show_reasoning)  # the Reasoning chunks

    @property
    def text(self) -> str:
        """The whole draft (O(size))."""
        return self.draft.whole

    @property
    def size(self) -> int:
        """Characters received."""
        return self.draft.size

    def feed(self, chunk: str | Reasoning) -> None:
        if isinstance(chunk, str):
            if chunk:
                self.draft.append(chunk)
                self.changed.set()
        elif isinstance(chunk, Reasoning):
            if chunk.text:
                self.thinking.add(chunk.text)
                self.changed.set()
        else:
            raise TypeError(f"a chunk must be str or Reasoning, not {type(chunk).__name__}")

    def thinks(self) -> bool:
        """Only reasoning has come so far: the reply shows the Thinking line."""
        return self.size == 0 and self.thinking.began

    def pending(self) -> bool:
        """Whether what the chat shows lags behind the draft (or the Thinking line's seconds)."""
        if self.size > self.covered:
            return True
        return self.thinks() and self.status_write() is not None

    def stop_reading(self, reader: asyncio.Future[None]) -> None:
        """End the reply where it is (``/stop``): the reader's wait for a chunk is cancelled."""
        if not reader.done() and not self.done.is_set():
            self.stopped = True
            reader.cancel()

    async def read(self, chunks: AsyncIterable[str | Reasoning]) -> None:
        try:
            async for chunk in chunks:
                self.feed(chunk)
                # A source with chunks buffered (a fast provider) yields them without ever
                # suspending: let other chats' work run between two chunks.
                await asyncio.sleep(0)
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
            await race(self.s.sleep(self.s.typing_delay), self.visible)
        while not self.visible.is_set():
            try:
                await self.s.bot.send_chat_action(self.chat_id, ChatAction.TYPING,
                                                  message_thread_id=self.thread_id)
            except TelegramError as exc:
                _LOGGER.debug("Chat action failed in chat %s: %s", self.chat_id, exc)
            await race(self.s.sleep(self.s.typing_interval), self.visible)

    async def write_loop(self) -> bool:
        """Write until the whole draft is shown; False if the final text could not land in time."""
        flood = self.s.flood
        while True:
            if self.done.is_set():
                if not self.pending():
                    return True
                if self.deadline is None:
                    self.deadline = self.s.clock() + self.s.final_timeout
                elif self.s.clock() > self.deadline:
                    _LOGGER.error("Gave up landing the reply in chat %s", self.chat_id)
                    return False
                await flood.acquire(self.chat_id, Priority.FINAL)
            elif not self.pending():
                if self.thinks():  # its seconds go on: look again at the next whole second
                    now = self.s.clock()
                    tick = self.thinking.started + self.thinking.seconds(now) + 1 - now
                    await race(self.s.sleep(max(tick, 0.05)), self.done)
                    continue
                self.changed.clear()
                await race(self.changed.wait(), self.done)
                continue
            elif self.unsure and self.current is None:
                await self.done.wait()  # no new message until the final text: see write_once
                continue
            else:
                first = not self.message_ids
                wait = 0.0 if first else self.last_write + self.interval - self.s.clock()
                if wait > 0:
                    await race(self.s.sleep(wait), self.done)
                    continue
                priority, reserve = Priority.FIRST, 0
                if not first:
                    priority, reserve = Priority.EDIT, self.s.edit_reserve
                acquiring = flood.acquire(self.chat_id, priority, reserve=reserve)
                if not await race(acquiring, self.done):
                    continue  # the source ended meanwhile: acquire again at FINAL priority
            await self.write_once()

    def rendered(self, markdown: str) -> tuple[str, list[MessageEntity]]:
        if not self.markdown:
            return markdown.strip(), []
        text, entities = render(markdown)
        return (text, entities) if self.entities_ok else (text, [])

    def status_write(self) -> _Write | None:
        """The Thinking line (the reasoning above it in a final write, when shown) if it is
        not what the message shows already, else None."""
        final = self.done.is_set()
        text, entities = self.thinking.status(self.s.clock(), final), list[MessageEntity]()
        if final and self.entities_ok:
            text, entities = self.thinking.above(text, entities, self.limit, self.s.clock())
        if _key(text, entities) == self.shown:
            return None
        return _Write(text, entities, 0, None)

    def compose(self) -> _Write | None:
        """The write that brings the current message up to date with the draft, or None.

        Renders the current message's Markdown (``prefix + draft[base:]``, at most ``window``
        characters of the draft) once. When that is over the limit, or the draft goes on beyond
        the window, the message is completed with its first part instead (a rollover: the cut
        measures a few renders' text, then the part is rendered once).
        """
        if self.thinks():
            return self.status_write()
        base, window = self.draft.base, self.draft.peek(self.window)
        more = base + len(window) < self.size
        markdown = self.prefix + window
        cutter = cut_markdown if self.markdown else cut_text
        end, cut = base + len(window), None
        text, entities = "", list[MessageEntity]()
        limit, first = self.limit, base == 0 and self.thinking.began
        if first:  # the first message keeps room for the reasoning block
            if self.thinking.ended is None:
                self.thinking.ended = self.s.clock()  # the answer began: thinking is over
            limit = max(limit - self.thinking.reserve(), limit // 2)
        if more:  # the message cannot show all that is pending: complete it
            cut = cutter(markdown, limit, whole=False)
        else:
            text, entities = self.rendered(markdown)
            if utf16_len(text) > limit:
                cut = cutter(markdown, limit)
        if cut is not None:
            text, entities = self.rendered(cut.head)
            end = max(base + cut.consumed - len(self.prefix), base + 1)
        if first and text and self.entities_ok and (cut is not None or self.done.is_set()):
            # the first message is complete: the reasoning goes above its answer
            text, entities = self.thinking.above(text, entities, self.limit, self.s.clock())
        if not text and cut is not None and self.current is None:
            self.roll(end, cut)  # a blank part: nothing to show, go on after it
            return None
        if not text or (cut is None and _key(text, entities) == self.shown):
            self.covered = end
            return None
        return _Write(text, entities, end, cut)

    def roll(self, end: int, cut: Cut) -> None:
        """Freeze the draft up to ``end``: the next message starts there with ``cut.reopen``."""
        self.draft.freeze(end)
        self.current, self.shown = None, None
        self.prefix, self.covered = cut.reopen, end

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
        except ChatMigrated as exc:  # the group became a supergroup: the reply goes on there
            _LOGGER.info("Chat %s became %s", self.chat_id, exc.new_chat_id)
            self.chat_id, self.current, self.shown = exc.new_chat_id, None, None
            return
        except BadRequest as exc:
            if not self.recover(exc):
                raise
            if "not modified" not in str(exc).lower():
                return
        except NetworkError as exc:  # TimedOut included
            _LOGGER.info("Write to chat %s failed: %s", self.chat_id, exc)
            if self.current is None and maybe_delivered(exc):
                # Its answer did not come within send_timeout: the message may be shown, but
                # with an id we cannot learn (the Bot API cannot look a message up). No more
                # new messages until the final text, which is sent once more (never lost);
                # if that one's answer is lost too, it counts as delivered (never a third copy).
                _LOGGER.warning("sendMessage to chat %s may have been delivered: %s",
                                self.chat_id, exc)
                if final and self.unsure:
                    self.covered = write.end
                    if write.cut is not None:
                        self.roll(write.end, write.cut)
                    return
                self.unsure = True
            self.failures += 1
            if final:
                await self.s.sleep(backoff(self.failures))
            return
        self.failures = 0
        self.unsure = self.unsure and not final
        self.shown, self.covered = _key(write.text, write.entities), write.end
        if write.cut is not None:
            self.roll(write.end, write.cut)
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
        message = await bot.send_message(
            self.chat_id, write.text, parse_mode=None, entities=entities,
            message_thread_id=self.thread_id, reply_parameters=reply, reply_markup=markup,
            read_timeout=self.s.send_timeout, **self.s.paced)
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
