"""``python -m bot webhook``: the webhook ingress. Telegram posts updates; they are queued.

:class:`WebhookIngress` answers ``POST <path of WEBHOOK_URL>`` (aiohttp):

* the ``X-Telegram-Bot-Api-Secret-Token`` header must equal ``WEBHOOK_SECRET`` (compared in
  constant time, ``hmac.compare_digest``): otherwise 401 and nothing is read or queued;
* a body over ``WEBHOOK_MAX_BODY_BYTES`` bytes: 413; a body that is not an update's JSON: 400
  (Telegram would send it again and again: nothing is queued);
* the update is stored in the inbox (its ``update_id`` once: an update Telegram sends again is
  answered 200 and not queued again) and deferred to the workers (:mod:`bot.job_queue`) in the
  same transaction, then answered 200 with an empty body. Nothing else waits: the answer takes
  two statements, whatever the workers are doing;
* the database unreachable: 503, and Telegram delivers the update again later.

``GET /healthz`` answers 200 while the process serves. :func:`serve_webhook` registers the
webhook (``setWebhook`` with ``secret_token``, ``allowed_updates``, ``max_connections``) once the
server listens, and leaves it registered at exit (Telegram keeps the updates for a restart or
another ingress).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from procrastinate import App
from procrastinate.exceptions import ConnectorException
from sqlalchemy.ext.asyncio import AsyncConnection
from telegram import Update
from telegram.ext import ApplicationBuilder

from bot.job_queue import defer_update, job_app, psycopg_url
from bot.lifecycle import StartupError, connect
from bot.polling import ALLOWED_UPDATES, PRUNE_INTERVAL, entry_of
from bot.settings import Settings
from bot.storage import Inbox, Store, is_transient, upgrade_in_subprocess

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookIngress:
    """The aiohttp application of the ingress (see the module doc).

    ``secret``: the expected secret token; ``path``: the URL path updates are posted to;
    ``max_body_bytes``: the largest body read, in bytes.
    """

    def __init__(
        self, inbox: Inbox, jobs: App, *, secret: str, path: str, max_body_bytes: int
    ) -> None:
        self.inbox, self.jobs = inbox, jobs
        self._secret = secret.encode()
        self.path = path or "/"
        self.max_body_bytes = max_body_bytes

    def web_app(self) -> web.Application:
        """The aiohttp application: ``POST path`` and ``GET /healthz``."""
        app = web.Application(client_max_size=self.max_body_bytes)
        app.router.add_post(self.path, self.receive)
        app.router.add_get("/healthz", self.healthz)
        return app

    async def healthz(self, request: web.Request) -> web.Response:
        """200 ``ok``: the ingress serves."""
        return web.Response(text="ok")

    async def receive(self, request: web.Request) -> web.Response:
        """One update from Telegram: 200 (queued, or seen before), 400, 401, 413 or 503."""
        supplied = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(supplied, self._secret):
            return web.Response(status=401, text="wrong or missing secret token")
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            return web.Response(status=413, text="request body too large")
        try:
            payload = json.loads(await request.read())  # 413 past client_max_size
            update = Update.de_json(payload, None) if isinstance(payload, dict) else None
        except (ValueError, TypeError, KeyError):
            update = None
        if update is None or not isinstance(payload.get("update_id"), int):
            return web.Response(status=400, text="the body is not an update")

        async def queue(connection: AsyncConnection, fresh: list[int]) -> None:
            if fresh:
                raw = await connection.get_raw_connection()
                await defer_update(self.jobs, payload, raw.driver_connection)

        try:
            fresh = await self.inbox.put([entry_of(update)], also=queue)
        except Exception as error:
            if not (is_transient(error) or isinstance(error, ConnectorException)):
                raise
            log.warning("could not queue update %s: %s", update.update_id, error)
            return web.Response(status=503, text="the database is unavailable; send it again")
        if not fresh:
            log.info("update %s was received before: not queued again", update.update_id)
        return web.Response()


def webhook_path(url: str) -> str:
    """The path part of WEBHOOK_URL (``/`` when it has none)."""
    return urlsplit(url).path or "/"


async def _prune(inbox: Inbox) -> None:
    while True:
        with contextlib.suppress(Exception):
            await inbox.prune()
        await asyncio.sleep(PRUNE_INTERVAL)


async def serve_webhook(settings: Settings, stop: asyncio.Event) -> None:
    """Run the ingress until ``stop`` is set: migrate, listen, register the webhook, queue.

    Raises :class:`bot.lifecycle.StartupError` when WEBHOOK_URL or WEBHOOK_SECRET is missing,
    DATABASE_URL is not PostgreSQL, or Telegram rejects the token or the URL."""
    if not settings.webhook_url or settings.webhook_secret is None:
        raise StartupError(
            "Configuration error: `python -m bot webhook` needs WEBHOOK_URL and WEBHOOK_SECRET"
        )
    url = psycopg_url(settings.database_url)
    secret = settings.webhook_secret.get_secret_value()
    await upgrade_in_subprocess(settings.database_url)
    store = await Store.open(url, migrate=False)
    jobs = job_app(settings.database_url)
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .updater(None)
        .build()
    )
    inbox = Inbox(store)
    ingress = WebhookIngress(
        inbox,
        jobs,
        secret=secret,
        path=webhook_path(settings.webhook_url),
        max_body_bytes=settings.webhook_max_body_bytes,
    )
    runner = web.AppRunner(ingress.web_app(), access_log=None)
    pruning: asyncio.Task[Any] | None = None
    try:
        await runner.setup()
        await web.TCPSite(runner, settings.webhook_listen, settings.webhook_port).start()
        log.info("ingress listening on %s:%d%s", settings.webhook_listen, settings.webhook_port,
                 ingress.path)
        if not await connect(application, stop, settings.telegram_api_base_url):
            return
        try:
            await application.bot.set_webhook(
                settings.webhook_url,
                secret_token=secret,
                allowed_updates=ALLOWED_UPDATES,
                max_connections=settings.webhook_max_connections,
            )
            log.info("webhook of @%s registered", application.bot.username)
            pruning = asyncio.create_task(_prune(inbox))
            await stop.wait()
        finally:
            await application.shutdown()
    finally:
        if pruning is not None:
            pruning.cancel()
        await runner.cleanup()
        await store.close()
