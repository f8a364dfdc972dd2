"""Liveness: the running bot leaves a heartbeat, ``python -m bot healthcheck`` reads it.

The healthcheck runs in a separate process (Docker's ``HEALTHCHECK``), so the bot shows it is
alive through the file system: :class:`Heartbeat` touches a file (its modification time is the
heartbeat) after each successful ``getUpdates``. :class:`HeartbeatRequest` does that for PTB's
get_updates request (``ApplicationBuilder().get_updates_request(...)``), whoever calls
``Bot.get_updates``; a polling loop of our own may call :meth:`Heartbeat.beat` itself.

:func:`check` is the healthcheck: healthy when the heartbeat is younger than
``HEARTBEAT_MAX_AGE`` seconds and the database answers a query.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from telegram.request import HTTPXRequest, RequestData

from bot.settings import Settings
from bot.storage import create_engine
from bot.storage.engine import describe_database_error

log = logging.getLogger(__name__)

#: Seconds the healthcheck waits for the database's answer.
DATABASE_TIMEOUT = 5.0


def heartbeat_path(settings: Settings) -> Path:
    """HEARTBEAT_FILE, else ``<sqlite database>.heartbeat`` next to a SQLite database file,
    else ``llm-telegram-bot.heartbeat`` in the temporary directory (``tempfile.gettempdir()``)."""
    if settings.heartbeat_file:
        return Path(settings.heartbeat_file)
    database = _sqlite_file(settings.database_url)
    if database is not None:
        return database.with_name(database.name + ".heartbeat")
    return Path(tempfile.gettempdir()) / "llm-telegram-bot.heartbeat"


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL given by a path; None for other URLs, memory and ``file:`` URIs."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return None if database.startswith("file:") else Path(database)


class Heartbeat:
    """A file whose modification time says when the bot last polled Telegram successfully."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def beat(self) -> None:
        """Touch the file now (created, with its folder, if missing); an OSError is logged."""
        try:
            self.path.touch()
        except FileNotFoundError:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.touch()
            except OSError as error:
                log.warning("could not write the heartbeat file %s: %s", self.path, error)
        except OSError as error:
            log.warning("could not write the heartbeat file %s: %s", self.path, error)

    def age(self) -> float | None:
        """Seconds since the last beat, or None when there was none (no file)."""
        try:
            return max(0.0, time.time() - self.path.stat().st_mtime)
        except FileNotFoundError:
            return None

    def clear(self) -> None:
        """Remove the file (the bot stopped): the healthcheck fails at once, not after
        HEARTBEAT_MAX_AGE."""
        with contextlib.suppress(OSError):
            self.path.unlink()


class HeartbeatRequest(HTTPXRequest):
    """PTB's HTTPX request for ``getUpdates`` that beats after each successful (HTTP 200) call.

    Takes :class:`telegram.request.HTTPXRequest`'s keyword arguments (the default get_updates
    request of ``ApplicationBuilder`` has ``connection_pool_size=1``).
    """

    def __init__(self, heartbeat: Heartbeat, **kwargs: Any) -> None:
        kwargs.setdefault("connection_pool_size", 1)
        super().__init__(**kwargs)
        self.heartbeat = heartbeat

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        write_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: Any = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """The HTTP request; a 200 answer is a heartbeat."""
        code, payload = await super().do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        if code == 200:
            self.heartbeat.beat()
        return code, payload


async def _database_answers(url: str) -> str | None:
    """None when the database answers ``SELECT 1``, else one line saying why not."""
    database = _sqlite_file(url)
    if database is not None and not database.exists():
        return f"the SQLite database {database} does not exist"
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except TimeoutError:
        return f"the database did not answer within {DATABASE_TIMEOUT:g} s"
    except Exception as error:  # noqa: BLE001 - every failure is one line
        return describe_database_error(error, url)
    finally:
        await engine.dispose()
    return None


async def check(settings: Settings) -> tuple[bool, str]:
    """The healthcheck: (healthy, one line saying why).

    Healthy when the heartbeat file was touched less than HEARTBEAT_MAX_AGE seconds ago and
    the database answers ``SELECT 1`` within :data:`DATABASE_TIMEOUT` seconds.
    """
    heartbeat = Heartbeat(heartbeat_path(settings))
    age = heartbeat.age()
    if age is None:
        return False, f"unhealthy: no heartbeat file {heartbeat.path} (the bot is not polling)"
    if age > settings.heartbeat_max_age:
        return False, (
            f"unhealthy: last successful poll {age:.0f} s ago "
            f"(HEARTBEAT_MAX_AGE is {settings.heartbeat_max_age:g} s)"
        )
    problem = await _database_answers(settings.database_url)
    if problem is not None:
        return False, f"unhealthy: {problem}"
    return True, f"healthy: polled {age:.0f} s ago, the database answers"


def run_check(settings: Settings) -> int:
    """Print the healthcheck's line (stdout when healthy, stderr otherwise); the exit status."""
    healthy, line = asyncio.run(check(settings))
    print(line, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1
