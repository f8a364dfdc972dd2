"""The bot's lifecycle through the real wiring (:func:`bot.app.serve`) against the fakes:
Telegram failing at start-up and while answering, photo uploads that keep failing, /stop during
an upload, and the shutdown of turns in flight (images, a queued message)."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable

import pytest
from telegram.error import InvalidToken

from bot.app import TokenFormatter
from bot.service import IMAGE_STOPPED, SHUTDOWN_NOTICE
from bot.storage import Store
from bot.streamer import PHOTO_ATTEMPTS
from tests.bot.conftest import RunningBot
from tests.fakes.providers import Reply

CHAT = 7001


async def stored_replies(bot: RunningBot, chat_id: int) -> list[tuple[str, str, str]]:
    """(role, status, content) of every stored message of the chat, oldest first."""
    store = await Store.open(bot.settings.database_url, migrate=False)
    try:
        return [(m.role, m.status.value, m.content) for m in await store.history(chat_id)]
    finally:
        await store.close()


async def switch_to_dalle(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/model dalle")
    await bot.wait_for_containing(CHAT, "Model switched to dalle")


async def test_start_up_retries_a_bot_api_answering_server_errors(
    make_bot: Callable[..., RunningBot], caplog: pytest.LogCaptureFixture
) -> None:
    bot = make_bot()
    bot.telegram.set_failure("getMe", status=502, description="Bad Gateway", times=2)
    with caplog.at_level(logging.WARNING, logger="bot.lifecycle"):
        await bot.start()  # raised NetworkError("Bad Gateway") before
    assert [c.status for c in bot.telegram.calls_for("getMe")] == [502, 502, 200]
    waits = [r.getMessage() for r in caplog.records if "did not answer" in r.getMessage()]
    assert [w.split(";")[0] for w in waits] == [
        "Telegram's Bot API did not answer (NetworkError: Bad Gateway)"
    ] * 2
    bot.telegram.send_message(CHAT, "/help")
    await bot.wait_for_containing(CHAT, "/model")


async def test_a_command_menu_telegram_refuses_is_only_logged(
    make_bot: Callable[..., RunningBot], caplog: pytest.LogCaptureFixture
) -> None:
    bot = make_bot()
    bot.telegram.set_failure("setMyCommands", status=500, description="Internal Server Error")
    with caplog.at_level(logging.WARNING, logger="bot.lifecycle"):
        await bot.start()  # raised the NetworkError before: start-up ended
    bot.telegram.send_message(CHAT, "/help")
    await bot.wait_for_containing(CHAT, "/model")
    assert [c.status for c in bot.telegram.calls_for("setMyCommands")] == [500]
    menu = [r.getMessage() for r in caplog.records if "command menu" in r.getMessage()]
    assert menu == [
        "Telegram did not take the command menu (Internal Server Error, language en); going on "
        "without it"
    ]


async def test_a_command_answer_is_retried_after_server_errors(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot.telegram.set_failure("sendMessage", status=500, description="Internal Server Error", times=2)
    with caplog.at_level(logging.WARNING, logger="bot.retries"):
        bot.telegram.send_message(CHAT, "/help")
        await bot.wait_for_containing(CHAT, "/model")
    assert [c.status for c in bot.telegram.calls_for("sendMessage", CHAT)] == [500, 500, 200]
    assert len([r for r in caplog.records if "sendMessage to chat" in r.getMessage()]) == 2


async def test_a_photo_upload_that_keeps_failing_is_bounded_logged_and_told(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    await switch_to_dalle(bot)
    # Every upload the bot tries fails (it gives up after PHOTO_ATTEMPTS; one more would land).
    bot.telegram.set_failure("sendPhoto", status=502, description="Bad Gateway", times=PHOTO_ATTEMPTS)
    with caplog.at_level(logging.WARNING, logger="bot.streamer"):
        bot.telegram.send_message(CHAT, "a cat")
        notice = await bot.wait_for_containing(CHAT, "dalle failed")
    assert notice.text is not None and "/retry" in notice.text
    assert "Telegram did not take the image (Bad Gateway)" in notice.text
    assert len(bot.telegram.calls_for("sendPhoto", CHAT)) == PHOTO_ATTEMPTS
    attempts = [r.getMessage() for r in caplog.records if "Photo upload" in r.getMessage()]
    assert attempts == [
        f"Photo upload to chat {CHAT} failed (Bad Gateway), attempt {n} of {PHOTO_ATTEMPTS}"
        for n in range(1, PHOTO_ATTEMPTS + 1)
    ]
    stored = await stored_replies(bot, CHAT)
    assert stored[-2:] == [("user", "complete", "a cat"), ("assistant", "failed", "")]
    # The chat is free again: the next message is answered.
    bot.telegram.send_message(CHAT, "a dog")
    await bot.wait_bot_text(CHAT, lambda ms: any(m.kind == "photo" for m in ms))


async def test_stop_cancels_a_photo_upload_in_flight(bot: RunningBot) -> None:
    await switch_to_dalle(bot)
    bot.telegram.delay("sendPhoto", 60)  # an upload that would take a minute
    bot.telegram.send_message(CHAT, "a cat")
    await bot.telegram.wait_for(lambda: bool(bot.providers.requests_for("aichats")))
    await asyncio.sleep(0.5)  # the image is fetched and the upload started
    started = time.monotonic()
    bot.telegram.send_message(CHAT, "/stop")
    await bot.wait_for_text(CHAT, IMAGE_STOPPED)
    assert time.monotonic() - started < 5  # not the minute of the upload
    stored = await stored_replies(bot, CHAT)
    assert stored[-2:] == [("user", "complete", "a cat"), ("assistant", "stopped", "")]
    bot.telegram.delay("sendPhoto", 0)
    bot.telegram.send_message(CHAT, "a dog")  # the chat's next message is not held up
    await bot.wait_bot_text(CHAT, lambda ms: any(m.kind == "photo" for m in ms))


async def test_shutdown_cancels_image_generation_in_flight(
    make_bot: Callable[..., RunningBot],
) -> None:
    bot = make_bot(shutdown_grace=0.5)
    await bot.start()
    await switch_to_dalle(bot)
    bot.providers.push("aichats", Reply(hang=60))  # the image model takes a minute
    bot.telegram.send_message(CHAT, "a cat")
    await bot.telegram.wait_for(lambda: bool(bot.providers.requests_for("aichats")))
    started = time.monotonic()
    await bot.stop()
    assert time.monotonic() - started < 0.5 + 3
    assert bot.bot_texts(CHAT)[-1] == SHUTDOWN_NOTICE
    stored = await stored_replies(bot, CHAT)
    assert stored[-2:] == [("user", "complete", "a cat"), ("assistant", "interrupted", "")]


async def test_a_message_waiting_for_its_turn_at_shutdown_is_stored_and_told(
    make_bot: Callable[..., RunningBot],
) -> None:
    bot = make_bot(shutdown_grace=0.5)
    await bot.start()
    long_reply = " ".join(f"word{i}" for i in range(400))
    bot.providers.push("openai", Reply(long_reply, delta_chars=8, delay=0.05))
    bot.telegram.send_message(CHAT, "first question")
    await bot.wait_bot_text(CHAT, lambda ms: any(len(m.text or "") > 20 for m in ms))
    bot.telegram.send_message(CHAT, "second question")  # fetched, waits for the chat's turn
    await bot.telegram.wait_for(lambda: not bot.telegram.pending_updates)
    await bot.stop()

    texts = bot.bot_texts(CHAT)
    assert texts.count(SHUTDOWN_NOTICE) == 2  # the cut reply, and the message not answered
    assert long_reply.startswith(texts[0]) and texts[0] != long_reply
    assert len(bot.providers.requests_for("openai")) == 1  # no second turn began
    stored = await stored_replies(bot, CHAT)
    assert stored == [
        ("user", "complete", "first question"),
        ("assistant", "interrupted", texts[0]),
        ("user", "complete", "second question"),
        ("assistant", "interrupted", ""),
    ]


def test_a_logged_traceback_hides_the_token() -> None:
    token = "123456:SECRET-token-0123456789abcdef"
    formatter = TokenFormatter(token, "%(levelname)s %(message)s")
    try:
        raise InvalidToken(f"The token `{token}` was rejected by the server.")
    except InvalidToken:
        record = logging.LogRecord(
            "bot", logging.CRITICAL, __file__, 1, "stopped with %s", (token,), sys.exc_info()
        )
    shown = formatter.format(record)
    assert "SECRET" not in shown
    assert shown.startswith("CRITICAL stopped with <token>\nTraceback")
    assert shown.endswith("InvalidToken: The token `<token>` was rejected by the server.")
