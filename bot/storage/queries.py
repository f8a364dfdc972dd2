"""Statements, steps and row-to-record conversions shared by ``Store``'s units of work.

The steps take the unit of work's session and run inside its transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Select, insert, literal, or_, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from .models import Chat, Conversation, Message, utcnow
from .records import ChatRecord, MessageRecord, ReplyStatus


def chat_record(chat: Chat) -> ChatRecord:
    return ChatRecord(
        id=chat.id,
        type=chat.type,
        model=chat.model,
        settings=dict(chat.settings),
        created_at=chat.created_at,
    )


def message_record(message: Message, chat_id: int, thread_id: int) -> MessageRecord:
    return MessageRecord(
        id=message.id,
        chat_id=chat_id,
        thread_id=thread_id,
        conversation_id=message.conversation_id,
        role=message.role,
        content=message.content,
        model=message.model,
        provider=message.provider,
        telegram_message_ids=list(message.telegram_message_ids),
        image_file_id=message.image_file_id,
        image_url=message.image_url,
        status=ReplyStatus(message.status),
        error=message.error,
        created_at=message.created_at,
        attachments=list(message.attachments or []),
        reasoning=message.reasoning,
    )


def latest_conversation(chat_id: int, thread_id: int) -> Select[int]:
    return (
        select(Conversation.id)
        .where(Conversation.chat_id == chat_id, Conversation.thread_id == thread_id)
        .order_by(Conversation.id.desc())
        .limit(1)
    )


def with_origin() -> Select[Message, int, int]:
    return select(Message, Conversation.chat_id, Conversation.thread_id).join(
        Conversation, Message.conversation_id == Conversation.id
    )


def newest_in_current(
    chat_id: int,
    thread_id: int,
    limit: int,
    *conditions: Any,
    columns: tuple[Any, ...] = (Message,),
) -> Select[Any]:
    """The newest ``limit`` messages (``columns`` of them) of the current conversation of a
    (chat, topic) that meet ``conditions``, newest first: one index range scan on
    (conversation_id, id) backwards, the current conversation found by a subquery."""
    current = latest_conversation(chat_id, thread_id).scalar_subquery()
    return (
        select(*columns)
        .where(Message.conversation_id == current, *conditions)
        .order_by(Message.id.desc())
        .limit(limit)
    )


def append_to_current(chat_id: int, thread_id: int, values: dict[str, Any]) -> Insert:
    """``INSERT INTO messages (...) SELECT <current conversation's id>, <values> ...
    RETURNING id, conversation_id``: an append in one statement, which inserts nothing (and
    returns no row) when the (chat, topic) has no conversation yet."""
    columns = Message.__table__.c
    source = latest_conversation(chat_id, thread_id).add_columns(
        *(literal(value, columns[name].type) for name, value in values.items())
    )
    return (
        insert(Message)
        .from_select(["conversation_id", *values], source)
        .returning(Message.id, Message.conversation_id)
    )


def upsert(dialect: str, model: type[DeclarativeBase]) -> Any:
    """``INSERT`` into ``model``'s table with ``on_conflict_do_nothing`` available, for the
    ``dialect`` (``"postgresql"`` or ``"sqlite"``); the PostgreSQL dialect is imported only
    when it is the one in use."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(model)
    return sqlite.insert(model)


async def ensure_chat(session: AsyncSession, chat_id: int, type: str) -> None:
    """Insert the chat unless it exists (INSERT ... ON CONFLICT DO NOTHING: no race)."""
    statement = upsert(session.get_bind().dialect.name, Chat).values(
        id=chat_id, type=type, model=None, settings={}, created_at=utcnow()
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=[Chat.id]))


async def locked_chat(session: AsyncSession, chat_id: int, type: str) -> Chat:
    """The chat (inserted if missing), its row locked until the transaction ends
    (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds the write lock)."""
    await ensure_chat(session, chat_id, type)
    statement = select(Chat).where(Chat.id == chat_id).with_for_update()
    return (await session.execute(statement)).scalar_one()


async def create_conversation(session: AsyncSession, chat_id: int, thread_id: int) -> int:
    """Insert a conversation for the (chat, topic); returns its id."""
    conversation = Conversation(chat_id=chat_id, thread_id=thread_id, created_at=utcnow())
    session.add(conversation)
    await session.flush()
    return conversation.id


async def current_conversation_id(session: AsyncSession, chat_id: int, thread_id: int) -> int:
    """Id of the (chat, topic)'s newest conversation, created (with the chat) if none."""
    found = (await session.execute(latest_conversation(chat_id, thread_id))).scalar()
    if found is not None:
        return found
    await locked_chat(session, chat_id, "private")
    # Read again under the chat's lock: a concurrent caller may have created it meanwhile.
    found = (await session.execute(latest_conversation(chat_id, thread_id))).scalar()
    return found if found is not None else await create_conversation(session, chat_id, thread_id)


async def append_message(
    session: AsyncSession, chat_id: int, thread_id: int, values: dict[str, Any]
) -> MessageRecord:
    """Append a message with ``values`` (every column but the ids) to the (chat, topic)'s
    current conversation, creating the conversation (and chat) if none."""
    row = (await session.execute(append_to_current(chat_id, thread_id, values))).first()
    if row is None:  # the first message of this (chat, topic)
        conversation_id = await current_conversation_id(session, chat_id, thread_id)
        statement = insert(Message).values(conversation_id=conversation_id, **values)
        returning = statement.returning(Message.id, Message.conversation_id)
        row = (await session.execute(returning)).one()
    message_id, conversation_id = row
    return MessageRecord(
        id=message_id,
        chat_id=chat_id,
        thread_id=thread_id,
        conversation_id=conversation_id,
        **{**values, "status": ReplyStatus(values["status"]),
           "attachments": values["attachments"] or []},
    )


def message_values(**fields: Any) -> dict[str, Any]:
    """A new message's column values: ``fields``, optional columns None, created now."""
    optional = ("model", "provider", "image_file_id", "image_url", "error", "attachments",
                "reasoning")
    values: dict[str, Any] = dict.fromkeys(optional)
    values.update(fields, created_at=utcnow())
    return values


def user_values(
    content: str,
    telegram_message_id: int | None,
    attachments: list[dict[str, Any]] | None = None,
    status: ReplyStatus = ReplyStatus.COMPLETE,
) -> dict[str, Any]:
    """A user message's column values (:func:`message_values`); no attachments: None."""
    return message_values(
        role="user",
        content=content,
        telegram_message_ids=[] if telegram_message_id is None else [telegram_message_id],
        status=status.value,
        attachments=attachments or None,
    )


def reply_values(
    model: str | None,
    provider: str | None = None,
    status: ReplyStatus = ReplyStatus.STREAMING,
) -> dict[str, Any]:
    """A new, empty reply's column values (:func:`message_values`), ``STREAMING`` by default."""
    return message_values(
        role="assistant",
        content="",
        model=model,
        provider=provider,
        telegram_message_ids=[],
        status=status.value,
    )


async def context_rows(
    session: AsyncSession, chat_id: int, thread_id: int, limit: int
) -> list[tuple[str, str, list[dict[str, Any]] | None]]:
    """(role, content, attachments) of the newest ``limit`` usable messages of the current
    conversation, newest first: empty messages (without attachments), failed replies and the
    user messages of turns dropped by ``/stop`` (stored ``STOPPED``) are not usable as context."""
    usable = (
        or_(Message.content != "", Message.attachments.is_not(None)),
        Message.status != ReplyStatus.FAILED.value,
        or_(Message.role != "user", Message.status != ReplyStatus.STOPPED.value),
    )
    columns = (Message.role, Message.content, Message.attachments)
    statement = newest_in_current(chat_id, thread_id, limit, *usable, columns=columns)
    return [(role, content, files) for role, content, files in await session.execute(statement)]
