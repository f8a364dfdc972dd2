"""The real ``python -m bot`` process at start-up and shutdown: Telegram unreachable, a token or
URL it rejects, a read-only database, SIGTERM in the middle of a reply, and the healthcheck."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.i18n import available_languages
from bot.service import SHUTDOWN_NOTICE
from tests.bot.test_process import bot_env, start_bot, telegram_env, wait_for
from tests.fakes.providers import FakeProviders, Reply
from tests.fakes.telegram import FakeTelegram

CHAT = 5101


def free_port() -> int:
    """A loopback TCP port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeTelegram, FakeProviders]]:
    async with FakeTelegram() as telegram, FakeProviders() as fake:
        yield telegram, fake


async def terminate(process: asyncio.subprocess.Process) -> tuple[float, str]:
    """SIGTERM; (seconds until the process exited, its stderr)."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    return time.monotonic() - started, err.decode()


def stored(database: Path, chat_id: int) -> list[tuple[str, str, str]]:
    """(role, status, content) of the chat's stored messages, oldest first (read with sqlite3)."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT m.role, m.status, m.content FROM messages m "
            "JOIN conversations c ON c.id = m.conversation_id WHERE c.chat_id = ? ORDER BY m.id",
            (chat_id,),
        ).fetchall()
    return [tuple(row) for row in rows]


async def test_start_up_waits_for_an_unreachable_bot_api(tmp_path: Path) -> None:
    port = free_port()
    async with FakeProviders() as fake:
        env = bot_env(
            tmp_path,
            TELEGRAM_BOT_TOKEN=FakeTelegram().token,
            TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{port}/bot",
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            DEFAULT_MODEL="gpt-4o-mini",
            **fake.env(),
        )
        process = await start_bot(tmp_path, env)
        assert process.stderr is not None
        retries: list[str] = []
        while len(retries) < 2:  # Telegram is down: each attempt is logged, 1, 2, 4... s apart
            line = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
            assert line, "the bot exited instead of waiting for Telegram"  # it exited 1 before
            if "Bot API did not answer" in line:
                retries.append(line)
        async with FakeTelegram(port=port) as telegram:  # Telegram is back
            fake.push("openai", Reply("Here I am."))
            await wait_for(lambda: telegram.calls_for("setMyCommands"), timeout=40)
            telegram.send_message(CHAT, "hello")
            await wait_for(lambda: any(m.text == "Here I am." for m in telegram.bot_messages(CHAT)))
            _, log = await terminate(process)
    assert process.returncode == 0
    assert "NetworkError" in retries[0] and "attempt 2 in " in retries[0]
    assert "Traceback" not in log


async def test_sigterm_while_waiting_for_telegram_exits_cleanly(tmp_path: Path) -> None:
    env = bot_env(
        tmp_path,
        TELEGRAM_BOT_TOKEN="123:abc",
        TELEGRAM_API_BASE_URL=f"http://127.0.0.1:{free_port()}/bot",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
    )
    process = await start_bot(tmp_path, env)
    assert process.stderr is not None
    while b"Bot API did not answer" not in await asyncio.wait_for(process.stderr.readline(), 30):
        pass
    elapsed, log = await terminate(process)
    assert process.returncode == 0, log
    assert elapsed < 3


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("token", "Start-up error: the Bot API rejected TELEGRAM_BOT_TOKEN (Unauthorized)"),
        ("path", "Start-up error: the Bot API answered 404 Not Found to getMe: TELEGRAM_API_"),
    ],
)
async def test_a_rejected_token_or_url_is_one_line_without_the_token(
    tmp_path: Path, fakes: tuple[FakeTelegram, FakeProviders], change: str, expected: str
) -> None:
    telegram, fake = fakes
    revoked = "123456:REVOKED-token-0123456789abcdefghij"
    env = telegram_env(tmp_path, telegram, fake)
    if change == "token":
        env["TELEGRAM_BOT_TOKEN"] = revoked  # the fake answers 401 Unauthorized
    else:
        env["TELEGRAM_API_BASE_URL"] = telegram.base_url.replace("/bot", "/api/bot")  # 404
    process = await start_bot(tmp_path, env)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    log = err.decode()
    assert process.returncode == 2
    assert log.strip().splitlines()[-1].startswith(expected)
    assert "(not retried)" in log and "Traceback" not in log
    if change == "token":  # (the fake records calls on its Bot API paths only)
        assert [c.status for c in telegram.calls_for("getMe")] == [401]  # not retried
    token = env["TELEGRAM_BOT_TOKEN"]
    assert token.split(":", 1)[1] not in log


def chattr(change: str, path: Path) -> subprocess.CompletedProcess[bytes]:
    """Set or clear a file attribute (``+i``: immutable); a non-zero status when unsupported."""
    return subprocess.run(["chattr", change, str(path)], check=False, capture_output=True)


@pytest.mark.parametrize("how", ["uri", "immutable"])
async def test_a_read_only_sqlite_database_is_named_with_the_problem(
    tmp_path: Path, how: str
) -> None:
    database = tmp_path / "bot.db"
    database.touch()  # an empty database: the upgrade must create the tables
    if how == "uri":  # SQLite opens the file read-only
        url = f"sqlite+aiosqlite:///file:{database}?mode=ro&uri=true"
    else:  # the file cannot be written, even by root (as on a read-only volume)
        if chattr("+i", database).returncode:
            pytest.skip("chattr +i is not available here")
        url = f"sqlite+aiosqlite:///{database}"
    try:
        env = bot_env(tmp_path, TELEGRAM_BOT_TOKEN="123:abc", DATABASE_URL=url)
        process = await start_bot(tmp_path, env)
        _, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if how == "immutable":
            chattr("-i", database)
    lines = err.decode().strip().splitlines()
    assert process.returncode == 1
    assert len(lines) == 1
    assert lines[0].startswith("Database error: database upgrade failed: SQLite database ")
    assert str(database) in lines[0]
    assert "attempt to write a readonly database" in lines[0]
    assert f"writable by uid {os.getuid()}" in lines[0]


async def test_sigterm_in_the_middle_of_a_long_reply(
    tmp_path: Path, fakes: tuple[FakeTelegram, FakeProviders]
) -> None:
    telegram, fake = fakes
    grace = 1.5
    env = telegram_env(tmp_path, telegram, fake, SHUTDOWN_GRACE=str(grace))
    long_reply = " ".join(f"token{i}" for i in range(500))  # about 20 s at this pace
    fake.push("openai", Reply(long_reply, delta_chars=4, delay=0.03))
    process = await start_bot(tmp_path, env)
    await wait_for(lambda: telegram.calls_for("setMyCommands"))
    telegram.send_message(CHAT, "write a long answer")
    await wait_for(lambda: any(len(m.text or "") > 40 for m in telegram.bot_messages(CHAT)))

    elapsed, log = await terminate(process)

    assert process.returncode == 0, log
    assert elapsed < grace + 3
    shown = [m.text or "" for m in telegram.bot_messages(CHAT)]
    assert len(shown) == 2 and shown[1] == SHUTDOWN_NOTICE
    assert long_reply.startswith(shown[0]) and len(shown[0]) < len(long_reply)
    assert stored(tmp_path / "bot.db", CHAT) == [
        ("user", "complete", "write a long answer"),
        ("assistant", "interrupted", shown[0]),  # the text so far, as the chat shows it
    ]

    # After the restart, /retry answers the message again; the chat is not told twice.
    fake.push("openai", Reply("The whole answer."))
    process = await start_bot(tmp_path, env)
    menus = len(available_languages()) + 1  # one per language and the default, each start
    await wait_for(lambda: len(telegram.calls_for("setMyCommands")) == 2 * menus)
    telegram.send_message(CHAT, "/retry")
    await wait_for(lambda: any(m.text == "The whole answer." for m in telegram.bot_messages(CHAT)))
    await terminate(process)
    assert process.returncode == 0
    assert not any("interrupted by a restart" in (m.text or "") for m in telegram.bot_messages(CHAT))
    assert fake.requests_for("openai")[-1].json["messages"] == [
        {"role": "user", "content": "write a long answer"}
    ]


async def test_sigterm_lets_a_reply_finish_within_the_grace_period(
    tmp_path: Path, fakes: tuple[FakeTelegram, FakeProviders]
) -> None:
    telegram, fake = fakes
    env = telegram_env(tmp_path, telegram, fake, SHUTDOWN_GRACE="5")
    reply = " ".join(f"word{i}" for i in range(60))  # about 2 s at this pace
    fake.push("openai", Reply(reply, delta_chars=8, delay=0.05))
    process = await start_bot(tmp_path, env)
    await wait_for(lambda: telegram.calls_for("setMyCommands"))
    telegram.send_message(CHAT, "a short answer please")
    await wait_for(lambda: any(m.text for m in telegram.bot_messages(CHAT)))

    elapsed, log = await terminate(process)

    assert process.returncode == 0, log
    assert elapsed < 5 + 3
    assert [m.text for m in telegram.bot_messages(CHAT)] == [reply]
    assert stored(tmp_path / "bot.db", CHAT)[-1] == ("assistant", "complete", reply)


def healthcheck(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "healthcheck"],
        check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )


async def test_healthcheck_follows_the_running_bot(
    tmp_path: Path, fakes: tuple[FakeTelegram, FakeProviders]
) -> None:
    telegram, fake = fakes
    heartbeat = tmp_path / "bot.db.heartbeat"  # the default: next to the SQLite database
    env = telegram_env(tmp_path, telegram, fake, HEARTBEAT_MAX_AGE="15")
    env.pop("HEARTBEAT_FILE", None)
    check = asyncio.to_thread

    before = await check(healthcheck, env, tmp_path)
    assert before.returncode == 1
    assert before.stderr.strip() == f"unhealthy: no heartbeat file {heartbeat} (the bot is not polling)"

    process = await start_bot(tmp_path, env)
    try:
        await wait_for(lambda: heartbeat.exists(), timeout=30)
        running = await check(healthcheck, env, tmp_path)
        assert running.returncode == 0, running.stderr
        assert running.stdout.startswith("healthy: polled ")

        heartbeat.unlink()  # each successful getUpdates touches it again
        telegram.send_message(CHAT, "/help")
        await wait_for(lambda: heartbeat.exists())

        old = time.time() - 100  # no successful poll for 100 s (> HEARTBEAT_MAX_AGE)
        os.utime(heartbeat, (old, old))
        stale = await check(healthcheck, env, tmp_path)
        assert stale.returncode == 1
        assert re.fullmatch(
            r"unhealthy: last successful poll 10\d s ago \(HEARTBEAT_MAX_AGE is 15 s\)",
            stale.stderr.strip(),
        )
        heartbeat.touch()
        gone = {"DATABASE_URL": env["DATABASE_URL"] + ".gone", "HEARTBEAT_FILE": str(heartbeat)}
        moved = await check(healthcheck, {**env, **gone}, tmp_path)
        assert moved.returncode == 1
        assert moved.stderr.strip().startswith("unhealthy: the SQLite database ")
    finally:
        await terminate(process)
    assert process.returncode == 0
    after = await check(healthcheck, env, tmp_path)  # a stopped bot removes its heartbeat
    assert after.returncode == 1 and "no heartbeat file" in after.stderr


async def test_healthcheck_fails_when_the_database_does_not_answer(tmp_path: Path) -> None:
    heartbeat = tmp_path / "heartbeat"
    heartbeat.touch()
    env = bot_env(
        tmp_path,
        TELEGRAM_BOT_TOKEN="123:abc",
        HEARTBEAT_FILE=str(heartbeat),
        DATABASE_URL="postgresql+asyncpg://bot:secret-pw@127.0.0.1:1/nowhere",
    )
    result = await asyncio.to_thread(healthcheck, env, tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("unhealthy: database postgresql+asyncpg://bot:***@127.0.0.1:1/nowhere: ")
    assert "secret-pw" not in result.stderr
