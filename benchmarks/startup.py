"""Start-up of ``python -m bot`` against the fakes: launch, wait for its first ``getUpdates``,
stop; what start-up costs (CPU seconds and wall seconds to the first long poll, resident set).

Used by :mod:`benchmarks.streaming` (``--startups``, ``--startup-only``) and its runs.
"""

from __future__ import annotations

import asyncio
import compileall
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from benchmarks.process import TreeSampler, tree_cpu_seconds
from tests.fakes.providers import FakeProviders
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
MODEL = "bench-model"
PYTHON: dict[str, str] = {}  # "executable": the interpreter that runs the bot (--python)


@dataclass
class StartupResult:
    kind: str  # "first start" (empty database) or "restart" (newest revision)
    cpu: float  # CPU seconds of the process tree from launch to the first getUpdates
    wall: float  # seconds from launch to the first getUpdates
    rss_mib: float  # the tree's resident set at the first getUpdates
    peak_rss_mib: float  # the tree's peak until then


#: The bot's packages in a source tree.
PACKAGES = ("bot", "providers", "migrations")


def compile_bot(root: Path) -> None:
    """Compile the bot's modules in ``root`` to bytecode (``__pycache__``), as ``pip install``
    does in the image: with ``PYTHONDONTWRITEBYTECODE`` set (the Dockerfile and this machine set
    it) a source tree is otherwise compiled again at every start, about 0.15-0.2 s of CPU."""
    for package in PACKAGES:
        compileall.compile_dir(root / package, quiet=1)


def bot_env(
    telegram: FakeTelegram, fake: FakeProviders, database: str, bot_root: Path | None = None
) -> dict[str, str]:
    """The environment of ``python -m bot`` against the fakes, with its database file; the bot
    is imported from ``bot_root`` (default: this checkout), compiled first (:func:`compile_bot`).
    The fake's ``GET /models`` lists :data:`MODEL` (the bot asks it at start)."""
    fake.models = [MODEL]
    compile_bot(bot_root or ROOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "OPENAI_"))}
    env.update(fake.env())
    env.update(
        PYTHONPATH=str(bot_root or ROOT),
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        TELEGRAM_API_BASE_FILE_URL=telegram.base_file_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        OPENAI_MODELS=MODEL,
        DEFAULT_MODEL=MODEL,
        LOG_LEVEL="WARNING",
        MALLOC_ARENA_MAX=env.get("MALLOC_ARENA_MAX", "2"),  # as the Dockerfile sets it
    )
    return env


async def start_bot(
    telegram: FakeTelegram, env: dict[str, str], cwd: str, stderr: IO[bytes], timeout: float = 60
) -> tuple[asyncio.subprocess.Process, TreeSampler, StartupResult]:
    """Launch ``python -m bot`` and wait for its first ``getUpdates`` (a long poll waiting).

    Returns the process, a sampler of its tree's resident set (running: call ``.sample()`` or
    read ``.peak()``) and what start-up cost. Raises TimeoutError after ``timeout`` seconds.
    """
    # A poll of the previous process may still be waiting (its connection not yet closed): a
    # new poll ends it, so count the polls received, then wait for one to be waiting.
    polls = telegram.polls_received
    launched = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        PYTHON.get("executable", sys.executable), "-m", "bot", cwd=cwd, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
    )
    sampler = TreeSampler(process.pid)
    while telegram.polls_received <= polls or not telegram.long_polls_waiting:
        if process.returncode is not None or time.monotonic() - launched > timeout:
            raise TimeoutError(
                f"the bot did not poll within {timeout} s (exit {process.returncode})"
            )
        sampler.sample()
        await asyncio.sleep(0.005)
    wall = time.monotonic() - launched
    cpu = tree_cpu_seconds(sampler.process)
    rss = sampler.sample()
    return process, sampler, StartupResult("", cpu, wall, rss, sampler.peak())


def log_file(path: Path) -> IO[bytes]:
    """The file that takes the bot's error output (a pipe nobody reads could fill and block it)."""
    return path.open("wb")


async def stop_bot(process: asyncio.subprocess.Process, stderr_path: Path) -> None:
    """SIGTERM the bot, wait for it; print its error output's tail if it failed."""
    if process.returncode is None:
        process.terminate()
    await asyncio.wait_for(process.wait(), 30)
    if process.returncode not in (0, -15):
        print(stderr_path.read_bytes().decode(errors="replace")[-2000:], file=sys.stderr)


async def startups(times: int = 3, bot_root: Path | None = None) -> list[StartupResult]:
    """Start the bot ``times + 1`` times on one database: the first start creates the schema,
    the rest are restarts. Each stops once it polls (SIGTERM)."""
    results = []
    async with FakeTelegram() as telegram, FakeProviders() as fake:
        with tempfile.TemporaryDirectory() as tmp:
            env = bot_env(telegram, fake, f"{tmp}/bench.db", bot_root)
            err = Path(tmp, "stderr")
            for i in range(times + 1):
                with log_file(err) as stderr:
                    process, _, result = await start_bot(telegram, env, tmp, stderr)
                    result.kind = "first start" if i == 0 else "restart"
                    results.append(result)
                    await stop_bot(process, err)
    return results


def startup_table(results: list[StartupResult]) -> str:
    lines = [
        "| start | CPU s to first getUpdates | wall s to first getUpdates | RSS MiB then "
        "| peak RSS MiB |",
        "|---|---|---|---|---|",
    ]
    for kind in ("first start", "restart"):
        group = [r for r in results if r.kind == kind]
        if not group:
            continue

        def spread(values: list[float], digits: int) -> str:
            if len(values) == 1:
                return f"{values[0]:.{digits}f}"
            return (f"{statistics.median(values):.{digits}f} "
                    f"({min(values):.{digits}f}-{max(values):.{digits}f})")

        label = kind if len(group) == 1 else f"{kind}, median (min-max) of {len(group)}"
        lines.append(
            f"| {label} | {spread([r.cpu for r in group], 2)} "
            f"| {spread([r.wall for r in group], 2)} "
            f"| {spread([r.rss_mib for r in group], 1)} "
            f"| {spread([r.peak_rss_mib for r in group], 1)} |"
        )
    return "\n".join(lines)
