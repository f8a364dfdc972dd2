"""The jobs of a dead worker: its reply is told interrupted, its chat's queue goes on.

A worker killed in the middle of an update leaves that job ``doing``, holding its chat's lock,
and stops beating. Procrastinate lists such jobs (``JobManager.get_stalled_jobs``: ``doing``,
and the worker's last heartbeat older than ``WORKER_STALLED_TIMEOUT`` seconds, or the worker
gone); every live worker looks every ``WORKER_HEARTBEAT_INTERVAL`` seconds, one at a time (a
PostgreSQL advisory lock), and for each:

* a turn of a chat's queue that was recorded (a reply still ``STREAMING`` in that chat and
  topic: the job held its lock, so the reply is the dead worker's; or the message is a stored
  user message): the reply is marked ``INTERRUPTED`` and its chat told (it can ``/retry``), as
  after a restart of the single-process bot; the job ends ``failed``. Running it again would
  answer the message twice.
* otherwise (the worker died before the turn was recorded, or the update skips the chat's
  queue: a button tap, ``/stop`` ...): the job is retried; it keeps its place at the head of
  its chat's queue.

Either way the chat's lock is released and its later updates go to the live workers.
"""

from __future__ import annotations

import asyncio
import logging

from procrastinate import App
from procrastinate.jobs import Job, Status
from procrastinate.utils import utcnow
from telegram import Update
from telegram.ext import Application

from bot.app import tell_interrupted
from bot.job_queue import HANDLE_UPDATE, QUEUE
from bot.ordering import queue_key
from bot.polling import entry_of
from bot.storage import Inbox, Store

log = logging.getLogger(__name__)

#: PostgreSQL advisory lock key of the stalled-job check ("botstall").
STALLED_LOCK_KEY = 0x626F747374616C6C


class StalledJobs:
    """Recovers the update jobs of dead workers (see the module doc).

    ``stalled_timeout``: seconds without a heartbeat after which a worker counts as dead.
    """

    def __init__(
        self,
        jobs: App,
        application: Application,
        inbox: Inbox,
        store: Store,
        stalled_timeout: float,
    ) -> None:
        self.jobs, self.application = jobs, application
        self.inbox, self.store = inbox, store
        self.stalled_timeout = stalled_timeout

    async def run_every(self, interval: float) -> None:
        """:meth:`recover` every ``interval`` seconds until cancelled; a failure is logged."""
        while True:
            try:
                await self.recover()
            except Exception:  # noqa: BLE001 - the database may be down: try again later
                log.warning("could not check for the jobs of dead workers", exc_info=True)
            await asyncio.sleep(interval)

    async def recover(self) -> int:
        """Handle the stalled update jobs now; returns how many (0 when another worker is
        checking). Raises the database's errors."""
        pool = self.jobs.connector.pool  # type: ignore[attr-defined]
        async with pool.connection() as connection:
            await connection.set_autocommit(True)
            cursor = await connection.execute(
                "SELECT pg_try_advisory_lock(%s)", (STALLED_LOCK_KEY,)
            )
            row = await cursor.fetchone()
            if row is None or not row[0]:
                return 0
            try:
                stalled = list(
                    await self.jobs.job_manager.get_stalled_jobs(
                        queue=QUEUE,
                        task_name=HANDLE_UPDATE,
                        seconds_since_heartbeat=self.stalled_timeout,
                    )
                )
                for job in stalled:
                    await self._recover(job)
                return len(stalled)
            finally:
                await connection.execute("SELECT pg_advisory_unlock(%s)", (STALLED_LOCK_KEY,))

    async def _recover(self, job: Job) -> None:
        assert job.id is not None
        manager = self.jobs.job_manager
        update = Update.de_json(job.task_kwargs.get("update"), self.application.bot)  # type: ignore[arg-type]
        entry = None if update is None else entry_of(update)
        key = None if update is None else queue_key(update)
        if update is None or entry is None or entry.chat_id is None or key is None:
            # Not a turn of a chat's queue (a button tap, /stop ...): it is short, run it again.
            log.warning("job %s of a dead worker: its update is handled again", job.id)
            await manager.retry_job_by_id_async(job.id, retry_at=utcnow())
            return
        # The job held its chat's lock: a reply still streaming there is the dead worker's.
        replies = await self.store.mark_interrupted(entry.chat_id, thread_id=key[1])
        recorded = entry.message_id is not None and await self.inbox.was_recorded(
            entry.chat_id, entry.message_id
        )
        if not replies and not recorded:
            log.warning("job %s of a dead worker: its update is handled again", job.id)
            await manager.retry_job_by_id_async(job.id, retry_at=utcnow())
            return
        log.warning(
            "job %s of a dead worker: update %s of chat %s was being answered; %d reply(ies) "
            "marked interrupted",
            job.id, update.update_id, entry.chat_id, len(replies),
        )
        await tell_interrupted(self.application, replies)
        await self.inbox.mark_handled(update.update_id)
        await manager.finish_job_by_id_async(job.id, status=Status.FAILED, delete_job=False)
