"""A group upgraded to a supergroup: its stored history follows it to the new chat id.

Telegram sends a service message in the old group (``migrate_to_chat_id``) and one in the new
supergroup (``migrate_from_chat_id``); either moves the old id's stored data
(:meth:`bot.storage.Store.move_chat`; the second finds nothing left to move). A reply being
written when the group was upgraded follows it too (see ``bot.draft``: ``ChatMigrated``).
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.language import chat_moved
from bot.storage import Store, retrying

log = logging.getLogger(__name__)


def register(application: Application, store: Store, retry_timeout: float) -> None:
    """Handle the migration service messages of ``application``'s updates (group -1: before
    the other handlers, which ignore service messages)."""

    async def on_migrate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        if message.migrate_to_chat_id:
            old, new = message.chat.id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id:
            old, new = message.migrate_from_chat_id, message.chat.id
        else:
            return
        moved = await retrying(
            lambda: store.move_chat(old, new), within=retry_timeout, what="moving a chat"
        )
        if moved:
            log.info("group %s became supergroup %s: its history moved", old, new)
        chat_moved(context.application, old, new)

    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, on_migrate), group=-1)
