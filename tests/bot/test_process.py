"""The real ``python -m bot`` process: start-up errors, logs, and a restart in the middle of a
reply (the process is killed while it streams, then started again)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.providers import FakeProviders, Reply
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
CHAT = 5001


def bot_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "OPENAI_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(values)
    return env


def telegram_env(
    tmp_path: Path, telegram: FakeTelegram, fake: FakeProviders, **values: str
) -> dict[str, str]:
    """The environment of a bot talking to the fakes, with a SQLite file in ``tmp_path``."""
    return bot_env(
        tmp_path,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        TELEGRAM_API_BASE_FILE_URL=telegram.base_file_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        DEFAULT_MODEL="gpt-4o-mini",
        **fake.env(),
        **values,
    )


async def start_bot(tmp_path: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot",
        cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def test_missing_token_stops_start_up_with_one_line(tmp_path: Path) -> None:
    process = await start_bot(tmp_path, bot_env(tmp_path))
    _out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert err.decode().strip() == "Configuration error: TELEGRAM_BOT_TOKEN is required"


@pytest.mark.parametrize(
    ("name", "value"),
    [("HISTORY_LIMIT", "many"), ("STREAM_EDIT_INTERVAL", "-1"), ("ALLOWED_USER_IDS", "1,bob")],
)
async def test_bad_setting_is_named(tmp_path: Path, name: str, value: str) -> None:
    env = bot_env(tmp_path, TELEGRAM_BOT_TOKEN="123:abc", **{name: value})
    process = await start_bot(tmp_path, env)
    _out, err = await asyncio.wait_for(process.communicate(), 60)
    lines = err.decode().strip().splitlines()
    assert process.returncode == 2
    assert len(lines) == 1 and lines[0].startswith(f"Configuration error: {name} ")


async def test_unreachable_database_stops_start_up_with_a_clear_line(tmp_path: Path) -> None:
    env = bot_env(
        tmp_path,
        TELEGRAM_BOT_TOKEN="123:abc",
        DATABASE_URL="postgresql+asyncpg://bot:secret-pw@127.0.0.1:1/nowhere",
    )
    process = await start_bot(tmp_path, env)
    _out, err = await asyncio.wait_for(process.communicate(), 60)
    lines = err.decode().strip().splitlines()
    assert process.returncode == 1
    assert lines[-1].startswith("Database error: database upgrade failed: ")
    assert "secret-pw" not in err.decode()


async def wait_for(predicate: Callable[[], object], timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


async def test_restart_in_the_middle_of_a_reply(tmp_path: Path) -> None:
    async with FakeTelegram() as telegram, FakeProviders() as fake:
        env = telegram_env(tmp_path, telegram, fake, LOG_LEVEL="DEBUG")
        long_reply = " ".join(f"token{i}" for i in range(500))
        fake.push("openai", Reply(long_reply, delta_chars=4, delay=0.05))

        process = await start_bot(tmp_path, env)
        await wait_for(lambda: telegram.calls_for("setMyCommands"))
        telegram.send_message(CHAT, "write a long answer")
        await wait_for(lambda: any(len(m.text or "") > 40 for m in telegram.bot_messages(CHAT)))
        process.send_signal(signal.SIGKILL)  # a crash: nothing is cleaned up
        _, first_log = await process.communicate()
        shown = telegram.bot_messages(CHAT)[0].text

        fake.push("openai", Reply("The whole answer, again."))
        process = await start_bot(tmp_path, env)
        try:
            await wait_for(lambda: any("interrupted by a restart" in (m.text or "")
                                       for m in telegram.bot_messages(CHAT)))
            telegram.send_message(CHAT, "/retry")
            await wait_for(lambda: any(m.text == "The whole answer, again."
                                       for m in telegram.bot_messages(CHAT)))
        finally:
            process.send_signal(signal.SIGTERM)
            _, second_log = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0  # SIGTERM shuts down cleanly

    assert shown and long_reply.startswith(shown)
    retried = fake.requests_for("openai")[-1].json["messages"]
    assert retried == [{"role": "user", "content": "write a long answer"}]
    # The token never appears in the logs, even at DEBUG.
    secret = telegram.token.split(":", 1)[1]
    logs = (first_log + second_log).decode()
    assert "polling" in logs and secret not in logs


async def test_console_runs_turns_without_telegram(tmp_path: Path) -> None:
    async with FakeProviders() as fake:
        fake.push("openai", Reply("First answer."), Reply("Second answer."))
        env = bot_env(
            tmp_path,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'console.db'}",
            DEFAULT_MODEL="gpt-4o-mini",
            **fake.env(),
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.console", cwd=tmp_path, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(
            process.communicate(b"hello\n/model nonsense-model\nand again\n/quit\n"), 60
        )
    text = out.decode()
    assert process.returncode == 0, err.decode()
    assert "model: gpt-4o-mini" in text
    assert "First answer." in text and "Second answer." in text
    assert "nonsense-model" in text  # the unknown model is named in the answer
    assert fake.requests_for("openai")[-1].json["messages"] == [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "First answer."},
        {"role": "user", "content": "and again"},
    ]


async def test_a_malformed_endpoints_file_stops_start_up_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.toml"
    path.write_text('[endpoints.router]\nbase_url = "https://openrouter.ai/api/v1"\n'
                    'models = ["a" "b"]\n')
    env = bot_env(tmp_path, TELEGRAM_BOT_TOKEN="123:abc", ENDPOINTS_FILE=str(path))
    process = await start_bot(tmp_path, env)
    _out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert err.decode().strip() == (
        f"Configuration error: Endpoints file {path}, line 3, column 15: Unclosed array")
