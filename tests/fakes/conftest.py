"""Fixtures for the fake servers' own tests: a fake Telegram server and PTB's real ``Bot`` on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import telegram

from tests.fakes.telegram import FakeTelegram


class ManualClock:
    """An injectable clock (seconds) that only moves when a test advances it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22.x warns (PTBDeprecationWarning, an error under filterwarnings=error) whenever
    # RetryAfter.retry_after is an int; opting in to timedelta values avoids it.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeTelegram]:
    """A fake without flood control (flood tests build their own)."""
    async with FakeTelegram(clock=clock, flood=False) as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    client = telegram.Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    async with client:
        yield client
