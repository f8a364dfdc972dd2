"""The inbox: every update is stored here before it counts as taken, whatever brought it.

Long polling stores a getUpdates batch with :meth:`Inbox.put` before it asks for the next
offset (which tells Telegram the batch was received: Telegram does not send it again); a
webhook would store an update before answering 200. An update is marked handled once the bot
has handled it; at start-up :meth:`Inbox.take_pending` gives the ones taken but not handled (a
crash, ``kill -9``), so they are answered after all. Handled rows are kept for a while
(:meth:`prune`), so an update Telegram sends again is recognised and not handled twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from .models import Base, Conversation, InboxUpdate, Message, UTCDateTime, utcnow
from .queries import upsert
from .records import InboxEntry
from .store import UNSYNCHRONIZED, Store

#: User messages of a chat looked at when checking whether a pending update's message is stored.
RECENT_USER_MESSAGES = 200


#: Marks the updates ``ids`` (a list) handled at ``now``, those not marked yet (built once).
INBOX: Table = Base.metadata.tables["inbox"]
MARK_HANDLED = (
    update(INBOX)
    .where(INBOX.c.update_id.in_(bindparam("ids", expanding=True)), INBOX.c.handled_at.is_(None))
    .values(handled_at=bindparam("now", type_=UTCDateTime()))
)


class Inbox:
    """The updates received, in the store's database (table ``inbox``). Database errors
    (``sqlalchemy.exc.SQLAlchemyError``) propagate unchanged."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # One statement for any number of rows (SQLAlchemy's "insertmanyvalues" batches the
        # parameter sets into multi-row VALUES itself), built once: compiled once and cached,
        # where .values(rows) made a statement SQLAlchemy cannot cache.
        self._put = (
            upsert(store.engine.dialect.name, INBOX)
            .on_conflict_do_nothing(index_elements=[INBOX.c.update_id])
            .returning(INBOX.c.update_id)
        )
        # "Handled" marks waiting for the next write (group commit): update_id, its waiter.
        self._marks: list[tuple[int, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def put(
        self,
        entries: Sequence[InboxEntry],
        *,
        also: Callable[[AsyncConnection, list[int]], Awaitable[None]] | None = None,
    ) -> list[int]:
        """Store ``entries`` in one transaction (all or none); returns the ``update_id`` of
        those not stored before, in the given order (an update Telegram sent again is skipped).

        ``also(connection, new_ids)`` is awaited in the same transaction, before the commit (the
        webhook ingress queues the new updates there: an update is stored and queued, or
        neither); what it raises rolls the transaction back and propagates."""
        if not entries:
            return []
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
        async with self.store._writing() as connection:
            new = set((await connection.execute(self._put, rows)).scalars())
            fresh = [entry.update_id for entry in entries if entry.update_id in new]
            if also is not None:
                await also(connection, fresh)
        return fresh

    async def mark_handled(self, update_id: int) -> None:
        """The bot has handled the update (nothing happens for an unknown ``update_id``);
        returns once the mark is committed, and raises the database's error if it is not.

        Marks asked for while another is being written (e.g. many chats' turns ending
        together) are committed together in the next single transaction: one write for all of
        them instead of one each, each caller still waiting for its own mark."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._marks.append((update_id, waiter))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._write_marks())
        await asyncio.shield(waiter)

    async def _write_marks(self) -> None:
        """Commit the waiting marks, batch after batch, until none is left."""
        while self._marks:
            batch: list[tuple[int, asyncio.Future[None]]] = []
            try:
                async with self.store._writing() as connection:
                    # Taken once the write lock is held: marks that queued meanwhile join.
                    batch, self._marks = self._marks, []
                    ids = [update_id for update_id, _ in batch]
                    await connection.execute(MARK_HANDLED, {"ids": ids, "now": utcnow()})
            except BaseException as error:
                for _, waiter in batch or self._marks:
                    if not waiter.done():
                        waiter.set_exception(
                            error if isinstance(error, Exception) else RuntimeError(repr(error))
                        )
                if not batch:
                    self._marks = []
                if not isinstance(error, Exception):
                    raise
            else:
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_result(None)

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
