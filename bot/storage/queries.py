"""Statements, steps and row-to-record conversions shared by ``Store``'s units of work.

The steps take the unit of work's connection (``AsyncConnection``; an ORM session's own, from
``await session.connection()``, inside a session's unit of work) and run inside its
transaction. They are Core statements built once, with bind parameters: SQLAlchemy then skips
building, coercing and hashing a new statement at every call (what a turn's storage work spent
most of its CPU on; ``benchmarks.storage_turn``)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    Insert,
    Integer,
    Row,
    Select,
    Table,
    Update,
    bindparam,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from .models import Base, Conversation, Message, UTCDateTime, utcnow
from .records import ChatRecord, MessageRecord, ReplyStatus

CHATS: Table = Base.metadata.tables["chats"]
CONVERSATIONS: Table = Base.metadata.tables["conversations"]
MESSAGES: Table = Base.metadata.tables["messages"]
USAGE: Table = Base.metadata.tables["usage"]


def chat_record(chat: Any) -> ChatRecord:
    """The record of a chat: an ORM ``Chat`` or a row of the ``chats`` table."""
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


def with_origin() -> Select[Message, int, int]:
    return select(Message, Conversation.chat_id, Conversation.thread_id).join(
        Conversation, Message.conversation_id == Conversation.id
    )


# Built once; each takes the bind parameters ``chat_id`` and ``thread_id`` (a (chat, topic)).

#: The id of the (chat, topic)'s current (newest) conversation.
CURRENT_CONVERSATION = (
    select(CONVERSATIONS.c.id)
    .where(
        CONVERSATIONS.c.chat_id == bindparam("chat_id"),
        CONVERSATIONS.c.thread_id == bindparam("thread_id"),
    )
    .order_by(CONVERSATIONS.c.id.desc())
    .limit(1)
)


def newest_in_current(
    limit: Any, *conditions: Any, columns: tuple[Any, ...] = (Message,)
) -> Select[Any]:
    """The newest ``limit`` messages (``columns`` of them) of the current conversation of the
    (chat, topic) given as the bind parameters ``chat_id`` and ``thread_id``, that meet
    ``conditions``, newest first: one index range scan on (conversation_id, id) backwards, the
    current conversation found by a subquery (:data:`CURRENT_CONVERSATION`)."""
    return (
        select(*columns)
        .where(MESSAGES.c.conversation_id == CURRENT_CONVERSATION.scalar_subquery(), *conditions)
        .order_by(MESSAGES.c.id.desc())
        .limit(limit)
    )


#: The chat's row (``chat_id``).
CHAT_ROW = select(CHATS).where(CHATS.c.id == bindparam("chat_id"))

#: The chat's row, locked until the transaction ends (``FOR UPDATE`` on PostgreSQL; SQLite's
#: ``BEGIN IMMEDIATE`` already holds the write lock).
LOCK_CHAT = CHAT_ROW.with_for_update()

#: (role, content, attachments) of the newest ``limit`` usable messages of the current
#: conversation, newest first: empty messages (without attachments), failed replies and the
#: user messages of turns dropped by ``/stop`` (stored ``STOPPED``) are not usable as context.
CONTEXT_ROWS = newest_in_current(
    bindparam("limit", type_=Integer()),
    or_(MESSAGES.c.content != "", MESSAGES.c.attachments.is_not(None)),
    MESSAGES.c.status != ReplyStatus.FAILED.value,
    or_(MESSAGES.c.role != "user", MESSAGES.c.status != ReplyStatus.STOPPED.value),
    columns=(MESSAGES.c.role, MESSAGES.c.content, MESSAGES.c.attachments),
)

#: A new conversation (``chat_id``, ``thread_id``); returns its id.
NEW_CONVERSATION = insert(CONVERSATIONS).returning(CONVERSATIONS.c.id)

#: A message (every column but ``id``); returns its id and conversation id.
NEW_MESSAGE = insert(MESSAGES).returning(MESSAGES.c.id, MESSAGES.c.conversation_id)

#: Whether the message ``message_id`` exists (its id, or no row).
MESSAGE_EXISTS = select(MESSAGES.c.id).where(MESSAGES.c.id == bindparam("message_id"))

#: A reply's usage row (every column but ``id``).
NEW_USAGE = insert(USAGE)


#: The name of the bind parameter that carries column ``{}``'s new value in
#: :func:`update_message` and :func:`append_to_current` (SQLAlchemy keeps a column's own name
#: for itself in SET and VALUES).
NEW_VALUE = "v_{}"


def new_value(name: str) -> BindParameter[Any]:
    """The bind parameter of the ``messages`` column ``name``'s new value (:data:`NEW_VALUE`)."""
    return bindparam(NEW_VALUE.format(name), type_=MESSAGES.c[name].type)


def new_values(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (column name: new value) as the parameters of :func:`update_message` and
    :func:`append_to_current`."""
    return {NEW_VALUE.format(name): value for name, value in values.items()}


@cache
def update_message(names: tuple[str, ...]) -> Update:
    """``UPDATE messages SET <names> WHERE id = :message_id``; the new values are
    :func:`new_values`."""
    values = {name: new_value(name) for name in names}
    return update(MESSAGES).where(MESSAGES.c.id == bindparam("message_id")).values(values)


@cache
def append_to_current(names: tuple[str, ...]) -> Insert:
    """``INSERT INTO messages (...) SELECT <current conversation's id>, <values> ...
    RETURNING id, conversation_id``: an append in one statement, which inserts nothing (and
    returns no row) when the (chat, topic) has no conversation yet. The values of ``names``
    are :func:`new_values`."""
    source = CURRENT_CONVERSATION.add_columns(*(new_value(name) for name in names))
    return insert(MESSAGES).from_select(["conversation_id", *names], source).returning(
        MESSAGES.c.id, MESSAGES.c.conversation_id
    )


def upsert(dialect: str, table: Any) -> Any:
    """``INSERT`` into ``table`` (a ``Table`` or a model) with ``on_conflict_do_nothing``
    available, for the ``dialect`` (``"postgresql"`` or ``"sqlite"``); the PostgreSQL dialect
    is imported only when it is the one in use."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)


@cache
def _ensure_chat(dialect: str) -> Insert:
    values: dict[str, Any] = {
        "id": bindparam("chat_id"),
        "type": bindparam("chat_type"),
        "model": None,
        "settings": {},
        "created_at": bindparam("now", type_=UTCDateTime()),
    }
    statement = upsert(dialect, CHATS).values(values)
    return statement.on_conflict_do_nothing(index_elements=[CHATS.c.id])


async def ensure_chat(connection: AsyncConnection, chat_id: int, type: str) -> None:
    """Insert the chat unless it exists (INSERT ... ON CONFLICT DO NOTHING: no race)."""
    params = {"chat_id": chat_id, "chat_type": type, "now": utcnow()}
    await connection.execute(_ensure_chat(connection.dialect.name), params)


async def lock_chat(connection: AsyncConnection, chat_id: int, type: str) -> Row[Any]:
    """The chat's row, inserted if missing (with ``type``) and locked until the transaction
    ends (:data:`LOCK_CHAT`)."""
    await ensure_chat(connection, chat_id, type)
    return (await connection.execute(LOCK_CHAT, {"chat_id": chat_id})).one()


async def create_conversation(connection: AsyncConnection, chat_id: int, thread_id: int) -> int:
    """Insert a conversation for the (chat, topic); returns its id."""
    params = {"chat_id": chat_id, "thread_id": thread_id, "created_at": utcnow()}
    return int((await connection.execute(NEW_CONVERSATION, params)).scalar_one())


async def current_conversation_id(
    connection: AsyncConnection, chat_id: int, thread_id: int, chat_type: str = "private"
) -> int:
    """Id of the (chat, topic)'s newest conversation, created (with the chat, of
    ``chat_type``, if missing) if none."""
    where = {"chat_id": chat_id, "thread_id": thread_id}
    found = (await connection.execute(CURRENT_CONVERSATION, where)).scalar()
    if found is not None:
        return int(found)
    await lock_chat(connection, chat_id, chat_type)
    # Read again under the chat's lock: a concurrent caller may have created it meanwhile.
    found = (await connection.execute(CURRENT_CONVERSATION, where)).scalar()
    if found is not None:
        return int(found)
    return await create_conversation(connection, chat_id, thread_id)


async def append_message(
    connection: AsyncConnection,
    chat_id: int,
    thread_id: int,
    values: dict[str, Any],
    chat_type: str = "private",
) -> MessageRecord:
    """Append a message with ``values`` (every column but the ids) to the (chat, topic)'s
    current conversation, creating the conversation (and the chat, of ``chat_type``) if none:
    one statement when the conversation exists (its chat then exists too)."""
    params = new_values(values)
    params.update(chat_id=chat_id, thread_id=thread_id)
    statement = append_to_current(tuple(values))
    row = (await connection.execute(statement, params)).first()
    if row is None:  # the first message of this (chat, topic)
        conversation_id = await current_conversation_id(connection, chat_id, thread_id, chat_type)
        params = {"conversation_id": conversation_id, **values}
        row = (await connection.execute(NEW_MESSAGE, params)).one()
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
    connection: AsyncConnection, chat_id: int, thread_id: int, limit: int
) -> list[tuple[str, str, list[dict[str, Any]] | None]]:
    """:data:`CONTEXT_ROWS` of the (chat, topic), at most ``limit``."""
    params = {"chat_id": chat_id, "thread_id": thread_id, "limit": limit}
    rows = await connection.execute(CONTEXT_ROWS, params)
    return [(role, content, files) for role, content, files in rows]
