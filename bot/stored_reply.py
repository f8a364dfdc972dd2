"""The stored side of a running turn: its records, the reply's partial text, its final state.

A turn is recorded (the user's message and an empty ``STREAMING`` reply) while the provider
starts; the reply's text is saved every few seconds while it streams and its final state
(complete, stopped, failed: always with the text so far) once it ends. The writes that can
wait (the records, the final state) are retried while the database is locked or unreachable,
for ``retry_timeout`` seconds (:func:`bot.storage.retrying`); partial saves are not (the next
one will do). When one could not be done, :attr:`StoredReply.kept` is False and the service
tells the user.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.i18n import N_
from bot.storage import MessageRecord, Store, retrying
from bot.storage.records import UsageEntry
from providers import Usage

log = logging.getLogger(__name__)

NOT_KEPT = N_(
    "⚠️ I could not save this exchange (my database is unavailable): it will be missing from "
    "the conversation's history."
)


class StoredReply:
    """The stored reply of one running turn.

    ``record()`` records the turn and returns the reply's row (``Store.record_turn``); it is
    started at once, in a task. ``partial_save_interval``: seconds between saves of the
    streaming text. ``retry_timeout``: seconds a write that can wait is retried. ``user_id``:
    who asked; the first final save records the reply's :attr:`usage` for them (the tokens the
    provider reported in a ``Usage`` chunk, or unknown), in the same write.
    """

    def __init__(
        self,
        store: Store,
        record: Callable[[], Awaitable[MessageRecord]],
        model: str,
        *,
        partial_save_interval: float,
        retry_timeout: float,
        user_id: int | None = None,
    ) -> None:
        self.store, self.model = store, model
        self.partial_save_interval, self.retry_timeout = partial_save_interval, retry_timeout
        self.recording = asyncio.create_task(
            retrying(record, within=retry_timeout, what="recording a turn")
        )
        self.chunks: list[str] = []  # the text the model sent so far
        self.thoughts: list[str] = []  # its reasoning so far: stored apart, never history
        self.kept = True  # False once a record or the final state could not be saved
        self.user_id = user_id
        self.usage: Usage | None = None  # what the provider reported, if it did
        self._counted = False  # the usage is recorded with the first final save
        self._saved_at = asyncio.get_running_loop().time()

    @property
    def received(self) -> str:
        """The text the model sent so far (stripped, as Telegram shows it)."""
        return "".join(self.chunks).strip()

    @property
    def reasoning(self) -> str:
        """The model's reasoning so far (stripped; ``""``: none)."""
        return "".join(self.thoughts).strip()

    async def stored(self) -> MessageRecord | None:
        """The reply's row once recorded; ``None`` (and ``kept`` False) if it could not be."""
        try:
            return await self.recording
        except Exception:
            log.exception("could not record a turn")
            self.kept = False
            return None

    async def update(self, **fields: Any) -> None:
        """Save the reply's final fields (the model and the reasoning so far are set too),
        retried; never raises."""
        stored = await self.stored()
        if stored is None:
            return
        if reasoning := self.reasoning:
            fields.setdefault("reasoning", reasoning)

        usage = None
        if not self._counted:
            self._counted = True
            usage = UsageEntry(stored.chat_id, self.user_id)  # nothing reported: unknown
            if self.usage is not None:
                reported = self.usage
                usage = UsageEntry(
                    stored.chat_id, self.user_id,
                    reported.prompt_tokens, reported.completion_tokens, reported.cost,
                )

        async def save() -> None:
            await self.store.update_reply(stored.id, model=self.model, usage=usage, **fields)

        try:
            await retrying(save, within=self.retry_timeout, what="saving a reply")
        except LookupError:
            log.info("reply %s was deleted (/forget) before it ended", stored.id)
        except Exception:
            log.exception("could not save reply %s", stored.id)
            self.kept = False

    async def on_write(self, text: str, message_ids: list[int]) -> None:
        """The streamer wrote ``text``: save it if the last save is old enough (not retried:
        a failure is raised to the streamer, which logs it; the next save will do)."""
        now = asyncio.get_running_loop().time()
        if now - self._saved_at < self.partial_save_interval:
            return
        self._saved_at = now
        stored = await self.stored()
        if stored is not None:
            await self.store.update_reply(
                stored.id, model=self.model, content=text, telegram_message_ids=list(message_ids)
            )
