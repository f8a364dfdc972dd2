"""SQLAlchemy 2 typed declarative models: chats, conversations, messages, usage, inbox.

The schema the Alembic migrations in ``migrations/versions`` build; a test compares the two
with Alembic's ``compare_metadata``. Constraint names come from ``NAMING_CONVENTION`` so that
batch migrations on SQLite can find them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .records import ROLES, ReplyStatus

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Row ids: 64-bit on PostgreSQL; on SQLite "INTEGER PRIMARY KEY" (the 64-bit rowid).
RowId = BigInteger().with_variant(Integer(), "sqlite")


class JSONDocument(TypeDecorator[Any]):
    """A JSON document: JSONB on PostgreSQL, JSON text on SQLite.

    ``none_as_null=True``: Python ``None`` is SQL NULL (not the JSON value null). PostgreSQL's
    type is imported only when a PostgreSQL database is used, so a bot on SQLite never loads
    SQLAlchemy's PostgreSQL dialect (about 2 MiB of resident set and 30 ms of start-up CPU,
    measured with ``benchmarks.streaming --startup-only``).
    """

    impl = JSON
    cache_ok = True

    def __init__(self, *, none_as_null: bool = False) -> None:
        super().__init__(none_as_null=none_as_null)
        self.none_as_null = none_as_null

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB(none_as_null=self.none_as_null))
        return dialect.type_descriptor(JSON(none_as_null=self.none_as_null))


Json = JSONDocument()
NullableJson = JSONDocument(none_as_null=True)


STREAMING_ONLY = f"status = '{ReplyStatus.STREAMING.value}'"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is stored as naive
    UTC text and marked UTC again when read. Binding a naive datetime raises ``ValueError``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Chat(Base):
    """A Telegram chat: its type, chosen model and settings (per chat, not per topic)."""

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Conversation(Base):
    """One history of a (chat, forum topic); the newest one is the current one."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index(None, "chat_id", "thread_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("chats.id", ondelete="CASCADE"))
    thread_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Message(Base):
    """A message of a conversation; ``id`` order is insertion order."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(_one_of("role", ROLES), name="role"),
        CheckConstraint(_one_of("status", tuple(ReplyStatus)), name="status"),
        # Context and history: newest first with LIMIT within one conversation.
        Index(None, "conversation_id", "id"),
        # Start-up scan for replies left streaming: tiny, as few rows ever match.
        Index(
            "ix_messages_streaming",
            "id",
            sqlite_where=text(STREAMING_ONLY),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        RowId, ForeignKey("conversations.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(Text)
    telegram_message_ids: Mapped[list[int]] = mapped_column(Json)
    image_file_id: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Files the user sent with the message (migration 0003): [{"kind", "file_id", ...}] or NULL.
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(NullableJson)
    # A reply's reasoning, apart from its content and never sent as history (migration 0005).
    reasoning: Mapped[str | None] = mapped_column(Text)


class ReplyUsage(Base):
    """What one reply cost (migration 0006): the tokens the endpoint reported (``None``: it
    reported none), its ``cost`` when it reported one, the chat and the user who asked.

    Not tied to ``messages``: ``/forget`` deletes a chat's messages but not its usage, so a
    budget is not reset by it."""

    __tablename__ = "usage"
    __table_args__ = (
        # A user's totals since a time (budgets, /usage), and a chat's.
        Index(None, "user_id", "created_at"),
        Index(None, "chat_id", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


PENDING_ONLY = "handled_at IS NULL"


class InboxUpdate(Base):
    """An update as received (polling or webhook), stored before it counts as taken.

    ``update_id`` is the Bot API's; ``payload`` is the update's JSON as received; ``chat_id``
    and ``message_id`` say which chat message it carries (``None``: none), so that an update
    whose message is already in a conversation is not answered twice; ``handled_at`` is set
    once the bot has handled it (``None``: pending).
    """

    __tablename__ = "inbox"
    __table_args__ = (
        # Start-up scan for updates taken but not handled: tiny, as few rows ever match.
        Index(
            "ix_inbox_pending",
            "update_id",
            sqlite_where=text(PENDING_ONLY),
        ),
    )

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


#: The partial indexes and their conditions; :func:`add_postgresql_options` gives them to
#: PostgreSQL too (an index's ``postgresql_where`` loads SQLAlchemy's PostgreSQL dialect).
PARTIAL_INDEXES = (
    ("messages", "ix_messages_streaming", STREAMING_ONLY),
    ("inbox", "ix_inbox_pending", PENDING_ONLY),
)


def add_postgresql_options() -> None:
    """Make the partial indexes partial on PostgreSQL too (``postgresql_where``), as the
    migrations create them. Called when a PostgreSQL engine is created
    (:func:`bot.storage.engine.create_engine`), so that DDL made from the models (e.g.
    ``metadata.create_all``) has them; on SQLite the PostgreSQL dialect is never imported.
    Calling it again changes nothing."""
    for table, name, condition in PARTIAL_INDEXES:
        (index,) = (i for i in Base.metadata.tables[table].indexes if i.name == name)
        if index.dialect_options["postgresql"]["where"] is None:
            index.dialect_kwargs["postgresql_where"] = text(condition)
