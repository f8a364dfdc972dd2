"""The inbox: every update is stored here before it counts as taken, whatever brought it.

Long polling stores a getUpdates batch with :meth:`Inbox.put` before it asks for the next
offset (which tells Telegram the batch was received: Telegram does not send it again); a
webhook would store an update before answering 200. An update is marked handled once the bot
has handled it; at start-up :meth:`Inbox.take_pending` gives the ones taken but not handled (a
crash, ``kill -9``), so they are answered after all. Handled rows are kept for a while
(:meth:`prune`), so an update Telegram sends again is recognised and not handled twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Conversation, InboxUpdate, Message, utcnow
from .records import InboxEntry
from .store import UNSYNCHRONIZED, Store

#: User messages of a chat looked at when checking whether a pending update's message is stored.
RECENT_USER_MESSAGES = 200


class Inbox:
    """The updates received, in the store's database (table ``inbox``). Database errors
    (``sqlalchemy.exc.SQLAlchemyError``) propagate unchanged."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def put(
        self,
        entries: Sequence[InboxEntry],
        *,
        also: Callable[[AsyncSession, list[int]], Awaitable[None]] | None = None,
    ) -> list[int]:
        """Store ``entries`` in one transaction (all or none); returns the ``update_id`` of
        those not stored before, in the given order (an update Telegram sent again is skipped).

        ``also(session, new_ids)`` is awaited in the same transaction, before the commit (the
        webhook ingress queues the new updates there: an update is stored and queued, or
        neither); what it raises rolls the transaction back and propagates."""
        if not entries:
            return []
        dialect = self.store.engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        now = utcnow()
        rows = [
            {
                "update_id": entry.update_id,
                "chat_id": entry.chat_id,
                "message_id": entry.message_id,
                "payload": entry.payload,
                "received_at": now,
                "handled_at": None,
            }
            for entry in entries
        ]
        statement = (
            insert(InboxUpdate)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[InboxUpdate.update_id])
            .returning(InboxUpdate.update_id)
        )
        async with self.store._write() as session:
            new = set((await session.execute(statement)).scalars())
            fresh = [entry.update_id for entry in entries if entry.update_id in new]
            if also is not None:
                await also(session, fresh)
        return fresh

    async def mark_handled(self, update_id: int) -> None:
        """The bot has handled the update (nothing happens for an unknown ``update_id``)."""
        statement = (
            update(InboxUpdate)
            .where(InboxUpdate.update_id == update_id, InboxUpdate.handled_at.is_(None))
            .values(handled_at=utcnow())
        )
        async with self.store._write() as session:
            await session.execute(statement, execution_options=UNSYNCHRONIZED)

    async def take_pending(self) -> list[InboxEntry]:
        """The updates stored but not handled, oldest first, to be handled again.

        One whose chat message is already a stored user message (its turn was recorded before
        the bot stopped: the reply is then ``INTERRUPTED`` and its chat told) is marked handled
        instead of being returned, so no message is answered twice.
        """
        pending = select(InboxUpdate).where(InboxUpdate.handled_at.is_(None))
        async with self.store._write() as session:
            rows = (await session.execute(pending.order_by(InboxUpdate.update_id))).scalars().all()
            taken: list[InboxEntry] = []
            stored: dict[int, set[int]] = {}
            for row in rows:
                if row.chat_id is not None and row.message_id is not None:
                    if row.chat_id not in stored:
                        stored[row.chat_id] = await _user_message_ids(session, row.chat_id)
                    if row.message_id in stored[row.chat_id]:
                        row.handled_at = utcnow()
                        continue
                taken.append(InboxEntry(row.update_id, dict(row.payload), row.chat_id,
                                        row.message_id))
            await session.flush()
        return taken

    async def was_recorded(self, chat_id: int, message_id: int) -> bool:
        """Whether the chat's message ``message_id`` is a stored user message (its turn was
        recorded: answering the update again would answer it twice)."""
        async with self.store._read() as session:
            return message_id in await _user_message_ids(session, chat_id)

    async def prune(self, older_than: timedelta = timedelta(days=2)) -> int:
        """Delete handled updates received more than ``older_than`` ago (Telegram keeps an
        update at most 24 hours); returns how many were deleted."""
        statement = delete(InboxUpdate).where(
            InboxUpdate.handled_at.is_not(None), InboxUpdate.received_at < utcnow() - older_than
        )
        async with self.store._write() as session:
            result = await session.execute(statement, execution_options=UNSYNCHRONIZED)
            return int(result.rowcount)  # type: ignore[attr-defined]


async def _user_message_ids(session: AsyncSession, chat_id: int) -> set[int]:
    """Telegram message ids of the chat's newest stored user messages (every topic)."""
    statement = (
        select(Message.telegram_message_ids)
        .join(Conversation, Message.conversation_id == Conversation.id)
        .where(Conversation.chat_id == chat_id, Message.role == "user")
        .order_by(Message.id.desc())
        .limit(RECENT_USER_MESSAGES)
    )
    return {tid for ids in (await session.execute(statement)).scalars() for tid in ids}
