"""Wiring: the only module (with ``__main__``) that knows every layer.

:func:`serve` is what ``python -m bot`` runs and what the end-to-end tests run: it upgrades the
database, builds the application, waits for Telegram to answer (:mod:`bot.lifecycle`),
registers the command menu, tells chats whose reply a restart interrupted, and long-polls through
the inbox (:mod:`bot.polling`: updates taken before a restart are handled first) until
``stop`` is set; then it shuts down within ``SHUTDOWN_GRACE`` seconds and a little more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from telegram.ext import Application, ApplicationBuilder

import providers.settings
from bot import chat_migration, handlers
from bot.flood import FloodControl
from bot.health import Heartbeat, HeartbeatRequest, heartbeat_path
from bot.lifecycle import connect, set_command_menu, shut_down
from bot.ordering import ChatOrderedUpdateProcessor
from bot.polling import ALLOWED_UPDATES, InboxPoller
from bot.retries import RetryingRateLimiter
from bot.service import ChatService
from bot.settings import Settings
from bot.storage import Inbox, MessageRecord, Store, upgrade_in_subprocess
from bot.streamer import ReplyStreamer
from providers import ModelRegistry, default_registry

log = logging.getLogger(__name__)

INTERRUPTED = "⚠️ My previous reply was interrupted by a restart. Send /retry to get it again."


class TokenFormatter(logging.Formatter):
    """Formats log records, tracebacks included, with the bot token replaced by ``<token>``
    (httpx and PTB log request URLs, and PTB's InvalidToken message holds the token)."""

    def __init__(self, secret: str, fmt: str) -> None:
        super().__init__(fmt)
        self.secret = secret

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text.replace(self.secret, "<token>") if self.secret else text


def configure_logging(settings: Settings) -> None:
    """Log to stderr at LOG_LEVEL; the token never appears (httpx's URL logging is silenced)."""
    logging.basicConfig(level=settings.log_level)
    formatter = TokenFormatter(
        settings.telegram_bot_token.get_secret_value(),
        "%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def build_application(
    settings: Settings, store: Store, registry: ModelRegistry, heartbeat: Heartbeat | None = None
) -> Application:
    """The PTB application with every handler, our flood control, and the per-chat order;
    each successful getUpdates beats ``heartbeat``."""
    flood = FloodControl()
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.file_base_url)
        .rate_limiter(RetryingRateLimiter(flood))
        .concurrent_updates(ChatOrderedUpdateProcessor())
        .updater(None)  # bot.polling.InboxPoller fetches the updates
    )
    if heartbeat is not None:
        builder = builder.get_updates_request(HeartbeatRequest(heartbeat))
    application = builder.build()
    streamer = ReplyStreamer(
        application.bot,
        flood,
        edit_interval=settings.stream_edit_interval,
        group_edit_interval=settings.group_stream_edit_interval,
    )
    application.bot_data["deps"] = handlers.Deps(
        ChatService(store, registry, settings), streamer, settings
    )
    handlers.register(application)
    chat_migration.register(application, store, settings.storage_retry_timeout)
    application.add_error_handler(_log_error)
    return application


async def _log_error(update: object, context: Any) -> None:
    log.error("error while handling an update", exc_info=context.error)


async def _tell_interrupted(application: Application, store: Store) -> None:
    """Chats whose reply was being written when the bot stopped learn it and can /retry."""
    await tell_interrupted(application, await store.mark_interrupted())


async def tell_interrupted(application: Application, replies: Sequence[MessageRecord]) -> None:
    """Tell the chat of each of ``replies`` (marked ``INTERRUPTED``) that it can /retry; a
    chat that cannot be reached is logged and skipped."""
    deps: handlers.Deps = application.bot_data["deps"]
    for reply in replies:
        try:
            await deps.streamer.send_text(
                reply.chat_id,
                INTERRUPTED,
                message_thread_id=reply.thread_id or None,
                markdown=False,
            )
        except Exception:  # noqa: BLE001 - one unreachable chat must not stop start-up
            log.warning("could not tell chat %s about an interrupted reply", reply.chat_id)


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the bot until ``stop`` is set: migrate, wait for Telegram, poll, answer, shut down.

    Raises :class:`bot.lifecycle.StartupError` when Telegram rejects the token or the URL, and
    :class:`bot.storage.SchemaUpgradeError` when the database cannot be upgraded.
    """
    providers.settings.configure(settings)
    # In a child process, so that this long-running one never loads Alembic (~11 MiB).
    await upgrade_in_subprocess(settings.database_url)
    store = await Store.open(settings.database_url, migrate=False)
    heartbeat = Heartbeat(heartbeat_path(settings))
    try:
        registry = default_registry(settings)
        application = build_application(settings, store, registry, heartbeat)
        poller = InboxPoller(
            application,
            Inbox(store),
            allowed_updates=ALLOWED_UPDATES,
            retry_timeout=settings.storage_retry_timeout,
        )
        if not await connect(application, stop, settings.telegram_api_base_url):
            return  # told to stop before Telegram answered
        try:
            await set_command_menu(application.bot, handlers.COMMANDS)
            await _tell_interrupted(application, store)
            await application.start()
            await poller.start()
            log.info("bot @%s is polling", application.bot.username)
            await stop.wait()
            log.info("stopping: replies being written get %g s to finish", settings.shutdown_grace)
            deps: handlers.Deps = application.bot_data["deps"]
            await shut_down(deps.service.turns, settings.shutdown_grace, poller.stop)
            await application.stop()
        finally:
            await application.shutdown()
    finally:
        heartbeat.clear()
        await store.close()
        providers.settings.configure(None)
