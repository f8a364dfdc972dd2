"""Polling needs none of the scaled setup; the ingress and the workers refuse bad settings."""

from __future__ import annotations

import subprocess
import sys

from tests.scale.deployment import ROOT


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": "/tmp", **env}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, env=environment,
        cwd=ROOT, check=False,
    )


def test_polling_never_imports_the_job_queue() -> None:
    # What `python -m bot` (polling) imports, up to serving: the job queue and its driver stay out.
    code = (
        "import sys, bot.__main__, bot.app, bot.polling, bot.storage, bot.health\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('procrastinate', 'psycopg')))"
    )
    result = run("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_ingress_refuses_to_start_without_a_secret() -> None:
    result = run(
        "-m", "bot", "webhook",
        TELEGRAM_BOT_TOKEN="123:abc", WEBHOOK_URL="https://bot.example.com/telegram",
        DATABASE_URL="postgresql+asyncpg://bot:bot@127.0.0.1:1/none",
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Configuration error: `python -m bot webhook` needs WEBHOOK_URL and WEBHOOK_SECRET"
    )


def test_a_malformed_secret_is_named() -> None:
    result = run(
        "-m", "bot", "webhook", TELEGRAM_BOT_TOKEN="123:abc", WEBHOOK_SECRET="has spaces!",
    )
    assert result.returncode == 2
    assert result.stderr.startswith("Configuration error: WEBHOOK_SECRET must be 1-256")


def test_the_ingress_and_workers_need_postgresql() -> None:
    for command in ("webhook", "worker"):
        result = run(
            "-m", "bot", command, TELEGRAM_BOT_TOKEN="123:abc", WEBHOOK_SECRET="s",
            WEBHOOK_URL="https://bot.example.com/telegram",
            DATABASE_URL="sqlite+aiosqlite:///data/never.db",
        )
        assert result.returncode == 2, result.stderr
        assert "need PostgreSQL" in result.stderr, result.stderr
