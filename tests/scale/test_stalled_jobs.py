"""The jobs of a dead worker, in-process on a real PostgreSQL: a recorded turn is told
interrupted and its job ends; an update whose turn was never recorded is queued again."""

from __future__ import annotations

from pathlib import Path

from procrastinate.jobs import Status
from sqlalchemy import text

from bot.app import INTERRUPTED, build_application
from bot.job_queue import HANDLE_UPDATE, QUEUE, job_app
from bot.stalled_jobs import StalledJobs
from bot.storage import Inbox, ReplyStatus, Store
from providers import default_registry
from tests.bot.conftest import make_settings
from tests.fakes.telegram import FakeTelegram
from tests.scale.test_webhook_workers import an_update


async def test_stalled_jobs_are_told_interrupted_or_queued_again(
    database_url: str, telegram: FakeTelegram, tmp_path: Path
) -> None:
    settings = make_settings(telegram, tmp_path / "unused.db", database_url=database_url)
    store = await Store.open(database_url, migrate=False)
    jobs = job_app(database_url)
    application = build_application(settings, store, default_registry(settings))
    try:
        async with jobs.open_async(), application:
            for chat in (1, 2, 3):
                telegram.add_chat(chat)
            # Chat 1: its turn was recorded, the reply was streaming. Chat 2: not recorded yet.
            # Chat 3: a /retry (no user message stored) whose new reply was streaming.
            await store.record_turn(1, user_message="recorded", telegram_message_id=5)
            await store.record_turn(3, user_message=None)
            updates = (an_update(10, 1, "recorded"), an_update(11, 2, "not yet"),
                       an_update(12, 3, "/retry"))
            for update in updates:
                update["message"]["message_id"] = 5
                await jobs.configure_task(HANDLE_UPDATE, queue=QUEUE).defer_async(update=update)
            dead = await jobs.job_manager.register_worker()
            for _ in updates:
                assert await jobs.job_manager.fetch_job([QUEUE], dead) is not None
            async with store.engine.begin() as connection:  # its last heartbeat: an hour ago
                await connection.execute(text(
                    "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'"
                ))
            stalled = StalledJobs(jobs, application, Inbox(store), store, stalled_timeout=30)

            assert await stalled.recover() == 3

            statuses = {
                job.task_kwargs["update"]["update_id"]: job.status
                for job in await jobs.job_manager.list_jobs_async()
            }
            assert statuses == {
                10: Status.FAILED.value, 11: Status.TODO.value, 12: Status.FAILED.value
            }
            assert [m.text for m in telegram.bot_messages(1)] == [INTERRUPTED]
            assert [m.text for m in telegram.bot_messages(3)] == [INTERRUPTED]
            assert telegram.bot_messages(2) == []
            for chat in (1, 3):
                [reply] = [m for m in await store.history(chat) if m.role == "assistant"]
                assert reply.status is ReplyStatus.INTERRUPTED
            assert await stalled.recover() == 0  # nothing is handled twice
    finally:
        await store.close()
