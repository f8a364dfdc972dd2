"""bot.telegram_files against the fake Bot API with PTB's real Bot: sizes are checked before and
while downloading, and failures are sentences for the user."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import telegram as ptb

from bot.inputs import InputError
from bot.telegram_files import TelegramFiles
from tests.fakes.telegram import FakeTelegram

CHAT = 8001


@pytest.fixture
async def bot(telegram: FakeTelegram) -> AsyncIterator[ptb.Bot]:
    client = telegram_bot(telegram)
    async with client:
        yield client


def telegram_bot(fake: FakeTelegram) -> ptb.Bot:
    return ptb.Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)


def file_id_of(update: dict) -> str:
    return update["message"]["document"]["file_id"]


async def test_a_file_is_fetched_whole(telegram: FakeTelegram, bot: ptb.Bot) -> None:
    data = bytes(range(256)) * 1000
    update = telegram.send_file(CHAT, "document", data, file_name="blob.txt")
    assert await TelegramFiles(bot, timeout=5).fetch(file_id_of(update)) == data


async def test_a_file_over_the_byte_cap_is_refused(
    telegram: FakeTelegram, bot: ptb.Bot
) -> None:
    update = telegram.send_file(CHAT, "document", b"x" * 5000, file_name="big.txt")
    with pytest.raises(InputError, match="I can read files of up to 4 kB"):
        await TelegramFiles(bot, timeout=5).fetch(file_id_of(update), max_bytes=4096)


async def test_telegram_refusing_a_big_file_is_a_sentence(
    telegram: FakeTelegram, bot: ptb.Bot
) -> None:
    update = telegram.send_file(CHAT, "document", b"x", file_size=21 * 1024 * 1024)
    with pytest.raises(InputError) as refused:
        await TelegramFiles(bot, timeout=5).fetch(file_id_of(update))
    assert str(refused.value) == "Telegram would not give me the file (File is too big)."
    assert telegram.token not in str(refused.value)
