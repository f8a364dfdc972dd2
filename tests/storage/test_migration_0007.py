"""Migration 0007 (the job queue of the webhook ingress and workers): procrastinate's schema on
PostgreSQL, nothing on SQLite; down to 0003 removes every procrastinate object."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.storage import create_engine, upgrade_to_head
from bot.storage.migrate import current_revision, downgrade

from .conftest import BACKENDS

backends = pytest.mark.parametrize("empty_database_url", BACKENDS, indirect=True)

OBJECTS = {
    "postgresql": (
        "SELECT (SELECT count(*) FROM pg_tables WHERE tablename LIKE 'procrastinate%')"
        " + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%')"
        " + (SELECT count(*) FROM pg_type WHERE typname LIKE 'procrastinate%')"
    ),
    "sqlite": "SELECT count(*) FROM sqlite_master WHERE name LIKE 'procrastinate%'",
}


async def _objects(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            query = OBJECTS[connection.dialect.name]
            return int((await connection.execute(text(query))).scalar_one())
    finally:
        await engine.dispose()


@backends
async def test_0007_makes_the_job_queue_on_postgresql_only(empty_database_url: str) -> None:
    await upgrade_to_head(empty_database_url)
    postgres = empty_database_url.startswith("postgresql")
    assert (await _objects(empty_database_url) > 0) is postgres

    assert await downgrade(empty_database_url, "0006") == "0006"
    assert await _objects(empty_database_url) == 0

    await upgrade_to_head(empty_database_url)
    assert await current_revision(empty_database_url) == "0007"
    assert (await _objects(empty_database_url) > 0) is postgres


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
async def test_0007_schema_takes_jobs(empty_database_url: str) -> None:
    """procrastinate works on the schema the migration made: a job deferred is fetched."""
    from procrastinate.jobs import Job

    from bot.job_queue import job_app

    await upgrade_to_head(empty_database_url)
    app = job_app(empty_database_url)
    async with app.open_async():
        job = Job(id=None, queue="updates", lock="1:0", queueing_lock=None,
                  task_name="bot.handle_update", task_kwargs={"update": {"update_id": 1}})
        deferred = await app.job_manager.defer_job_async(job)
        worker_id = await app.job_manager.register_worker()
        fetched = await app.job_manager.fetch_job(["updates"], worker_id)
    assert fetched is not None and fetched.id == deferred.id
    assert fetched.task_kwargs == {"update": {"update_id": 1}}

