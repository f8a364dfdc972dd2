"""End to end: what the chat shows, what history stores and what ``/models`` lists when a
provider cuts a reply short or fails with internals in its error body (a stack trace, a key
fragment)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.storage import MessageRecord, ReplyStatus, Store
from tests.bot.conftest import RunningBot
from tests.fakes.provider_faults import crash
from tests.fakes.providers import Reply

CHAT = 4101
SECRET_KEY = "sk-live-0123456789abcdef"


async def stored_reply(database: Path, chat_id: int) -> MessageRecord:
    """The newest message of the chat's history, read from the bot's SQLite file."""
    store = await Store.open(f"sqlite+aiosqlite:///{database}", migrate=False)
    try:
        history = await store.history(chat_id)
    finally:
        await store.close()
    assert history and history[-1].role == "assistant", history
    return history[-1]


async def models_listing(bot: RunningBot) -> str:
    bot.telegram.send_message(CHAT, "/models")
    return (await bot.wait_for_containing(CHAT, "OpenAI (")).text or ""


async def test_a_reply_cut_short_without_done_is_shown_and_stored_as_incomplete(
        bot: RunningBot, database: Path) -> None:
    bot.providers.push("openai", Reply("Half of the answer", done=False))
    bot.telegram.send_message(CHAT, "hello")
    notice = await bot.wait_for_containing(CHAT, "stopped answering midway")
    assert notice.text == (
        "⚠️ gpt-4o-mini stopped answering midway: OpenAI: The connection closed before the "
        "reply was complete\nThe reply above is incomplete; send /retry to try again.")
    assert bot.bot_texts(CHAT)[0] == "Half of the answer"  # the text so far stays
    reply = await stored_reply(database, CHAT)
    assert reply.status is ReplyStatus.FAILED and reply.content == "Half of the answer"
    assert reply.error == "OpenAI: The connection closed before the reply was complete"


async def test_a_stack_trace_is_logged_not_shown_stored_or_listed(
        bot: RunningBot, database: Path, caplog: pytest.LogCaptureFixture) -> None:
    bot.providers.push("openai", crash())
    with caplog.at_level(logging.WARNING, logger="providers.registry"):
        bot.telegram.send_message(CHAT, "hello")
        notice = await bot.wait_for_containing(CHAT, "gpt-4o-mini failed")
    assert (notice.text or "").startswith(
        "⚠️ gpt-4o-mini failed: OpenAI: the provider is down (HTTP 500)\n")
    reply = await stored_reply(database, CHAT)
    assert reply.status is ReplyStatus.FAILED
    assert reply.error == "OpenAI: the provider is down (HTTP 500)"
    listing = await models_listing(bot)
    assert "OpenAI (failed last time: the provider is down (HTTP 500))" in listing
    shown = "\n".join(bot.bot_texts(CHAT))
    assert "Traceback" not in shown and "/srv/llm-gateway" not in shown and "10.0.3.7" not in shown
    assert any("/srv/llm-gateway" in record.getMessage() for record in caplog.records)


async def test_a_key_fragment_is_logged_not_shown_stored_or_listed(
        make_bot: Callable[..., RunningBot], database: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    bot = make_bot(openai_api_key=SECRET_KEY)  # the fake answers OpenAI's real 401
    await bot.start()
    with caplog.at_level(logging.WARNING, logger="providers.registry"):
        bot.telegram.send_message(CHAT, "hello")
        notice = await bot.wait_for_containing(CHAT, "gpt-4o-mini failed")
    assert (notice.text or "").startswith(
        "⚠️ gpt-4o-mini failed: OpenAI: the provider rejected the key (HTTP 401)\n")
    reply = await stored_reply(database, CHAT)
    assert reply.error == "OpenAI: the provider rejected the key (HTTP 401)"
    listing = await models_listing(bot)
    assert "OpenAI (failed last time: the provider rejected the key (HTTP 401))" in listing
    shown = "\n".join(bot.bot_texts(CHAT))
    assert "sk-" not in shown and "cdef" not in shown and "Incorrect API key" not in shown
    assert any("Incorrect API key provided: sk-" in record.getMessage()
               for record in caplog.records)


def test_an_old_env_file_with_provider_timeout_still_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PROVIDER_TIMEOUT (a total deadline before) is read as PROVIDER_FIRST_BYTE_TIMEOUT."""
    for name in ("PROVIDER_TIMEOUT", "PROVIDER_FIRST_BYTE_TIMEOUT", "PROVIDER_IDLE_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("TELEGRAM_BOT_TOKEN=123456:ABC\nPROVIDER_TIMEOUT=300\n")
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.provider_first_byte_timeout == 300.0
    assert settings.provider_idle_timeout == 60.0  # the silence bound keeps its default
