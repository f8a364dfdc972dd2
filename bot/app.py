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
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp.connector
import httpx
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

import providers.settings
from bot import chat_migration, handlers
from bot.health import Heartbeat, HeartbeatRequest, heartbeat_path
from bot.i18n import N_, _, current_language, using_language
from bot.language import chosen_language, load_choices
from bot.lifecycle import (
    close_flood,
    connect,
    flood_budget,
    set_command_menu,
    shut_down,
    stop_signals,
)
from bot.model_choice import FIRST_RUN, make_registry
from bot.model_refresh import keep_model_lists_fresh
from bot.ordering import ChatOrderedUpdateProcessor
from bot.polling import ALLOWED_UPDATES, InboxPoller
from bot.racing import cancel_all
from bot.retries import RetryingRateLimiter
from bot.service import ChatService
from bot.settings import Settings
from bot.storage import Inbox, MessageRecord, Store, upgrade_in_subprocess
from bot.streamer import ReplyStreamer
from providers import ModelRegistry

log = logging.getLogger(__name__)

INTERRUPTED = N_(
    "⚠️ My previous reply was interrupted by a restart. Send /retry to get it again."
)



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


#: Connections to the Bot API at once (PTB's default for its request object).
CONNECTION_POOL_SIZE = 256

#: Idle connections to the Bot API kept open for the next requests: httpx's own default. PTB
#: keeps up to CONNECTION_POOL_SIZE open, and httpcore's pool looks at each kept connection
#: (two system calls on its socket) at the start and the end of every request. At 30 writes
#: per second (the Bot API's bot-wide limit) and a round trip of 0.1-0.3 s, about 3-9
#: requests are in flight at once.
KEEPALIVE_CONNECTIONS = 20


def tls_context() -> ssl.SSLContext:
    """The verifying TLS context the Bot API clients use: the one aiohttp (the providers'
    client) makes when it is imported (``ssl.create_default_context()``: the system's CA
    store, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), so that the process loads the CA store once
    more rather than twice (each load costs about 18 ms of CPU and 0.65 MiB). aiohttp keeps it
    in a private name; should that go, a context of the same kind is made here."""
    made_by_aiohttp = getattr(aiohttp.connector, "_SSL_CONTEXT_VERIFIED", None)
    if isinstance(made_by_aiohttp, ssl.SSLContext):
        return made_by_aiohttp
    return ssl.create_default_context()  # pragma: no cover - an aiohttp without it


def _requests(heartbeat: Heartbeat | None) -> tuple[HTTPXRequest, HTTPXRequest]:
    """PTB's two HTTPX clients (the Bot API's methods; getUpdates, which beats ``heartbeat``)
    as ``ApplicationBuilder`` makes them, but with one TLS context between them and the
    providers' client (:func:`tls_context`) instead of one each, and at most
    :data:`KEEPALIVE_CONNECTIONS` idle connections kept for the methods."""
    shared: dict[str, Any] = {"verify": tls_context()}
    limits = httpx.Limits(
        max_connections=CONNECTION_POOL_SIZE, max_keepalive_connections=KEEPALIVE_CONNECTIONS
    )
    request = HTTPXRequest(connection_pool_size=CONNECTION_POOL_SIZE,
                           httpx_kwargs={**shared, "limits": limits})
    if heartbeat is None:
        return request, HTTPXRequest(connection_pool_size=1, httpx_kwargs=shared)
    return request, HeartbeatRequest(heartbeat, httpx_kwargs=shared)


def build_application(
    settings: Settings, store: Store, registry: ModelRegistry, heartbeat: Heartbeat | None = None
) -> Application:
    """The PTB application with every handler, our flood control, and the per-chat order;
    each successful getUpdates beats ``heartbeat``."""
    flood = flood_budget(settings)
    request, get_updates_request = _requests(heartbeat)
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.file_base_url)
        .rate_limiter(RetryingRateLimiter(flood))
        .concurrent_updates(ChatOrderedUpdateProcessor())
        .updater(None)  # bot.polling.InboxPoller fetches the updates
        .request(request)
        .get_updates_request(get_updates_request)
        .build()
    )
    streamer = ReplyStreamer(
        application.bot,
        flood,
        edit_interval=settings.stream_edit_interval,
        group_edit_interval=settings.group_stream_edit_interval,
    )
    service = ChatService(store, registry, settings)
    service.control.signals = stop_signals(settings, service.turns)
    application.bot_data["deps"] = handlers.Deps(service, streamer, settings)
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
    """Tell the chat of each of ``replies`` (marked ``INTERRUPTED``) that it can /retry, in the
    chat's chosen language, else DEFAULT_LANGUAGE (no update tells the user's); a chat that
    cannot be reached is logged and skipped."""
    deps: handlers.Deps = application.bot_data["deps"]
    for reply in replies:
        try:
            chosen = await chosen_language(deps.service.store, reply.chat_id)
            with using_language(chosen or deps.settings.default_language):
                text = _(INTERRUPTED)
            await deps.streamer.send_text(
                reply.chat_id,
                text,
                message_thread_id=reply.thread_id or None,
                markdown=False,
            )
        except Exception:  # noqa: BLE001 - one unreachable chat must not stop start-up
            log.warning("could not tell chat %s about an interrupted reply", reply.chat_id)


async def close_shared(deps: handlers.Deps) -> None:
    """Close the Redis clients of FLOOD_BACKEND=redis and STOP_BACKEND=redis (if used)."""
    await deps.service.control.signals.aclose()
    await close_flood(deps.streamer.flood)


@asynccontextmanager
async def running(
    settings: Settings,
    stop: asyncio.Event,
    heartbeat: Heartbeat | None = None,
    prepare: Callable[[Application], Awaitable[None]] | None = None,
) -> AsyncIterator[Application | None]:
    """The life every process of the bot shares, around its own way of taking updates
    (polling in :func:`serve`, the job queue in :func:`bot.worker.serve_worker`).

    On entry: configure the providers, migrate (in a child process), open the store, build the
    application, wait for Telegram, start the ``/stop`` signals, register the command menu,
    run ``prepare`` (if given), then wait for the endpoints' model lists (asked for since the
    store opened) and keep them fresh every ``MODELS_REFRESH`` seconds. Yields the application
    (not yet started), or None when ``stop`` was set before Telegram answered. On exit: shut the
    application down and close what was opened. Raises as :func:`serve` documents."""
    registry = make_registry(settings)  # a bad endpoints file stops start-up first
    providers.settings.configure(settings)
    # The language of what is written outside an update (the tasks started here inherit it).
    current_language.set(settings.default_language)
    # In a child process, so that this long-running one never loads Alembic (~11 MiB).
    await upgrade_in_subprocess(settings.database_url)
    store = await Store.open(settings.database_url, migrate=False)
    listing = asyncio.create_task(registry.refresh())
    refresher: asyncio.Task[None] | None = None
    try:
        application = build_application(settings, store, registry, heartbeat)
        deps: handlers.Deps = application.bot_data["deps"]
        if not await connect(application, stop, settings.telegram_api_base_url):
            await close_shared(deps)
            yield None  # told to stop before Telegram answered
            return
        try:
            await deps.service.control.signals.start()  # /stop from any process (STOP_BACKEND)
            await set_command_menu(
                application.bot, handlers.COMMANDS, settings.default_language
            )
            if prepare is not None:
                await prepare(application)
            refresher = asyncio.create_task(keep_model_lists_fresh(
                registry, await listing, settings.models_refresh, settings.models_retry))
            yield application
        finally:
            await application.shutdown()
            await close_shared(deps)
    finally:
        await cancel_all(listing, refresher)
        await store.close()
        providers.settings.configure(None)


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the bot until ``stop`` is set: migrate, wait for Telegram, poll, answer, shut down.
    The endpoints' model lists are asked for while Telegram is reached, awaited before the
    first poll, and refreshed every ``MODELS_REFRESH`` seconds from then on.

    Raises :class:`bot.lifecycle.StartupError` when Telegram rejects the token or the URL,
    :class:`bot.storage.SchemaUpgradeError` when the database cannot be upgraded, and
    :class:`providers.endpoints.EndpointsFileError` for a bad ``ENDPOINTS_FILE``.
    """
    heartbeat = Heartbeat(heartbeat_path(settings))

    async def prepare(application: Application) -> None:
        await load_choices(application)  # every chat's /language: no read per update
        await _tell_interrupted(application, application.bot_data["deps"].service.store)

    try:
        async with running(settings, stop, heartbeat, prepare) as application:
            if application is None:
                return
            deps: handlers.Deps = application.bot_data["deps"]
            poller = InboxPoller(
                application,
                Inbox(deps.service.store),
                allowed_updates=ALLOWED_UPDATES,
                retry_timeout=settings.storage_retry_timeout,
            )
            await application.start()
            await poller.start()
            log.info("bot @%s is polling", application.bot.username)
            if not deps.service.registry.providers:
                log.warning(FIRST_RUN)  # one line: what to set
            await stop.wait()
            log.info("stopping: replies being written get %g s to finish", settings.shutdown_grace)
            await shut_down(deps.service.turns, settings.shutdown_grace, poller.stop)
            await application.stop()
    finally:
        heartbeat.clear()
