"""The conversation store: one repository over chats, conversations and messages.

Concurrency:

* SQLite: this process's writes take turns on an asyncio lock (rather than spinning in SQLite's
  busy handler), and each starts with ``BEGIN IMMEDIATE``, which waits up to the busy timeout
  for writers in other processes; WAL mode lets readers go on meanwhile. So concurrent writers
  queue instead of failing with "database is locked".
* PostgreSQL: steps that read then write a chat's structure (creating its current conversation,
  starting another, merging settings) lock the chat row (``SELECT ... FOR UPDATE``) first.
* Message ids come from one sequence (SQLite AUTOINCREMENT, a PostgreSQL BIGSERIAL) and are
  never reused, so ``history`` and ``context``, ordered by id, follow the commit order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import asdict, replace
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from .context import trim_context
from .engine import WRITE, create_engine
from .models import Chat, Conversation, Message, utcnow
from .queries import (
    CHAT_ROW,
    CHATS,
    CONVERSATIONS,
    CURRENT_CONVERSATION,
    MESSAGE_EXISTS,
    NEW_USAGE,
    USAGE,
    append_message,
    chat_record,
    context_rows,
    create_conversation,
    current_conversation_id,
    ensure_chat,
    lock_chat,
    message_record,
    new_values,
    newest_in_current,
    reply_values,
    update_message,
    user_values,
    with_origin,
)
from .records import ChatRecord, MessageRecord, ReplyStatus, UsageEntry
from .schema import upgrade_to_head

UNSYNCHRONIZED = {"synchronize_session": False}  # each unit of work has a fresh session


class Store:
    """One per process. Each method is one short unit of work (its own transaction, on a
    connection of its own: Core statements, or an ORM session where rows are changed as
    objects).

    ``chat_id`` is Telegram's 64-bit chat id; ``thread_id`` is the forum topic id
    (``message_thread_id``) or 0: each (chat, topic) has its own conversations, while the
    model and settings belong to the chat. Database errors (``sqlalchemy.exc.SQLAlchemyError``)
    propagate unchanged.
    """

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else nullcontext()

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Create the engine for ``url`` (see ``create_engine``), first upgrading the database
        to the newest migration when ``migrate``."""
        if migrate:
            await upgrade_to_head(url)
        return cls(create_engine(url))

    async def close(self) -> None:
        """Close every pooled connection; the store is unusable afterwards."""
        await self.engine.dispose()

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        async with self._write_lock, self._sessions.begin() as session:
            await session.connection(execution_options=WRITE)
            yield session

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        """A read-only unit of work on a connection (Core statements, no ORM session)."""
        async with self.engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """A unit of work that writes, on a connection (Core statements, no ORM session):
        committed at the end, rolled back on an error (as :meth:`_write`)."""
        async with self._write_lock, self.engine.connect() as connection:
            await connection.execution_options(**WRITE)
            async with connection.begin():
                yield connection

    # Chats ---------------------------------------------------------------------------------

    async def get_or_create_chat(self, chat_id: int, type: str = "private") -> ChatRecord:
        """The chat, created with ``type`` (Bot API ``Chat.type``) if not stored yet; the type
        of an existing chat is left as stored."""
        async with self._writing() as connection:
            await ensure_chat(connection, chat_id, type)
            return chat_record((await connection.execute(CHAT_ROW, {"chat_id": chat_id})).one())

    async def get_chat(self, chat_id: int) -> ChatRecord | None:
        """The chat, or ``None`` if nothing is stored for it."""
        async with self._reading() as connection:
            chat = (await connection.execute(CHAT_ROW, {"chat_id": chat_id})).first()
            return None if chat is None else chat_record(chat)

    async def chats_with_setting(self, key: str) -> dict[int, str]:
        """``{chat id: value}`` of every chat whose settings hold a string ``key`` (one query,
        on the JSON document: ``JSON_EXTRACT`` on SQLite, ``->>`` on PostgreSQL)."""
        value = Chat.settings[key].as_string()
        async with self._read() as session:
            rows = await session.execute(select(Chat.id, value).where(value.is_not(None)))
            return {chat_id: found for chat_id, found in rows}

    async def set_model(self, chat_id: int, model: str | None) -> None:
        """Set the chat's chosen model (``None``: back to the bot's default); creates the chat
        (type "private") if missing."""
        async with self._writing() as connection:
            await ensure_chat(connection, chat_id, "private")
            await connection.execute(update(CHATS).where(CHATS.c.id == chat_id).values(model=model))

    async def update_settings(self, chat_id: int, **values: Any) -> ChatRecord:
        """Merge ``values`` (JSON-compatible) into the chat's settings; a value of ``None``
        removes that key. Creates the chat (type "private") if missing. Concurrent updates of
        different keys are all kept."""
        async with self._writing() as connection:
            chat = await lock_chat(connection, chat_id, "private")
            settings = dict(chat.settings)
            for key, value in values.items():
                if value is None:
                    settings.pop(key, None)
                else:
                    settings[key] = value
            statement = update(CHATS).where(CHATS.c.id == chat_id).values(settings=settings)
            await connection.execute(statement)
            return replace(chat_record(chat), settings=settings)

    async def move_chat(self, old_id: int, new_id: int, new_type: str = "supergroup") -> bool:
        """A group became a supergroup (Bot API ``migrate_to_chat_id``): everything stored for
        ``old_id`` (conversations of every topic, model, settings) moves to ``new_id``, which
        keeps its own model and settings if it has some. Returns False when nothing is stored
        for ``old_id`` (never stored, or moved already)."""
        async with self._writing() as connection:
            old = (await connection.execute(CHAT_ROW, {"chat_id": old_id})).first()
            if old is None:
                return False
            new = await lock_chat(connection, new_id, new_type)
            for statement in (
                update(CHATS)
                .where(CHATS.c.id == new_id)
                .values(model=new.model or old.model, settings={**old.settings, **new.settings}),
                update(CONVERSATIONS)
                .where(CONVERSATIONS.c.chat_id == old_id)
                .values(chat_id=new_id),
                update(USAGE).where(USAGE.c.chat_id == old_id).values(chat_id=new_id),
                delete(CHATS).where(CHATS.c.id == old_id),
            ):
                await connection.execute(statement)
            return True

    # Conversations -------------------------------------------------------------------------

    async def current_conversation(self, chat_id: int, thread_id: int = 0) -> int:
        """Id of the current (newest) conversation of the chat's topic; creates one if none
        (and the chat, type "private", if missing)."""
        async with self._writing() as connection:
            return await current_conversation_id(connection, chat_id, thread_id)

    async def new_conversation(self, chat_id: int, thread_id: int = 0) -> int:
        """Start another conversation for the chat's topic (``/new``) and return its id; older
        conversations are kept until ``delete_chat``."""
        async with self._writing() as connection:
            await lock_chat(connection, chat_id, "private")
            return await create_conversation(connection, chat_id, thread_id)

    # Messages ------------------------------------------------------------------------------

    async def turn_context(
        self,
        chat_id: int,
        thread_id: int = 0,
        *,
        pending: str | None = None,
        limit: int = 20,
        max_chars: int = 12000,
        system_prompt: str | None = None,
        pending_attachments: list[dict[str, Any]] | None = None,
    ) -> tuple[ChatRecord | None, list[dict[str, Any]]]:
        """A turn's start, read only: the chat (``None`` if not stored yet) and the provider's
        context as :meth:`context` gives it, with ``pending`` (the user's new message, not
        stored yet, with ``pending_attachments``) as its newest user message. Being a read, it
        does not wait for the database's single writer, so a burst of chats reaches the
        providers sooner; the turn is recorded with :meth:`record_turn`. The topic's own system
        prompt (:meth:`ChatRecord.system_prompt`) replaces ``system_prompt``, the default."""
        async with self._reading() as connection:
            chat = (await connection.execute(CHAT_ROW, {"chat_id": chat_id})).first()
            rows = await context_rows(connection, chat_id, thread_id, limit)
        if pending or pending_attachments:
            rows = [("user", pending or "", pending_attachments), *rows[: limit - 1]]
        record = None if chat is None else chat_record(chat)
        own = None if record is None else record.system_prompt(thread_id)
        prompt = system_prompt if own is None else own.prompt
        return record, trim_context(rows, max_chars=max_chars, system_prompt=prompt)

    async def record_turn(
        self,
        chat_id: int,
        *,
        chat_type: str = "private",
        thread_id: int = 0,
        user_message: str | None = None,
        telegram_message_id: int | None = None,
        model: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        reply_status: ReplyStatus = ReplyStatus.STREAMING,
    ) -> MessageRecord:
        """Record a turn's start in one unit of work: the chat (created with ``chat_type`` if
        missing), the user's message (``None``: none, as for ``/retry``; with ``attachments``,
        the files sent with it) and the empty reply (status ``reply_status``: ``STREAMING``, or
        ``STOPPED`` for a turn dropped before it ran) after it, which is returned. A dropped
        turn's user message is stored ``STOPPED`` too: it is kept, but never sent to a model
        (see :func:`~bot.storage.queries.context_rows`)."""
        async with self._writing() as connection:
            if user_message is not None:
                dropped = reply_status is ReplyStatus.STOPPED
                status = ReplyStatus.STOPPED if dropped else ReplyStatus.COMPLETE
                values = user_values(user_message, telegram_message_id, attachments, status)
                await append_message(connection, chat_id, thread_id, values, chat_type)
            values = reply_values(model, status=reply_status)
            return await append_message(connection, chat_id, thread_id, values, chat_type)

    async def append_user_message(
        self,
        chat_id: int,
        content: str,
        *,
        thread_id: int = 0,
        telegram_message_id: int | None = None,
    ) -> MessageRecord:
        """Append a user message (status ``COMPLETE``) to the current conversation."""
        async with self._writing() as connection:
            values = user_values(content, telegram_message_id)
            return await append_message(connection, chat_id, thread_id, values)

    async def start_reply(
        self,
        chat_id: int,
        *,
        thread_id: int = 0,
        model: str | None = None,
        provider: str | None = None,
    ) -> MessageRecord:
        """Append an empty assistant reply with status ``STREAMING`` to the current
        conversation; fill it in with ``update_reply``."""
        async with self._writing() as connection:
            values = reply_values(model, provider)
            return await append_message(connection, chat_id, thread_id, values)

    async def update_reply(
        self,
        message_id: int,
        *,
        content: str | None = None,
        status: ReplyStatus | None = None,
        provider: str | None = None,
        model: str | None = None,
        telegram_message_ids: list[int] | None = None,
        image_file_id: str | None = None,
        image_url: str | None = None,
        error: str | None = None,
        usage: UsageEntry | None = None,
        reasoning: str | None = None,
    ) -> None:
        """Change the given (not ``None``) fields of a message; ``content`` replaces the whole
        text (partial text while streaming, then the final text), ``reasoning`` the model's
        reasoning (kept apart: never part of :meth:`context`). ``usage`` (a reply's final
        state) is recorded in the same unit of work, and kept even when the message is gone.
        Raises ``LookupError`` if no message has ``message_id`` (e.g. its chat was deleted)."""
        given = {
            "content": content,
            "status": None if status is None else ReplyStatus(status).value,
            "provider": provider,
            "model": model,
            "telegram_message_ids": telegram_message_ids,
            "image_file_id": image_file_id,
            "image_url": image_url,
            "error": error,
            "reasoning": reasoning,
        }
        values = {key: value for key, value in given.items() if value is not None}
        async with self._writing() as connection:
            if values:
                params = new_values(values)
                params["message_id"] = message_id
                result = await connection.execute(update_message(tuple(values)), params)
                found = result.rowcount > 0
            else:
                where = {"message_id": message_id}
                found = (await connection.execute(MESSAGE_EXISTS, where)).first() is not None
            if usage is not None:
                await connection.execute(NEW_USAGE, {**asdict(usage), "created_at": utcnow()})
        if not found:
            raise LookupError(f"no message with id {message_id}")

    async def get_message(self, message_id: int) -> MessageRecord | None:
        """The message with ``message_id``, or ``None``."""
        async with self._read() as session:
            row = (await session.execute(with_origin().where(Message.id == message_id))).first()
            return None if row is None else message_record(*row)

    async def _newest(
        self, chat_id: int, thread_id: int, limit: int, *conditions: Any
    ) -> Sequence[Message]:
        where = {"chat_id": chat_id, "thread_id": thread_id}
        async with self._read() as session:
            rows = await session.execute(newest_in_current(limit, *conditions), where)
            return rows.scalars().all()

    async def history(
        self, chat_id: int, thread_id: int = 0, *, limit: int = 50
    ) -> list[MessageRecord]:
        """The newest ``limit`` messages of the current conversation (every role and status),
        oldest first; empty if there is none."""
        newest = await self._newest(chat_id, thread_id, limit)
        return [message_record(message, chat_id, thread_id) for message in reversed(newest)]

    async def context(
        self,
        chat_id: int,
        thread_id: int = 0,
        *,
        limit: int = 20,
        max_chars: int = 12000,
        system_prompt: str | None = None,
    ) -> list[dict[str, Any]]:
        """OpenAI-style [{"role","content"}] of the current conversation for the provider: at most
        `limit` messages, total content characters <= max_chars (oldest dropped first; the newest
        message is always kept even if alone over budget), the system prompt (if given) kept first
        and not counted against `limit`. Messages with empty content are skipped; failed replies are
        skipped (their text is not model output); stopped/interrupted partial replies are kept.
        A message with files has ``"attachments"`` too (see ``MessageRecord.attachments``).

        The system prompt's characters count against ``max_chars``.
        """
        async with self._reading() as connection:
            pairs = await context_rows(connection, chat_id, thread_id, limit)
        return trim_context(pairs, max_chars=max_chars, system_prompt=system_prompt)

    async def last_user_message(self, chat_id: int, thread_id: int = 0) -> MessageRecord | None:
        """The newest user message of the current conversation (for ``/retry``), or ``None``."""
        newest = await self._newest(chat_id, thread_id, 1, Message.role == "user")
        return message_record(newest[0], chat_id, thread_id) if newest else None

    async def delete_last_reply(self, chat_id: int, thread_id: int = 0) -> None:
        """Delete the assistant messages after the last user message of the current
        conversation (for ``/retry``); nothing happens if there are none."""
        async with self._write() as session:
            where = {"chat_id": chat_id, "thread_id": thread_id}
            current = (await session.execute(CURRENT_CONVERSATION, where)).scalar()
            if current is None:
                return
            last_user = select(func.max(Message.id)).where(
                Message.conversation_id == current, Message.role == "user"
            )
            statement = delete(Message).where(
                Message.conversation_id == current,
                Message.role == "assistant",
                Message.id > func.coalesce(last_user.scalar_subquery(), 0),
            )
            await session.execute(statement, execution_options=UNSYNCHRONIZED)

    async def mark_interrupted(
        self, chat_id: int | None = None, thread_id: int | None = None
    ) -> list[MessageRecord]:
        """At start-up: every ``STREAMING`` reply (left by a crash or restart) becomes
        ``INTERRUPTED``; returns those replies, oldest first, so the bot can tell their chats.
        With ``chat_id`` (and ``thread_id``): only that chat's (topic's) replies, for a worker
        that died while the others go on."""
        async with self._write() as session:
            statement = with_origin().where(Message.status == ReplyStatus.STREAMING.value)
            if chat_id is not None:
                statement = statement.where(Conversation.chat_id == chat_id)
            if thread_id is not None:
                statement = statement.where(Conversation.thread_id == thread_id)
            rows = (await session.execute(statement.order_by(Message.id))).all()
            for message, _, _ in rows:
                message.status = ReplyStatus.INTERRUPTED.value
            await session.flush()
            return [message_record(*row) for row in rows]

    async def delete_chat(self, chat_id: int) -> int:
        """Delete everything stored for the chat (privacy): the chat, all its conversations in
        every topic and their messages. Returns how many messages were deleted (0 if none)."""
        conversations = select(Conversation.id).where(Conversation.chat_id == chat_id)
        messages = delete(Message).where(Message.conversation_id.in_(conversations))
        async with self._write() as session:
            result = await session.execute(messages, execution_options=UNSYNCHRONIZED)
            for statement in (
                delete(Conversation).where(Conversation.chat_id == chat_id),
                delete(Chat).where(Chat.id == chat_id),
            ):
                await session.execute(statement, execution_options=UNSYNCHRONIZED)
            return int(result.rowcount)  # type: ignore[attr-defined]
