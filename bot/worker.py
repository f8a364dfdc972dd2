"""``python -m bot worker``: answers the updates the webhook ingress queued (several may run).

A worker is a procrastinate worker (:mod:`bot.job_queue`) whose task rebuilds the update
(``Update.de_json``) and hands it to the same application as polling builds
(:func:`bot.app.build_application`: handlers, service, streamer, flood control), through
``Application.process_update``; a last handler marks the update handled in the inbox. Up to
``WORKER_CONCURRENCY`` updates run at once; a chat's updates run one at a time, in order,
across every worker (the job lock, see :mod:`bot.job_queue`).

A worker that dies (SIGKILL, a lost machine) stops beating (procrastinate's worker heartbeat,
every ``WORKER_HEARTBEAT_INTERVAL`` seconds); after ``WORKER_STALLED_TIMEOUT`` seconds the other
workers recover its jobs (:mod:`bot.stalled_jobs`). SIGTERM: no new update is taken, the replies
being written get ``SHUTDOWN_GRACE`` seconds, then they are cut short as in polling
(:func:`bot.lifecycle.shut_down`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import Any

from procrastinate import App
from procrastinate.worker import Worker
from telegram import Update
from telegram.ext import Application

from bot import handlers
from bot.app import running
from bot.job_queue import HANDLE_UPDATE, QUEUE, job_app
from bot.language import expire_choices
from bot.lifecycle import shut_down
from bot.polling import mark_handled_after_handlers
from bot.settings import Settings
from bot.stalled_jobs import StalledJobs
from bot.storage import Inbox, Store

log = logging.getLogger(__name__)

#: Seconds between a worker's looks for jobs besides PostgreSQL's notifications (a job
#: unlocked by the recovery of a dead worker's job is found within this).
FETCH_INTERVAL = 1.0
#: Connections a worker's job queue keeps beyond one per running update (fetching,
#: heartbeats, the stalled-job check).
SPARE_CONNECTIONS = 4


def register_task(jobs: App, application: Application) -> None:
    """Define :data:`~bot.job_queue.HANDLE_UPDATE` on ``jobs``: handle the update with
    ``application`` (its handlers' errors go to its error handler, they do not fail the job)."""

    async def handle_update(update: dict[str, Any]) -> None:
        parsed = Update.de_json(update, application.bot)
        if parsed is None:
            log.warning("a queued job held no update")
            return
        await application.process_update(parsed)

    jobs.task(name=HANDLE_UPDATE, queue=QUEUE)(handle_update)


def make_worker(jobs: App, settings: Settings) -> Worker:
    """The procrastinate worker of this process (signals are handled by the caller)."""
    return Worker(
        jobs,
        queues=[QUEUE],
        name=f"{socket.gethostname()}-{os.getpid()}",
        concurrency=settings.worker_concurrency,
        install_signal_handlers=False,
        delete_jobs="successful",
        fetch_job_polling_interval=FETCH_INTERVAL,
        update_heartbeat_interval=settings.worker_heartbeat_interval,
        stalled_worker_timeout=settings.worker_stalled_timeout,
    )


async def serve_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run a worker until ``stop`` is set: migrate, wait for Telegram, answer queued updates,
    recover the jobs of dead workers, shut down within ``SHUTDOWN_GRACE`` seconds and a little.

    Raises :class:`bot.lifecycle.StartupError` when DATABASE_URL is not PostgreSQL or Telegram
    rejects the token or the URL."""
    # procrastinate logs every job's arguments (the user's message) at INFO.
    logging.getLogger("procrastinate").setLevel(max(logging.WARNING, log.getEffectiveLevel()))
    jobs = job_app(
        settings.database_url, min_size=1, max_size=settings.worker_concurrency + SPARE_CONNECTIONS
    )
    async with running(settings, stop) as application:
        if application is None:
            return
        expire_choices(application)  # /language through another worker shows here too
        store = application.bot_data["deps"].service.store
        inbox = Inbox(store)
        mark_handled_after_handlers(application, inbox, settings.storage_retry_timeout)
        await application.start()
        async with jobs.open_async():
            register_task(jobs, application)
            await _work(jobs, application, inbox, store, settings, stop)
        await application.stop()


async def _work(
    jobs: App,
    application: Application,
    inbox: Inbox,
    store: Store,
    settings: Settings,
    stop: asyncio.Event,
) -> None:
    worker = make_worker(jobs, settings)
    stalled = StalledJobs(jobs, application, inbox, store, settings.worker_stalled_timeout)
    running = asyncio.create_task(worker.run(), name="procrastinate worker")
    recovering = asyncio.create_task(
        stalled.run_every(settings.worker_heartbeat_interval), name="stalled jobs"
    )
    log.info("worker %s is taking updates", worker.worker_name)
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()

    async def stop_receiving() -> None:
        recovering.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recovering
        worker.stop()  # takes no new job; the running ones go on

    deps: handlers.Deps = application.bot_data["deps"]
    await shut_down(deps.service.turns, settings.shutdown_grace, stop_receiving)
    await running  # raises what stopped the worker, if it stopped by itself
