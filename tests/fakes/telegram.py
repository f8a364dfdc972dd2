"""A fake Telegram Bot API server for tests: a real aiohttp server on 127.0.0.1.

It speaks the Bot API's HTTP wire format (``/bot<token>/<method>`` and ``/file/bot<token>/<path>``;
GET or POST; query string, urlencoded, JSON or multipart bodies) so that python-telegram-bot's real
``Bot`` works against it unchanged (``base_url=fake.base_url, base_file_url=fake.base_file_url``).

What it models (sources: ``/work/shared/docs/telegram-api.md`` sections 2 and 3, i.e. the Bot API
pages, the official server's ``Client.cpp``/``Query.cpp`` and TDLib's ``MessageEntity.cpp``):

* the envelope ``{"ok": ..., "result"|"error_code"+"description"+"parameters"}`` with the HTTP
  status equal to ``error_code`` (PTB maps exceptions by the HTTP status, not by ``error_code``);
* the real server's error descriptions (the ``ERR_*`` constants);
* ``parse_mode`` parsing (MarkdownV2, HTML, legacy Markdown) into plain text + entities, entity
  offsets in UTF-16 code units, length limits counted in code points after parsing, and the
  trimming of leading/trailing whitespace Telegram applies to every text;
* long polling (``getUpdates``) with a 409 when a second poll overlaps a running one, or while
  a webhook is set;
* webhook delivery (``setWebhook``): each update POSTed to the URL with the secret header, at
  most ``max_connections`` at once, sent again until answered 2xx (``webhook_delivery.py``);
  only to a loopback URL (another one is recorded, and nothing is sent);
* flood control as token buckets (per private chat, per group, per bot): a write that finds a
  bucket empty gets HTTP 429 with ``parameters.retry_after`` and a ``Retry-After`` header.

Methods (names case-insensitive): getMe, getUpdates, setWebhook, deleteWebhook, getWebhookInfo,
setMyCommands, getMyCommands, deleteMyCommands, sendMessage, editMessageText, editMessageCaption,
editMessageReplyMarkup, deleteMessage, sendPhoto, sendDocument, sendChatAction,
answerCallbackQuery, sendMessageDraft, getFile, getChatMember; others: 404 ``Not Found: method not found``.

An edit without ``reply_markup`` removes the inline keyboard, as Telegram does (undocumented;
observed in TelegramBots/Telegram.Bot#402, mirrored by LasterAlex/teloxide_tests#31).
Choices where Telegram is silent or unknown: every group message reaches the bot (privacy mode
off); a failed write consumes no flood-control token; sendMessageDraft counts as a write; URLs
given to sendPhoto are fetched only on loopback (others are recorded, with no bytes).

Tests drive the user's side with :meth:`FakeTelegram.send_message` and
:meth:`FakeTelegram.press_button` (each queues one update) and read what the user sees with
:meth:`FakeTelegram.messages`.
``python -m tests.fakes.telegram`` serves one by hand and prints its base URL; there,
``POST /_fake/send_message?chat_id=N&text=...`` and ``GET /_fake/messages?chat_id=N`` let a
person play the user.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import re
import socket
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from tests.fakes.telegram_text import (  # noqa: F401 - ENTITY_TYPES, ERR_PARSE_MODE: re-exported
    ENTITY_TYPES,
    ERR_PARSE_MODE,
    ApiError,
    EntityError,
    _bad,
    check_entities,
    parse_text,
    utf16_len,
)
from tests.fakes.webhook_delivery import WebhookDelivery

__all__ = ["DEFAULT_TOKEN", "Call", "FakeMessage", "FakeTelegram", "check_entities", "parse_text"]

DEFAULT_TOKEN = "123456:TEST-token-not-secret-0123456789abcdef"

# Exact error descriptions (telegram-api.md 3.4). "PHOTO_SAVE_FILE_INVALID" is the server's error
# for a photo over 10 MB (seen e.g. in zhukov/webogram#1011).
ERR_TEXT_EMPTY = "Bad Request: message text is empty"
ERR_TOO_LONG = "Bad Request: message is too long"
ERR_CAPTION_TOO_LONG = "Bad Request: message caption is too long"
ERR_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
ERR_EDIT_NOT_FOUND = "Bad Request: message to edit not found"
ERR_DELETE_NOT_FOUND = "Bad Request: message to delete not found"
ERR_REPLY_NOT_FOUND = "Bad Request: message to be replied not found"
ERR_CANT_EDIT = "Bad Request: message can't be edited"
ERR_NO_TEXT_TO_EDIT = "Bad Request: there is no text in the message to edit"
ERR_CHAT_NOT_FOUND = "Bad Request: chat not found"
ERR_PARSE = "Bad Request: can't parse entities: "
ERR_PHOTO_TOO_BIG = "Bad Request: PHOTO_SAVE_FILE_INVALID"
ERR_WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"
ERR_URL_CONTENT = "Bad Request: failed to get HTTP URL content"
ERR_INVALID_FILE_ID = "Bad Request: invalid file_id"
ERR_OLD_QUERY = "Bad Request: query is too old and response timeout expired or query ID is invalid"
ERR_ACTION = "Bad Request: wrong parameter action in request"
ERR_BLOCKED = "Forbidden: bot was blocked by the user"
ERR_USER_NOT_FOUND = "Bad Request: user not found"
ERR_CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
ERR_CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
ERR_DRAFT_CHAT = (
    "Bad Request: TEXTDRAFT_PEER_INVALID"  # not documented: drafts are private-chat only
)
ERR_DRAFT_ID = 'Bad Request: parameter "draft_id" must be non-zero'  # not documented

TEXT_LIMIT = 4096  # characters (code points) after entities parsing (sendMessage doc)
CAPTION_LIMIT = 1024  # characters after entities parsing (sendPhoto doc)
PHOTO_UPLOAD_LIMIT = 10 * 1024 * 1024  # bytes (sendPhoto doc: "at most 10 MB")
PHOTO_URL_LIMIT = 5 * 1024 * 1024  # bytes (Bot API "Sending files": 5 MB for photos by URL)

# fmt: off
WRITES = frozenset({
    "sendMessage", "editMessageText", "editMessageCaption", "editMessageReplyMarkup", "sendPhoto",
    "sendDocument", "sendMessageDraft", "sendVoice"
})
CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note",
    "upload_video_note"
})

_INT_FIELDS = frozenset({
    "chat_id", "message_id", "offset", "limit", "timeout", "message_thread_id",
    "reply_to_message_id", "draft_id", "user_id", "cache_time", "max_connections"
})
_JSON_FIELDS = frozenset({
    "reply_markup", "entities", "caption_entities", "allowed_updates", "commands", "scope",
    "reply_parameters", "link_preview_options"
})
_BOOL_FIELDS = frozenset({
    "disable_notification", "protect_content", "show_alert", "drop_pending_updates",
    "allow_sending_without_reply", "has_spoiler", "show_caption_above_media",
    "disable_web_page_preview"
})
_BUTTON_ACTIONS = frozenset({
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay"
})
# fmt: on


class _ChatMigrated(ApiError):
    """A call to a group that became a supergroup (``parameters.migrate_to_chat_id``)."""

    def __init__(self, migrate_to_chat_id: int) -> None:
        super().__init__(400, "Bad Request: group chat was upgraded to a supergroup chat")
        self.migrate_to_chat_id = migrate_to_chat_id


class _ClientGone(Exception):
    """The client closed the connection of a waiting long poll."""


# --------------------------------------------------------------------------------------------------
# State: calls, messages, flood-control buckets.
# --------------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One Bot API request as the fake answered it."""

    method: str  # canonical camelCase name, e.g. "editMessageText"
    params: dict  # decoded parameters (JSON-string fields decoded to objects; uploads as bytes)
    time: float  # server clock (``clock``, time.monotonic by default) at receipt, seconds
    chat_id: int | None
    status: int  # HTTP status answered
    description: str | None  # error description when not ok
    retry_after: int | None  # seconds, for 429 answers


@dataclass
class FakeMessage:
    """A message as the user sees it (bot's or user's)."""

    message_id: int
    chat_id: int
    from_bot: bool
    text: str | None  # plain text as displayed (after parse_mode/entities parsing)
    entities: list[dict]  # Telegram MessageEntity dicts (UTF-16 offsets)
    caption: str | None
    photo: bytes | None  # uploaded bytes for bot photos
    photo_file_id: str | None
    reply_markup: dict | None
    message_thread_id: int | None
    reply_to_message_id: int | None
    edits: int  # successful edits
    sent_at: float  # server clock of creation, seconds
    edited_at: float | None  # server clock of the last edit, seconds
    kind: str  # "text" | "photo" | "sticker" | "voice" | "document"
    caption_entities: list[dict] = field(default_factory=list)
    photo_url: str | None = None  # a bot photo sent by URL
    file_id: str | None = None  # the sticker/voice/document file of a user message
    user_id: int | None = None  # the sender of a user message
    date: int = 0  # Unix seconds
    edit_date: int | None = None  # Unix seconds of the last edit


class TokenBucket:
    """A token bucket: ``capacity`` tokens, refilled at ``rate`` tokens per second of ``clock``."""

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity, self.rate, self.tokens, self.updated = capacity, rate, float(capacity), now

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0 when one is)."""
        self.refill(now)
        return 0.0 if self.tokens >= 1 - 1e-9 else (1 - self.tokens) / self.rate  # 1e-9: float sums


def _image_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG or JPEG; (512, 512) when the format is not recognised."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker, size = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return width, height
            i += 2 + size
    return 512, 512


def tiny_png(width: int = 1, height: int = 1) -> bytes:
    """A valid grey PNG of ``width`` x ``height`` pixels (the default bytes of a user's photo)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _coerce(name: str, value: Any) -> Any:
    """Decode one form/query field as the Bot API reads it (PTB sends objects as JSON strings)."""
    if not isinstance(value, str):
        return value
    if name in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            what = "entities" if "entities" in name else name.replace("_", " ")
            raise _bad(f"Bad Request: can't parse {what} JSON object") from None
    if name in _INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                return value  # e.g. chat_id "@channelusername"
            return int(number) if number.is_integer() else number
    if name in _BOOL_FIELDS:
        return value.lower() in ("true", "1")
    return value


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_EVERY_THREAD: Any = object()


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class FakeTelegram:
    """A fake Bot API server on 127.0.0.1 (random free port unless ``port`` is given).

    Flood control (token buckets, one token per write): per private chat (``chat_id > 0``)
    ``private_burst`` tokens refilled at ``private_rate`` tokens/s; per group (``chat_id < 0``)
    ``group_burst`` at ``group_rate``; per bot (all chats) ``bot_burst`` at ``bot_rate``. A write
    (:data:`WRITES`) takes one token from its chat's bucket and one from the bot's; if either is
    empty the answer is HTTP 429 ``Too Many Requests: retry after N`` with
    ``parameters.retry_after = N`` and a ``Retry-After: N`` header,
    ``N = ceil(seconds until a token) >= 1``, and nothing is consumed. A write that fails for
    another reason consumes nothing either. ``flood=False`` turns it off. ``clock`` (seconds,
    ``time.monotonic`` by default) drives the buckets and ``Call.time``.

    Use as ``async with FakeTelegram() as tg:`` or with :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        flood: bool = True,
        private_rate: float = 1.0,
        private_burst: float = 3,
        group_rate: float = 20 / 60,
        group_burst: float = 5,
        bot_rate: float = 30.0,
        bot_burst: float = 30,
        clock: Callable[[], float] = time.monotonic,
        port: int = 0,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.flood = flood
        self.private_rate, self.private_burst = private_rate, private_burst
        self.group_rate, self.group_burst = group_rate, group_burst
        self.bot_rate, self.bot_burst = bot_rate, bot_burst
        self.clock = clock
        self.port = port
        self.base_url = ""
        self.base_file_url = ""
        self.calls: list[Call] = []
        # each accepted sendMessageDraft: chat_id, draft_id, text, entities, message_thread_id, time
        self.drafts: list[dict] = []
        # exceptions raised by the fake's own code (each answered with HTTP 500)
        self.internal_errors: list[Exception] = []
        self._runner: web.AppRunner | None = None
        self._stopping = False
        self._chats: dict[int, dict] = {}
        self._users: dict[int, dict] = {}
        self._last_user: dict[int, int] = {}
        self._messages: dict[int, dict[int, FakeMessage]] = {}
        self._next_message_id: dict[int, int] = {}
        self._blocked: set[int] = set()
        self._migrated: dict[int, int] = {}  # group id -> the supergroup it became
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._allowed_updates: set[str] | None = None
        self._poll_generation = 0
        self._polls_waiting = 0
        self._webhook_url = ""
        # webhook delivery (setWebhook): seconds an answer may take, seconds before a retry
        self.webhook_timeout = 10.0
        self.webhook_retry_delay = 0.5
        self.webhook: WebhookDelivery | None = None  # its .deliveries: every POST made
        self._wakeup = asyncio.Event()
        self._waiters: set[asyncio.Future[None]] = set()  # wait_for() callers
        self._files: dict[str, dict] = {}
        self._file_paths: dict[str, str] = {}
        self._file_numbers = itertools.count(1)
        self._callback_queries: dict[str, dict] = {}
        self._callback_ids = itertools.count(1)
        self._failures: dict[str, list[ApiError]] = {}
        self._delays: dict[str, float] = {}
        self._late_answers: dict[str, list[float]] = {}  # see answer_late()
        self._chat_buckets: dict[int, TokenBucket] = {}
        self._bot_bucket: TokenBucket | None = None
        self._commands: dict[str, list] = {}
        self._member_statuses: dict[tuple[int, int], str] = {}  # see set_member_status
        self._methods = {
            name[3:].lower(): (name[3:], getattr(self, name))
            for name in dir(self)
            if name.startswith("_m_")
        }

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind 127.0.0.1 and serve; sets :attr:`base_url` and :attr:`base_file_url`."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_post("/_fake/send_message", self._handle_user_message)
        app.router.add_get("/_fake/messages", self._handle_user_view)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.25)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", self.port))
        await web.SockSite(self._runner, sock).start()
        port = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        self.base_file_url = f"http://127.0.0.1:{port}/file/bot"
        self._stopping = False

    async def stop(self) -> None:
        """End pending long polls (they answer ``[]``), webhook delivery, and close the server."""
        self._stopping = True
        self._notify()
        if self.webhook is not None:
            await self.webhook.stop()  # kept: its deliveries can be read after the fake stops
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---- the user's side ---------------------------------------------------------------------

    def add_chat(
        self,
        chat_id: int,
        *,
        chat_type: str = "private",
        title: str | None = None,
        is_forum: bool = False,
        username: str = "alice",
        first_name: str = "Alice",
    ) -> dict:
        """Make a chat known (the bot may then write to it) without queuing an update.

        ``chat_type`` is ``private`` (``chat_id > 0``), ``group`` or ``supergroup``
        (``chat_id < 0``); raises ValueError otherwise. Returns the Chat dict.
        """
        if chat_type == "private":
            if chat_id <= 0:
                raise ValueError(f"a private chat needs a positive id, got {chat_id}")
            chat = {
                "id": chat_id,
                "type": "private",
                "first_name": first_name,
                "username": username,
            }
        elif chat_type in ("group", "supergroup"):
            if chat_id >= 0:
                raise ValueError(f"a {chat_type} needs a negative id, got {chat_id}")
            chat = {"id": chat_id, "type": chat_type, "title": title or f"Test group {chat_id}"}
            if is_forum:
                chat["is_forum"] = True
        else:
            raise ValueError(f"unknown chat_type {chat_type!r}")
        self._chats[chat_id] = chat
        self._messages.setdefault(chat_id, {})
        return chat

    def send_message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        title: str | None = None,
        message_thread_id: int | None = None,
        is_forum: bool = False,
        reply_to_message_id: int | None = None,
        entities: list[dict] | None = None,
        sticker: bool = False,
        voice: bool | bytes = False,
        document: bool | bytes = False,
        photo: bool | bytes = False,
        caption: str | None = None,
        username: str = "alice",
        first_name: str = "Alice",
        language_code: str | None = None,
    ) -> dict:
        """The user sends a message: store it and queue a ``message`` update; returns the update.

        ``language_code`` is the user's Telegram language (an IETF tag such as ``ru`` or
        ``pt-br``), sent in ``from`` as Telegram does; None leaves it out (Telegram omits it
        when unknown). The user's later updates (button presses) carry it too.

        ``user_id`` defaults to ``chat_id`` in private chats and is required in groups (ValueError).
        A text starting with ``/`` gets a ``bot_command`` entity (as Telegram adds). ``photo``,
        ``voice`` and ``document`` may be bytes (else small stand-in bytes are used); the bot can
        fetch them with getFile; with media, ``text`` serves as the caption if ``caption`` is
        None, and ``entities`` apply to the caption. ``reply_to_message`` is included when the
        target exists. Raises ValueError for inconsistent arguments or invalid ``entities``.
        """
        if user_id is None:
            if chat_type != "private":
                raise ValueError("user_id is required for group chats")
            user_id = chat_id
        existing = self._chats.get(chat_id)
        if existing is None or existing["type"] != chat_type:
            self.add_chat(
                chat_id,
                chat_type=chat_type,
                title=title,
                is_forum=is_forum,
                username=username,
                first_name=first_name,
            )
        else:  # a known chat keeps its settings; a title or forum flag given now is applied
            if title is not None and chat_type != "private":
                existing["title"] = title
            if is_forum and chat_type != "private":
                existing["is_forum"] = True
        self._users[user_id] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "username": username,
        }
        if language_code is not None:
            self._users[user_id]["language_code"] = language_code
        self._last_user[chat_id] = user_id
        kind, file_id, photo_bytes = "text", None, None
        if photo is not False:
            kind = "photo"
            photo_bytes = photo if isinstance(photo, bytes) else tiny_png(64, 64)
            file_id = self._register_file(photo_bytes, "photos", "jpg")
        elif sticker:
            kind, file_id = "sticker", self._register_file(tiny_png(512, 512), "stickers", "webp")
        elif voice is not False:
            kind = "voice"
            file_id = self._register_file(
                voice if isinstance(voice, bytes) else b"OggS\0fake-voice", "voice", "oga"
            )
        elif document is not False:
            kind = "document"
            data = document if isinstance(document, bytes) else b"fake document\n"
            file_id = self._register_file(data, "documents", "txt")
        if kind == "text" and text is None:
            raise ValueError("a text message needs text")
        if kind != "text" and caption is None:
            caption, text = text, None  # a text given with media is its caption
        shown = text if kind == "text" else caption
        found = check_entities(shown, entities) if shown is not None and entities else []
        if kind == "text" and text.startswith("/") and not any(e["offset"] == 0 for e in found):
            command = text.split(maxsplit=1)[0]
            found.insert(0, {"type": "bot_command", "offset": 0, "length": utf16_len(command)})
        message = self._new_message(
            chat_id,
            from_bot=False,
            kind=kind,
            text=text if kind == "text" else None,
            entities=found if kind == "text" else [],
            caption_entities=found if kind != "text" else [],
            caption=caption if kind != "text" else None,
            photo=photo_bytes,
            photo_file_id=file_id if kind == "photo" else None,
            file_id=file_id if kind != "photo" else None,
            user_id=user_id,
            message_thread_id=message_thread_id,
            reply_to_message_id=reply_to_message_id,
        )
        return self._queue({"message": self._message_dict(message)})

    def press_button(
        self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None
    ) -> dict:
        """The user presses an inline button: queue a ``callback_query`` update; returns it.

        ``user_id`` defaults to ``chat_id`` in private chats, else to the chat's last sender.
        Raises ValueError for an unknown message or user.
        """
        message = self._messages.get(chat_id, {}).get(message_id)
        if message is None:
            raise ValueError(f"no message {message_id} in chat {chat_id}")
        if user_id is None:
            user_id = chat_id if chat_id > 0 else self._last_user.get(chat_id)
            if user_id is None:
                raise ValueError("user_id is required: nobody has written in this group yet")
        user = self._users.setdefault(
            user_id, {"id": user_id, "is_bot": False, "first_name": "User"}
        )
        query_id = str(next(self._callback_ids))
        self._callback_queries[query_id] = {
            "answered": False,
            "chat_id": chat_id,
            "message_id": message_id,
        }
        query = {
            "id": query_id,
            "from": user,
            "chat_instance": f"ci{chat_id}",
            "message": self._message_dict(message),
            "data": data,
        }
        return self._queue({"callback_query": query})

    def block(self, chat_id: int) -> None:
        """The user blocks the bot: writes to ``chat_id`` then fail with 403 ``ERR_BLOCKED``."""
        self._blocked.add(chat_id)

    def migrate_group(self, chat_id: int, new_chat_id: int, *, user_id: int) -> None:
        """The group ``chat_id`` is upgraded to the supergroup ``new_chat_id`` by ``user_id``.

        As Telegram does: a service message with ``migrate_to_chat_id`` is queued in the old
        group and one with ``migrate_from_chat_id`` in the supergroup (same title, messages
        numbered anew); from then on every call naming ``chat_id`` answers 400 "Bad Request:
        group chat was upgraded to a supergroup chat" with ``parameters.migrate_to_chat_id``
        (PTB raises ChatMigrated). Raises ValueError unless ``chat_id`` is a known group.
        """
        old = self._chats.get(chat_id)
        if old is None or old["type"] != "group" or new_chat_id >= 0:
            raise ValueError(f"{chat_id} is not a known group, or {new_chat_id} not a group id")
        new = self.add_chat(new_chat_id, chat_type="supergroup", title=old["title"])
        user = self._users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": "A"}
        for chat, field_name, value in (
            (old, "migrate_to_chat_id", new_chat_id),
            (new, "migrate_from_chat_id", chat_id),
        ):
            service = self._new_message(chat["id"], from_bot=False, kind="service", user_id=user_id)
            self._queue({"message": {
                "message_id": service.message_id, "date": service.date, "chat": dict(chat),
                "from": user, field_name: value,
            }})
        self._migrated[chat_id] = new_chat_id

    # ---- files the user sends, and voice messages the bot sends (issue 11) -------------------

    def send_file(
        self,
        chat_id: int,
        kind: str,
        data: bytes | None = None,
        *,
        caption: str | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
        duration: int = 1,
        file_size: int | None = None,
        media_group_id: str | None = None,
        **message: Any,
    ) -> dict:
        """The user sends a file: ``kind`` is "photo", "document", "voice", "audio" or
        "video_note"; queues the ``message`` update and returns it.

        ``data`` defaults to small stand-in bytes of the kind. ``file_size`` is the size
        Telegram reports (default ``len(data)``): over 20 MB, getFile
        answers "file is too big" as Telegram does. A photo comes in two sizes, a 90-pixel
        thumbnail first (a square of half the shorter side, at most 90 pixels) and ``data`` last (as Telegram lists them, smallest first). Other
        keyword arguments go to :meth:`send_message` (``user_id``, ``chat_type``, ...).
        """
        base = "voice" if kind in ("voice", "audio", "video_note") else kind
        given: bytes | bool = True if data is None else data  # True: send_message's stand-in
        update = self.send_message(chat_id, None, caption=caption, **{base: given}, **message)
        sent = update["message"]
        stored = self._messages[chat_id][sent["message_id"]]
        if kind == "photo":
            file_id = stored.photo_file_id
            width, height = _image_size(self._files[file_id]["data"])
            side = max(1, min(90, width // 2, height // 2))
            thumbnail = self._register_file(tiny_png(side, side), "photos", "jpg")
            sent["photo"] = [
                {**self._file_dict(thumbnail), "width": side, "height": side},
                {**self._file_dict(file_id), "width": width, "height": height},
            ]
        else:
            file_id = stored.file_id
            info: dict[str, Any] = {**self._file_dict(file_id)}
            if kind in ("voice", "audio", "video_note"):
                info["duration"] = duration
            if kind == "video_note":
                info["length"] = 240
            else:
                info["mime_type"] = mime_type or ("audio/ogg" if kind == "voice" else "text/plain")
            if kind in ("document", "audio"):
                info["file_name"] = file_name or f"file.{'txt' if kind == 'document' else 'mp3'}"
            sent.pop(base)
            sent[kind] = info
        if file_size is not None:
            self._files[file_id]["declared_size"] = file_size
            for size in sent.get("photo") or [sent.get(kind)]:
                if size["file_id"] == file_id:
                    size["file_size"] = file_size
        if media_group_id is not None:
            sent["media_group_id"] = media_group_id
        return update

    def file_data(self, file_id: str) -> bytes:
        """The bytes of a file the fake holds (a user's upload or the bot's)."""
        return self._files[file_id]["data"]

    async def _m_getFile(self, params: dict) -> dict:
        """File info with ``file_path`` (download: ``/file/bot<token>/<file_path>``); files over
        20 MB are refused (Bot API getFile: "up to 20MB")."""
        file_id = str(params.get("file_id") or "")
        if file_id not in self._files:
            raise _bad(ERR_INVALID_FILE_ID)
        size = self._files[file_id].get("declared_size", len(self._files[file_id]["data"]))
        if size > 20 * 1024 * 1024:
            raise _bad("Bad Request: file is too big")
        return {**self._file_dict(file_id), "file_path": self._files[file_id]["path"]}

    async def _m_sendVoice(self, params: dict) -> dict:
        """A voice message (OGG/Opus upload, a file_id or a URL; at most 50 MB)."""
        return await self._send_media(params, "voice", "voice", "ogg", 50 * 1024 * 1024)

    # ---- what the user sees ------------------------------------------------------------------

    def messages(
        self, chat_id: int, *, message_thread_id: int | None = _EVERY_THREAD
    ) -> list[FakeMessage]:
        """Every message of the chat in order (both sides).

        ``message_thread_id`` keeps one thread (None: messages outside threads); default: all.
        """
        found = sorted(self._messages.get(chat_id, {}).values(), key=lambda m: m.message_id)
        if message_thread_id is _EVERY_THREAD:
            return found
        return [m for m in found if m.message_thread_id == message_thread_id]

    def bot_messages(self, chat_id: int) -> list[FakeMessage]:
        """The bot's messages in the chat, in order."""
        return [m for m in self.messages(chat_id) if m.from_bot]

    def commands(self, language_code: str | None = None) -> list[dict]:
        """The command menu set with setMyCommands for the default scope and ``language_code``
        (None: the menu without a language), as ``[{"command", "description"}]``."""
        return list(self._commands.get(self._commands_key({"language_code": language_code}), []))

    def calls_for(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        """Recorded calls, optionally of one method (case-insensitive) and/or one chat."""
        wanted = method.lower() if method else None
        return [
            c
            for c in self.calls
            if (wanted is None or c.method.lower() == wanted)
            and (chat_id is None or c.chat_id == chat_id)
        ]

    def count_429(self) -> int:
        """How many calls were answered with HTTP 429."""
        return sum(1 for c in self.calls if c.status == 429)

    @property
    def long_polls_waiting(self) -> int:
        """How many getUpdates requests are waiting for an update right now."""
        return self._polls_waiting

    @property
    def polls_received(self) -> int:
        """How many getUpdates requests arrived so far (each one ends any earlier poll still
        waiting with 409, as Telegram does)."""
        return self._poll_generation

    @property
    def pending_updates(self) -> list[dict]:
        """Updates queued and not yet confirmed by a getUpdates ``offset``."""
        return list(self._updates)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` is true, at most ``timeout`` seconds (real time).

        The predicate is checked after every answered call and queued update, and every 50 ms
        (for state outside the fake). Raises TimeoutError naming the predicate and the last calls.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = ", ".join(
                    f"{c.method}({c.chat_id})->{c.status}"
                    + (f" {c.description!r}" if c.description else "")
                    for c in self.calls[-8:]
                )
                name = getattr(predicate, "__qualname__", repr(predicate))
                raise TimeoutError(
                    f"condition {name} still false after {timeout} s; {len(self.calls)} calls, "
                    f"last ones: {recent or 'none'}; pending updates: {len(self._updates)}"
                )
            # A bare future and a timer: far cheaper than asyncio.wait_for when hundreds wait.
            waiter = loop.create_future()
            self._waiters.add(waiter)
            timer = loop.call_later(min(remaining, 0.05), _resolve, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiters.discard(waiter)

    # ---- fault injection ---------------------------------------------------------------------

    def set_failure(
        self,
        method: str,
        *,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error (flood buckets untouched).

        ``retry_after`` (seconds) adds ``parameters.retry_after`` (PTB raises RetryAfter for it).
        Raises ValueError for a method the fake does not implement.
        """
        name = self._canonical(method)
        self._failures.setdefault(name, []).extend(
            ApiError(status, description, retry_after) for _ in range(times)
        )

    def delay(self, method: str, seconds: float) -> None:
        """Answer every call of ``method`` ``seconds`` later (real time; 0 removes the delay)."""
        self._delays[self._canonical(method)] = seconds

    def answer_late(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Carry out the next ``times`` calls of ``method`` at once but answer each ``seconds``
        later (real time): a client whose read timeout is shorter gives up (PTB raises
        ``TimedOut``) although the message was sent, as when Telegram answers slowly."""
        self._late_answers.setdefault(self._canonical(method), []).extend([seconds] * times)

    def _canonical(self, method: str) -> str:
        entry = self._methods.get(method.lower())
        if entry is None:
            raise ValueError(f"the fake does not implement {method!r}")
        return entry[0]

    # ---- HTTP --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        received = self.clock()
        entry = self._methods.get(request.match_info["method"].lower())
        method = entry[0] if entry else request.match_info["method"]
        params: dict = {}
        result: Any = None
        late = 0.0
        error: ApiError | None = None
        try:
            params = await self._read_params(request)
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if entry is None:
                raise ApiError(404, "Not Found: method not found")
            if self._delays.get(method):
                await asyncio.sleep(self._delays[method])
            if self._failures.get(method):
                raise self._failures[method].pop(0)
            if _as_int(params.get("chat_id")) in self._migrated:
                raise _ChatMigrated(self._migrated[_as_int(params.get("chat_id")) or 0])
            result = await self._with_flood_control(method, entry[1], params, request)
            late = self._late_answers[method].pop(0) if self._late_answers.get(method) else 0.0
        except ApiError as exc:
            error = exc
        except _ClientGone:
            return web.Response(status=499)  # nobody reads it: a long poll whose client went away
        except Exception as exc:  # noqa: BLE001 - a bug in the fake: answer 500, keep it visible
            self.internal_errors.append(exc)
            error = ApiError(500, f"Internal Server Error: the fake failed with {exc!r}")
        self.calls.append(
            Call(
                method=method,
                params=params,
                time=received,
                chat_id=_as_int(params.get("chat_id")),
                status=error.status if error else 200,
                description=error.description if error else None,
                retry_after=error.retry_after if error else None,
            )
        )
        self._notify()
        if error is None:
            if late:  # carried out and recorded; the answer comes late (answer_late)
                await asyncio.sleep(late)
            return web.json_response({"ok": True, "result": result})
        body: dict[str, Any] = {
            "ok": False,
            "error_code": error.status,
            "description": error.description,
        }
        headers = {}
        if error.retry_after is not None:
            body["parameters"] = {"retry_after": error.retry_after}
            headers["Retry-After"] = str(error.retry_after)
        if isinstance(error, _ChatMigrated):
            body["parameters"] = {"migrate_to_chat_id": error.migrate_to_chat_id}
        return web.json_response(body, status=error.status, headers=headers)

    async def _handle_file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        if request.match_info["token"] != self.token or path not in self._file_paths:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(body=self._files[self._file_paths[path]]["data"])

    async def _handle_user_message(self, request: web.Request) -> web.Response:
        """``POST /_fake/send_message?chat_id=N&text=...``: the user's side over HTTP."""
        try:
            update = self.send_message(int(request.query["chat_id"]), request.query.get("text", ""))
        except (KeyError, ValueError) as exc:
            return web.json_response({"ok": False, "description": str(exc)}, status=400)
        return web.json_response({"ok": True, "result": update})

    async def _handle_user_view(self, request: web.Request) -> web.Response:
        """``GET /_fake/messages?chat_id=N``: what the user sees in that chat."""
        try:
            chat_id = int(request.query["chat_id"])
        except (KeyError, ValueError) as exc:
            return web.json_response({"ok": False, "description": str(exc)}, status=400)
        shown = [
            {"message_id": m.message_id, "from_bot": m.from_bot, "text": m.text or m.caption}
            for m in self.messages(chat_id)
        ]
        return web.json_response({"ok": True, "result": shown})

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    async def _read_params(self, request: web.Request) -> dict:
        raw: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad("Bad Request: can't parse JSON encoded request body") from None
                if isinstance(body, dict):
                    raw.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        with value.file:  # closed now, not by the garbage collector
                            raw[key] = value.file.read()
                    else:
                        raw[key] = value
        return {key: _coerce(key, value) for key, value in raw.items()}

    async def _with_flood_control(
        self, method: str, handler: Callable, params: dict, request: web.Request
    ) -> Any:
        if method == "getUpdates":
            return await handler(params, request)
        if not self.flood or method not in WRITES:
            return await handler(params)
        now = self.clock()
        if self._bot_bucket is None:
            self._bot_bucket = TokenBucket(self.bot_burst, self.bot_rate, now)
        buckets = [self._bot_bucket]
        chat_id = _as_int(params.get("chat_id"))
        if chat_id is not None:
            if chat_id not in self._chat_buckets:
                capacity, rate = (
                    (self.private_burst, self.private_rate)
                    if chat_id > 0
                    else (self.group_burst, self.group_rate)
                )
                self._chat_buckets[chat_id] = TokenBucket(capacity, rate, now)
            buckets.append(self._chat_buckets[chat_id])
        wait = max(bucket.wait(now) for bucket in buckets)
        if wait > 0:
            seconds = max(1, math.ceil(wait - 1e-9))
            raise ApiError(429, f"Too Many Requests: retry after {seconds}", seconds)
        for bucket in buckets:
            bucket.tokens -= 1
        try:
            return await handler(params)
        except BaseException:
            for bucket in buckets:
                bucket.tokens = min(bucket.capacity, bucket.tokens + 1)
            raise

    # ---- state helpers -----------------------------------------------------------------------

    def _notify(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()
        for waiter in self._waiters:
            _resolve(waiter)
        self._waiters.clear()

    def _queue(self, update_body: dict) -> dict:
        update = {"update_id": next(self._update_ids), **update_body}
        self._updates.append(update)
        self._notify()
        return update

    def _register_file(self, data: bytes, folder: str, extension: str) -> str:
        number = next(self._file_numbers)
        file_id = f"AgACAgIAAx0-fake-{number:06d}"
        path = f"{folder}/file_{number}.{extension}"
        self._files[file_id] = {"data": data, "path": path, "unique": f"AQAD{number:06d}"}
        self._file_paths[path] = file_id
        return file_id

    def _new_message(self, chat_id: int, **fields: Any) -> FakeMessage:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        fields.setdefault("entities", [])
        for name in (
            "text",
            "caption",
            "photo",
            "photo_file_id",
            "reply_markup",
            "message_thread_id",
            "reply_to_message_id",
        ):
            fields.setdefault(name, None)
        message = FakeMessage(
            message_id=message_id,
            chat_id=chat_id,
            edits=0,
            sent_at=self.clock(),
            edited_at=None,
            date=int(time.time()),
            **fields,
        )
        self._messages.setdefault(chat_id, {})[message_id] = message
        return message

    def _bot_user(self) -> dict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Test LLM Bot",
            "username": "test_llm_bot",
        }

    def _file_dict(self, file_id: str) -> dict:
        info = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": info["unique"],
            "file_size": len(info["data"]),
        }

    def _message_dict(self, message: FakeMessage, *, nested: bool = True) -> dict:
        chat = self._chats[message.chat_id]
        result: dict[str, Any] = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": dict(chat),
        }
        result["from"] = self._bot_user() if message.from_bot else self._users[message.user_id]
        if message.message_thread_id is not None:
            result["message_thread_id"] = message.message_thread_id
            if chat.get("is_forum"):
                result["is_topic_message"] = True
        if message.text is not None:
            result["text"] = message.text
            if message.entities:
                result["entities"] = message.entities
        if message.caption is not None:
            result["caption"] = message.caption
            if message.caption_entities:
                result["caption_entities"] = message.caption_entities
        if message.kind == "photo" and message.photo_file_id:
            width, height = _image_size(self._files[message.photo_file_id]["data"])
            result["photo"] = [
                {**self._file_dict(message.photo_file_id), "width": width, "height": height}
            ]
        elif message.kind == "sticker":
            result["sticker"] = {
                **self._file_dict(message.file_id),
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "🙂",
            }
        elif message.kind == "voice":
            result["voice"] = {
                **self._file_dict(message.file_id),
                "duration": 1,
                "mime_type": "audio/ogg",
            }
        elif message.kind == "document":
            result["document"] = {
                **self._file_dict(message.file_id),
                "file_name": "document.txt",
                "mime_type": "text/plain",
            }
        if message.reply_markup is not None:
            result["reply_markup"] = message.reply_markup
        if message.edit_date is not None:
            result["edit_date"] = message.edit_date
        if nested and message.reply_to_message_id is not None:
            target = self._messages.get(message.chat_id, {}).get(message.reply_to_message_id)
            if target is not None:
                result["reply_to_message"] = self._message_dict(target, nested=False)
        return result

    def _writable_chat(self, params: dict) -> int:
        chat_id = _as_int(params.get("chat_id"))
        if chat_id is None or chat_id not in self._chats:
            raise _bad(ERR_CHAT_NOT_FOUND)
        if chat_id in self._blocked:
            raise ApiError(403, ERR_BLOCKED)
        return chat_id

    def _formatted(
        self, text: Any, parse_mode: Any, entities: Any, *, caption: bool = False
    ) -> tuple[str, list]:
        if text is None or text == "":
            if caption:
                return "", []
            raise _bad(ERR_TEXT_EMPTY)
        try:
            plain, found = parse_text(str(text), parse_mode, entities)
        except EntityError as exc:
            raise _bad(ERR_PARSE + str(exc)) from None
        if not plain and not caption:
            raise _bad(ERR_TEXT_EMPTY)
        if len(plain) > (CAPTION_LIMIT if caption else TEXT_LIMIT):
            raise _bad(ERR_CAPTION_TOO_LONG if caption else ERR_TOO_LONG)
        return plain, found

    def _markup(self, params: dict) -> dict | None:
        """The inline keyboard to attach (other keyboards are accepted, not kept on the message)."""
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad(
                'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array '
                "of Arrays"
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad("Bad Request: can't parse inline keyboard button: text is empty")
                if not _BUTTON_ACTIONS & button.keys():
                    raise _bad(
                        "Bad Request: can't parse inline keyboard button: Text buttons are "
                        "unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise _bad("Bad Request: BUTTON_DATA_INVALID")
        return markup if rows else None

    def _reply_target(self, chat_id: int, params: dict) -> int | None:
        reply = params.get("reply_parameters")
        target = (
            reply.get("message_id")
            if isinstance(reply, dict)
            else params.get("reply_to_message_id")
        )
        if target is None:
            return None
        if target in self._messages.get(chat_id, {}):
            return target
        lenient = params.get("allow_sending_without_reply") or (
            isinstance(reply, dict) and reply.get("allow_sending_without_reply")
        )
        if lenient:
            return None
        raise _bad(ERR_REPLY_NOT_FOUND)

    def _bot_message(self, params: dict, missing: str) -> FakeMessage:
        chat_id = self._writable_chat(params)
        message = self._messages[chat_id].get(_as_int(params.get("message_id")))
        if message is None:
            raise _bad(missing)
        return message

    def _edited(self, message: FakeMessage) -> dict:
        message.edits += 1
        message.edited_at = self.clock()
        message.edit_date = int(time.time())
        return self._message_dict(message)

    async def _fetch(self, url: str, limit: int) -> bytes | None:
        """Telegram downloads a file given by URL; only loopback URLs are fetched (no internet)."""
        if urlsplit(url).hostname not in LOOPBACK:
            return None
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response,
            ):
                if response.status != 200:
                    raise _bad(ERR_URL_CONTENT)
                data = await response.read()
        except (aiohttp.ClientError, TimeoutError):
            raise _bad(ERR_URL_CONTENT) from None
        if len(data) > limit:
            raise _bad(ERR_URL_CONTENT)
        return data

    async def _media(
        self, value: Any, folder: str, extension: str, limit: int
    ) -> tuple[str, bytes | None, str | None]:
        """Resolve an upload (bytes), a known file_id or a URL into (file_id, bytes?, url?)."""
        if isinstance(value, bytes):
            if len(value) > limit:
                raise _bad(
                    ERR_PHOTO_TOO_BIG if folder == "photos" else "Bad Request: file is too big"
                )
            return self._register_file(value, folder, extension), value, None
        if isinstance(value, str) and value in self._files:
            return value, self._files[value]["data"], None
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            data = await self._fetch(
                value, PHOTO_URL_LIMIT if folder == "photos" else 20 * 1024 * 1024
            )
            return self._register_file(data or b"", folder, extension), data, value
        if value in (None, ""):
            raise _bad(f"Bad Request: there is no {folder.rstrip('s')} in the request")
        raise _bad(ERR_WRONG_FILE)

    # ---- Bot API methods (each ``_m_<name>`` answers ``<name>``; raise ApiError to fail) -------

    async def _m_getMe(self, params: dict) -> dict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getUpdates(self, params: dict, request: web.Request | None = None) -> list[dict]:
        """Long polling: confirm below ``offset``; answer on an update or after ``timeout`` s."""
        if self._webhook_url:
            raise ApiError(409, ERR_CONFLICT_WEBHOOK)
        offset = _as_int(params.get("offset"))
        limit = min(100, max(1, _as_int(params.get("limit")) or 100))
        timeout = params.get("timeout") or 0
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = set(allowed) or None
        if offset is not None:
            self._updates = (
                self._updates[offset:]
                if offset < 0
                else [u for u in self._updates if u["update_id"] >= offset]
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an earlier poll still waiting now ends with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, float(timeout))
        while True:
            if request is not None and (
                request.transport is None or request.transport.is_closing()
            ):
                raise _ClientGone  # the client gave up on this poll (e.g. PTB stopped polling)
            if generation != self._poll_generation:
                raise ApiError(409, ERR_CONFLICT_POLL)
            ready = [
                u
                for u in self._updates
                if self._allowed_updates is None
                or any(k in self._allowed_updates for k in u if k != "update_id")
            ]
            if ready or self._stopping:
                return ready[:limit]
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            event = self._wakeup
            self._polls_waiting += 1
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                self._polls_waiting -= 1

    async def _m_setWebhook(self, params: dict) -> bool:
        """Set the webhook and start posting the queued updates to it (see
        :mod:`tests.fakes.webhook_delivery`)."""
        await self._stop_delivery()
        self._webhook_url = str(params.get("url") or "")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = set(allowed) or None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if urlsplit(self._webhook_url).hostname in LOOPBACK:  # never the network
            self.webhook = WebhookDelivery(
                self._webhook_url,
                params.get("secret_token") or None,
                _as_int(params.get("max_connections")) or 40,
                lambda: [u for u in self._updates if self._allowed(u)],
                self._acknowledge,
                lambda: self._wakeup,
                self._notify,
                timeout=self.webhook_timeout,
                retry_delay=self.webhook_retry_delay,
            )
            self.webhook.start()
        return True

    def _allowed(self, update: dict) -> bool:
        return self._allowed_updates is None or any(
            k in self._allowed_updates for k in update if k != "update_id"
        )

    def _acknowledge(self, update_id: int) -> None:
        self._updates = [u for u in self._updates if u["update_id"] != update_id]

    async def _stop_delivery(self) -> None:
        if self.webhook is not None:
            await self.webhook.stop()
            self.webhook = None

    async def _m_deleteWebhook(self, params: dict) -> bool:
        await self._stop_delivery()
        self._webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_getWebhookInfo(self, params: dict) -> dict:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    @staticmethod
    def _commands_key(params: dict) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True) + "|" + str(params.get("language_code") or "")

    async def _m_setMyCommands(self, params: dict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("Bad Request: can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not re.fullmatch(
                r"[a-z0-9_]{1,32}", str(command.get("command", ""))
            ):
                raise _bad("Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _m_getMyCommands(self, params: dict) -> list[dict]:
        return self._commands.get(self._commands_key(params), [])

    async def _m_deleteMyCommands(self, params: dict) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    async def _m_sendMessage(self, params: dict) -> dict:
        chat_id = self._writable_chat(params)
        text, entities = self._formatted(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = self._markup(params)
        reply_to = self._reply_target(chat_id, params)
        message = self._new_message(
            chat_id,
            from_bot=True,
            kind="text",
            text=text,
            entities=entities,
            reply_markup=markup,
            message_thread_id=_as_int(params.get("message_thread_id")),
            reply_to_message_id=reply_to,
        )
        return self._message_dict(message)

    async def _m_editMessageText(self, params: dict) -> dict:
        if params.get("inline_message_id") is not None and params.get("chat_id") is None:
            raise _bad("Bad Request: MESSAGE_ID_INVALID")  # inline messages are not modelled
        message = self._bot_message(params, ERR_EDIT_NOT_FOUND)
        if not message.from_bot:
            raise _bad(ERR_CANT_EDIT)
        if message.kind != "text":
            raise _bad(ERR_NO_TEXT_TO_EDIT)
        text, entities = self._formatted(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = self._markup(params)
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise _bad(ERR_NOT_MODIFIED)
        message.text, message.entities, message.reply_markup = text, entities, markup
        return self._edited(message)

    async def _m_editMessageCaption(self, params: dict) -> dict:
        message = self._bot_message(params, ERR_EDIT_NOT_FOUND)
        if not message.from_bot:
            raise _bad(ERR_CANT_EDIT)
        if message.kind == "text":
            raise _bad("Bad Request: there is no caption in the message to edit")
        caption, entities = self._formatted(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            caption=True,
        )
        markup = self._markup(params)
        if (caption or None, entities, markup) == (
            message.caption,
            message.caption_entities,
            message.reply_markup,
        ):
            raise _bad(ERR_NOT_MODIFIED)
        message.caption, message.caption_entities, message.reply_markup = (
            caption or None,
            entities,
            markup,
        )
        return self._edited(message)

    async def _m_editMessageReplyMarkup(self, params: dict) -> dict:
        message = self._bot_message(params, ERR_EDIT_NOT_FOUND)
        if not message.from_bot:
            raise _bad(ERR_CANT_EDIT)
        markup = self._markup(params)
        if markup == message.reply_markup:
            raise _bad(ERR_NOT_MODIFIED)
        message.reply_markup = markup
        return self._edited(message)

    async def _m_deleteMessage(self, params: dict) -> bool:
        message = self._bot_message(params, ERR_DELETE_NOT_FOUND)
        del self._messages[message.chat_id][message.message_id]
        return True

    async def _send_media(
        self, params: dict, kind: str, folder: str, extension: str, limit: int
    ) -> dict:
        chat_id = self._writable_chat(params)
        caption, entities = self._formatted(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            caption=True,
        )
        markup = self._markup(params)
        reply_to = self._reply_target(chat_id, params)
        file_id, data, url = await self._media(params.get(kind), folder, extension, limit)
        message = self._new_message(
            chat_id,
            from_bot=True,
            kind=kind,
            caption=caption or None,
            caption_entities=entities,
            photo=data if kind == "photo" else None,
            photo_file_id=file_id if kind == "photo" else None,
            file_id=file_id if kind != "photo" else None,
            photo_url=url if kind == "photo" else None,
            reply_markup=markup,
            message_thread_id=_as_int(params.get("message_thread_id")),
            reply_to_message_id=reply_to,
        )
        return self._message_dict(message)

    async def _m_sendPhoto(self, params: dict) -> dict:
        return await self._send_media(params, "photo", "photos", "jpg", PHOTO_UPLOAD_LIMIT)

    async def _m_sendDocument(self, params: dict) -> dict:
        return await self._send_media(params, "document", "documents", "bin", 50 * 1024 * 1024)

    async def _m_sendChatAction(self, params: dict) -> bool:
        self._writable_chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise _bad(ERR_ACTION)
        return True

    async def _m_answerCallbackQuery(self, params: dict) -> bool:
        query = self._callback_queries.get(str(params.get("callback_query_id")))
        if query is None or query["answered"]:
            raise _bad(ERR_OLD_QUERY)
        query.update(
            answered=True, text=params.get("text"), show_alert=bool(params.get("show_alert"))
        )
        return True

    async def _m_sendMessageDraft(self, params: dict) -> bool:
        """Record a draft (Bot API 9.3+): private chats, non-zero ``draft_id``, optional text."""
        chat_id = self._writable_chat(params)
        if self._chats[chat_id]["type"] != "private":
            raise _bad(ERR_DRAFT_CHAT)
        draft_id = _as_int(params.get("draft_id"))
        if not draft_id:
            raise _bad(ERR_DRAFT_ID)
        text, entities = "", []
        if params.get("text"):
            text, entities = self._formatted(
                params["text"], params.get("parse_mode"), params.get("entities")
            )
        self.drafts.append(
            {
                "chat_id": chat_id,
                "draft_id": draft_id,
                "text": text,
                "entities": entities,
                "message_thread_id": _as_int(params.get("message_thread_id")),
                "time": self.clock(),
            }
        )
        return True


    # ---- chat members (getChatMember) ---------------------------------------------------------
    # Statuses: "creator", "administrator", "member", "left", "kicked" (Bot API ChatMember*).
    # A user with no status set is a "member" of a chat they wrote in, else "left"; a user the
    # fake never saw gets "Bad Request: user not found" (the server's answer for a user the bot
    # cannot see, tdlib/telegram-bot-api#332); an unknown chat "Bad Request: chat not found".

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """Make ``user_id`` a ``status`` member of the (known) chat ``chat_id``, as getChatMember
        reports it. Raises ValueError for an unknown chat or status."""
        if chat_id not in self._chats:
            raise ValueError(f"unknown chat {chat_id}")
        if status not in _MEMBER_FIELDS:
            raise ValueError(f"unsupported status {status!r}; one of {sorted(_MEMBER_FIELDS)}")
        self._users.setdefault(user_id, {"id": user_id, "is_bot": False, "first_name": "User"})
        self._member_statuses[(chat_id, user_id)] = status

    async def _m_getChatMember(self, params: dict) -> dict:
        chat_id, user_id = _as_int(params.get("chat_id")), _as_int(params.get("user_id"))
        if chat_id is None or chat_id not in self._chats:
            raise _bad(ERR_CHAT_NOT_FOUND)
        user = self._users.get(user_id) if user_id is not None else None
        if user is None or user_id is None:
            raise _bad(ERR_USER_NOT_FOUND)
        status = self._member_statuses.get((chat_id, user_id))
        if status is None:
            wrote = any(m.user_id == user_id for m in self._messages.get(chat_id, {}).values())
            status = "member" if wrote or chat_id == user_id else "left"
        return {"status": status, "user": user, **_MEMBER_FIELDS[status]}


_ADMIN_RIGHTS = (
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
    "can_edit_stories", "can_delete_stories",
)
# The required fields of each ChatMember kind besides status and user (Bot API "ChatMember").
_MEMBER_FIELDS: dict[str, dict[str, Any]] = {
    "creator": {"is_anonymous": False},
    "administrator": {
        "can_be_edited": False, "is_anonymous": False, **dict.fromkeys(_ADMIN_RIGHTS, True)
    },
    "member": {},
    "left": {},
    "kicked": {"until_date": 0},
}


async def _serve(port: int, flood: bool) -> None:
    async with FakeTelegram(port=port, flood=flood) as fake:
        origin = fake.base_url.removesuffix("/bot")
        print(f"Fake Telegram Bot API on {fake.base_url}  (token {fake.token})")
        print(f"  base_url      = {fake.base_url}")
        print(f"  base_file_url = {fake.base_file_url}")
        print(f"  try: curl {fake.base_url}{fake.token}/getMe")
        print(f"  the user writes: curl -X POST '{origin}/_fake/send_message?chat_id=42&text=hi'")
        print(f"  the user sees:   curl '{origin}/_fake/messages?chat_id=42'")
        print("Ctrl-C stops it.", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.fakes.telegram [--port N] [--no-flood]``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve the fake Telegram Bot API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a random free one)")
    parser.add_argument(
        "--no-flood", action="store_true", help="turn flood control (429 answers) off"
    )
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args.port, not args.no_flood))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
