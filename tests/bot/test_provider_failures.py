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


@pytest.mark.parametrize(("case", "category", "internals"), [
    # a 500 whose body is a stack trace with file paths and an internal address
    ("crash", "the provider is down (HTTP 500)", ["Traceback", "/srv/llm-gateway", "10.0.3.7"]),
    # OpenAI's real 401 for a wrong key, which quotes a fragment of it
    ("wrong key", "the provider rejected the key (HTTP 401)", ["sk-", "cdef", "Incorrect API"]),
])
async def test_provider_internals_are_logged_not_shown_stored_or_listed(
        make_bot: Callable[..., RunningBot], database: Path, caplog: pytest.LogCaptureFixture,
        case: str, category: str, internals: list[str]) -> None:
    bot = make_bot(openai_api_key=SECRET_KEY) if case == "wrong key" else make_bot()
    await bot.start()
    if case == "crash":
        bot.providers.push("openai", crash())
    with caplog.at_level(logging.WARNING, logger="providers.registry"):
        bot.telegram.send_message(CHAT, "hello")
        notice = await bot.wait_for_containing(CHAT, "gpt-4o-mini failed")
    assert (notice.text or "").startswith(f"⚠️ gpt-4o-mini failed: OpenAI: {category}\n")
    reply = await stored_reply(database, CHAT)
    assert reply.status is ReplyStatus.FAILED and reply.error == f"OpenAI: {category}"
    listing = await models_listing(bot)
    # (with the wrong key, its GET /models failed too: "; its model list could not be ...")
    assert f"OpenAI (failed last time: {category}" in listing
    assert not [part for part in internals if part in listing], listing
    shown = "\n".join(bot.bot_texts(CHAT))
    assert not [part for part in internals if part in shown], shown
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert all(part in logged for part in internals[1:]), logged  # the details: log only


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
