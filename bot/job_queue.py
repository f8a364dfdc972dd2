"""The queue between the webhook ingress and the workers: procrastinate on PostgreSQL.

The ingress defers one job per update (task :data:`HANDLE_UPDATE`, keyword ``update``: the
update's JSON as Telegram sent it) in the transaction that records its ``update_id`` in the
inbox; the workers run the jobs. An update that waits in its chat's queue (see
:func:`bot.ordering.queue_key`) is deferred with ``lock=<chat id>:<topic id>``: procrastinate
runs the jobs of one lock one at a time, in the order they were deferred, whichever worker takes
them (``procrastinate_fetch_job_v2``: a job is skipped while a job of its lock is ``doing`` or an
earlier one is ``todo``). The others (``/stop``, button taps ...) have no lock and run at once.

Imported only by ``python -m bot webhook`` and ``python -m bot worker``: polling never loads
procrastinate.
"""

from __future__ import annotations

from typing import Any

from procrastinate import App, PsycopgConnector
from sqlalchemy.engine import make_url
from telegram import Update

from bot.lifecycle import StartupError
from bot.ordering import queue_key

#: The task name of "handle this update" (the ingress defers it, the workers define it).
HANDLE_UPDATE = "bot.handle_update"
#: The procrastinate queue the updates go to.
QUEUE = "updates"


def libpq_url(database_url: str) -> str:
    """``postgresql://user:password@host:port/db`` (libpq's form, for psycopg) from a
    SQLAlchemy URL such as ``postgresql+asyncpg://...``. Raises
    :class:`bot.lifecycle.StartupError` for a database that is not PostgreSQL."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() != "postgresql":
        raise StartupError(
            "Configuration error: DATABASE_URL: the webhook ingress and the workers need "
            f"PostgreSQL (postgresql+asyncpg://...), not {parsed.get_backend_name()}"
        )
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def psycopg_url(database_url: str) -> str:
    """The SQLAlchemy URL with psycopg 3 as the driver (``postgresql+psycopg://``), so that
    a SQLAlchemy transaction and procrastinate's defer can share one connection."""
    libpq_url(database_url)  # PostgreSQL only
    parsed = make_url(database_url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def job_app(database_url: str, **pool: Any) -> App:
    """A procrastinate :class:`~procrastinate.App` on ``database_url`` (not opened yet;
    ``async with app.open_async():``). ``pool``: psycopg_pool's ``AsyncConnectionPool``
    arguments (e.g. ``min_size``, ``max_size``)."""
    return App(connector=PsycopgConnector(conninfo=libpq_url(database_url), **pool))


def lock_of(update: Update) -> str | None:
    """The job lock of an update: its chat and topic (``"<chat id>:<topic id>"``), or None
    for an update that does not wait in its chat's queue."""
    key = queue_key(update)
    return None if key is None else f"{key[0]}:{key[1]}"


async def defer_update(app: App, payload: dict[str, Any], connection: Any) -> int:
    """Queue ``payload`` (an update's JSON) for the workers, on ``connection`` (a
    ``psycopg.AsyncConnection``, in its open transaction). Returns the job's id.

    Raises ``ValueError`` when ``payload`` is not an update, and procrastinate's
    ``ConnectorException`` when the database fails."""
    update = Update.de_json(payload, None)
    if update is None:
        raise ValueError("not an update")
    deferrer = app.configure_task(HANDLE_UPDATE, queue=QUEUE, lock=lock_of(update),
                                  connection=connection)
    return await deferrer.defer_async(update=payload)
