"""A scaled deployment on this machine: ``python -m bot webhook`` and N ``python -m bot worker``
processes (real subprocesses) on a PostgreSQL database, against the fake Bot API (which
delivers updates by webhook) and the fake providers. Used by the tests of this folder and by
``python -m benchmarks.webhook``."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.fakes.providers import FakeProviders
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-webhook-secret_1"
#: What a worker logs once it takes updates (bot/worker.py).
WORKER_READY = b"is taking updates"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Deployment:
    """The ingress and the workers of one deployment, with their logs in ``folder``.

    ``env``: extra environment variables of every process (settings)."""

    def __init__(
        self,
        telegram: FakeTelegram,
        providers: FakeProviders,
        database_url: str,
        folder: Path,
        *,
        model: str = "gpt-4o-mini",
        python: str = sys.executable,
        env: dict[str, str] | None = None,
    ) -> None:
        self.telegram, self.providers = telegram, providers
        self.database_url, self.folder, self.python = database_url, folder, python
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/telegram"
        self.ingress: asyncio.subprocess.Process | None = None
        self.workers: list[asyncio.subprocess.Process] = []
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "OPENAI_"))
        }
        self.env.update(
            PYTHONPATH=str(ROOT),
            TELEGRAM_BOT_TOKEN=telegram.token,
            TELEGRAM_API_BASE_URL=telegram.base_url,
            TELEGRAM_API_BASE_FILE_URL=telegram.base_file_url,
            DATABASE_URL=database_url,
            DEFAULT_MODEL=model,
            WEBHOOK_URL=self.url,
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(self.port),
            WORKER_HEARTBEAT_INTERVAL="0.5",
            WORKER_STALLED_TIMEOUT="3",
            SHUTDOWN_GRACE="1",
            HEARTBEAT_FILE=str(folder / "heartbeat"),
            **providers.env(openai_models=model),
        )
        self.env.update(env or {})

    def _log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    async def _spawn(
        self, command: str, name: str, env: dict[str, str] | None = None
    ) -> asyncio.subprocess.Process:
        with self._log(name).open("wb") as log:
            return await asyncio.create_subprocess_exec(
                self.python, "-m", "bot", command,
                cwd=self.folder, env={**self.env, **(env or {})}, stdout=log, stderr=log,
            )

    async def start_ingress(self, timeout: float = 60.0) -> asyncio.subprocess.Process:
        """Start the ingress; returns once it registered the webhook."""
        webhooks = len(self.telegram.calls_for("setWebhook"))
        self.ingress = await self._spawn("webhook", "ingress")
        await self._until(
            lambda: len(self.telegram.calls_for("setWebhook")) > webhooks, self.ingress,
            "ingress", timeout,
        )
        return self.ingress

    async def start_worker(
        self, timeout: float = 60.0, env: dict[str, str] | None = None
    ) -> asyncio.subprocess.Process:
        """Start one more worker (``env``: settings of its own); returns once it takes updates."""
        name = f"worker{len(self.workers)}"
        process = await self._spawn("worker", name, env)
        self.workers.append(process)
        await self._until(lambda: WORKER_READY in self._log(name).read_bytes(), process, name,
                          timeout)
        return process

    async def _until(
        self, ready: object, process: asyncio.subprocess.Process, name: str, timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        while not ready():  # type: ignore[operator]
            if process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{name} did not start (exit {process.returncode}):\n"
                    + self.log_tail(name)
                )
            await asyncio.sleep(0.05)

    def log_tail(self, name: str, chars: int = 3000) -> str:
        return self._log(name).read_bytes().decode(errors="replace")[-chars:]

    def logs(self) -> str:
        """Every process's log tail (for a failing test's message)."""
        names = ["ingress", *(f"worker{i}" for i in range(len(self.workers)))]
        return "\n".join(f"--- {n}\n{self.log_tail(n)}" for n in names if self._log(n).exists())

    def kill(self, process: asyncio.subprocess.Process) -> None:
        """SIGKILL: no shutdown at all."""
        process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        """SIGTERM every process still running and wait for it."""
        processes = [p for p in [self.ingress, *self.workers] if p is not None]
        for process in processes:
            if process.returncode is None:
                process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()

    async def count(self, sql: str) -> int:
        """The integer a query gives (e.g. ``SELECT count(*) FROM procrastinate_jobs``)."""
        return await count(self.database_url, sql)


async def count(database_url: str, sql: str) -> int:
    """The integer ``sql`` gives on the database at ``database_url``."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text(sql))).scalar_one())
    finally:
        await engine.dispose()
