"""Long polling through the inbox: an update is stored before it counts as taken.

PTB's own ``Updater`` confirms a getUpdates batch (asks for the next offset) before the batch
is handled, so a crash loses the updates fetched but not answered yet, and Telegram never sends
them again. :class:`InboxPoller` instead stores each batch in the :class:`~bot.storage.Inbox`
(one transaction) before it asks for the next offset, hands the new updates to the
application's update queue (so the update processor keeps each chat's order), and a handler in
the last group marks each update handled. At start-up the updates stored but never handled are
handed over first. While the database cannot store a batch, the offset stays where it is
(Telegram keeps the updates), each chat in the batch is told once, and storing is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from telegram import ReplyParameters, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.deps import target_of
from bot.draft import backoff
from bot.i18n import N_, SOURCE_LANGUAGE, _, using_language
from bot.language import language_of
from bot.storage import Inbox, InboxEntry, is_transient, retrying

log = logging.getLogger(__name__)

#: The handler group of the "handled" mark: after every other handler has run.
HANDLED_GROUP = 1_000_000
#: Seconds a getUpdates long poll waits for an update (Bot API ``timeout``).
POLL_TIMEOUT = 10
#: The Bot API update types the bot asks for (getUpdates and setWebhook ``allowed_updates``).
ALLOWED_UPDATES = ["message", "callback_query"]
#: Seconds between prunings of old handled updates from the inbox.
PRUNE_INTERVAL = 3600.0

NOT_KEPT = N_(
    "⚠️ I can't store messages right now (my database is unavailable), so I can't answer yet. "
    "I'll answer as soon as it is back."
)


def entry_of(update: Update) -> InboxEntry:
    """The inbox entry of an update: its JSON, and the chat message it carries (if any)."""
    message = update.message
    return InboxEntry(
        update.update_id,
        update.to_dict(),
        None if message is None else message.chat.id,
        None if message is None else message.message_id,
    )


class InboxPoller:
    """Fetches updates with getUpdates, stores them in ``inbox``, hands them to ``application``.

    ``allowed_updates``: the Bot API update types asked for. ``retry_timeout``: seconds the
    "handled" mark and the start-up read of pending updates are retried while the database
    fails (a batch is retried for as long as it takes: Telegram keeps it 24 hours).
    """

    def __init__(
        self,
        application: Application,
        inbox: Inbox,
        *,
        allowed_updates: list[str],
        retry_timeout: float,
        poll_timeout: int = POLL_TIMEOUT,
    ) -> None:
        self.application, self.inbox = application, inbox
        self.allowed_updates, self.retry_timeout = allowed_updates, retry_timeout
        self.poll_timeout = poll_timeout
        self._task: asyncio.Task[None] | None = None
        self._told: set[int] = set()  # chats told their message was not kept (this outage)
        mark_handled_after_handlers(application, inbox, retry_timeout)

    async def start(self) -> None:
        """Hand over the updates taken but not handled before (oldest first), then poll.

        Raises the database's error if the pending updates cannot be read within
        ``retry_timeout`` seconds."""
        pending = await retrying(
            self.inbox.take_pending, within=self.retry_timeout, what="reading pending updates"
        )
        if pending:
            log.info("handling %d update(s) received before a restart", len(pending))
        bot = self.application.bot
        for entry in pending:
            update = Update.de_json(entry.payload, bot)
            if update is not None:
                await self.application.update_queue.put(update)
        await bot.delete_webhook()  # getUpdates answers 409 while a webhook is set
        self._task = asyncio.create_task(self._poll(), name="InboxPoller")

    async def stop(self) -> None:
        """Stop polling (an update being stored is stored or not: never half)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self) -> None:
        bot = self.application.bot
        offset: int | None = None
        failures = 0
        loop = asyncio.get_running_loop()
        pruned_at = -PRUNE_INTERVAL
        while True:
            if loop.time() - pruned_at >= PRUNE_INTERVAL:
                pruned_at = loop.time()
                await self._prune()
            try:
                updates = await bot.get_updates(
                    offset=offset,
                    timeout=self.poll_timeout,
                    allowed_updates=self.allowed_updates,
                )
            except InvalidToken:
                log.error("the Bot API rejected the token: polling stopped")
                return
            except TelegramError as error:
                failures += 1
                log.warning("getUpdates failed (%s); trying again", error)
                await asyncio.sleep(backoff(failures))
                continue
            if not updates:
                continue
            try:
                new = set(await self.inbox.put([entry_of(update) for update in updates]))
            except Exception as error:
                if not is_transient(error):
                    raise
                failures += 1
                log.warning("could not store %d update(s): %s; trying again", len(updates), error)
                await self._tell_not_kept(updates)
                await asyncio.sleep(backoff(failures))
                continue  # same offset: Telegram sends the batch again
            failures = 0
            self._told.clear()
            offset = updates[-1].update_id + 1
            for update in updates:
                if update.update_id in new:
                    await self.application.update_queue.put(update)

    async def _prune(self) -> None:
        try:
            pruned = await self.inbox.prune()
        except Exception:
            log.warning("could not prune the inbox", exc_info=True)
            return
        if pruned:
            log.info("pruned %d old handled update(s) from the inbox", pruned)

    async def _tell_not_kept(self, updates: list[Update]) -> None:
        """Tell each chat of ``updates`` (once per outage) that its message waits."""
        for update in updates:
            message = update.message
            if message is None or message.chat.id in self._told:
                continue
            self._told.add(message.chat.id)
            user = message.from_user
            deps = self.application.bot_data.get("deps")
            default = deps.settings.default_language if deps is not None else SOURCE_LANGUAGE
            # The database is down: the chat's choice cannot be read.
            language = language_of(None, user.language_code if user else None, default)
            try:
                with using_language(language):
                    text = _(NOT_KEPT)
                await self.application.bot.send_message(
                    message.chat.id,
                    text,
                    message_thread_id=target_of(message).thread_id or None,
                    reply_parameters=ReplyParameters(
                        message.message_id, allow_sending_without_reply=True
                    ),
                )
            except TelegramError as error:
                log.warning("could not tell chat %s its message waits: %s", message.chat.id, error)


def mark_handled_after_handlers(
    application: Application, inbox: Inbox, retry_timeout: float
) -> None:
    """Mark each update handled in ``inbox`` once every other handler has run (a handler in
    :data:`HANDLED_GROUP`); the write is retried for ``retry_timeout`` seconds, then logged."""

    async def mark_handled(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Any:
        try:
            await retrying(
                lambda: inbox.mark_handled(update.update_id),
                within=retry_timeout,
                what=f"marking update {update.update_id} handled",
            )
        except Exception:
            # message is recognised (not answered twice); a command would run again.
            log.exception("could not mark update %s handled", update.update_id)

    application.add_handler(TypeHandler(Update, mark_handled), group=HANDLED_GROUP)
