"""Fixtures for the bot's end-to-end tests: the real wiring (:func:`bot.app.serve`, what
``python -m bot`` runs) against the fake Telegram Bot API server and the fake provider servers,
with a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.app import serve
from bot.settings import Settings
from tests.fakes.providers import FakeProviders
from tests.fakes.telegram import FakeMessage, FakeTelegram


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@dataclass
class RunningBot:
    """A bot started with :func:`serve` in this event loop, and how to talk to it."""

    telegram: FakeTelegram
    providers: FakeProviders
    settings: Settings
    task: asyncio.Task[None] | None = None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self.stop_event = asyncio.Event()
        # setMyCommands is the last call before polling starts; updates queued from then on
        # are fetched by the first poll.
        menus = len(self.telegram.calls_for("setMyCommands"))
        self.task = asyncio.create_task(serve(self.settings, self.stop_event))
        await self.telegram.wait_for(
            lambda: self.task.done() or len(self.telegram.calls_for("setMyCommands")) > menus,
            timeout=20,
        )
        if self.task.done():
            self.task.result()  # raises what made start-up fail

    async def stop(self) -> None:
        if self.task is not None:
            self.stop_event.set()
            await asyncio.wait_for(self.task, 30)
            self.task = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def provider_history(self, index: int = -1) -> list[dict[str, str]]:
        """The ``messages`` the OpenAI-compatible fake received in its ``index``-th chat request."""
        requests = [
            r for r in self.providers.requests_for("openai") if r.path.endswith("/chat/completions")
        ]
        return requests[index].json["messages"]

    def bot_texts(self, chat_id: int) -> list[str]:
        return [m.text or "" for m in self.telegram.bot_messages(chat_id) if m.kind == "text"]

    async def wait_bot_text(
        self, chat_id: int, predicate: Callable[[list[FakeMessage]], bool], timeout: float = 15
    ) -> list[FakeMessage]:
        await self.telegram.wait_for(
            lambda: predicate(self.telegram.bot_messages(chat_id)), timeout=timeout
        )
        return self.telegram.bot_messages(chat_id)

    async def wait_for_text(self, chat_id: int, text: str, timeout: float = 15) -> FakeMessage:
        """Wait until one of the bot's messages in the chat shows exactly ``text``."""
        messages = await self.wait_bot_text(
            chat_id, lambda ms: any(m.text == text for m in ms), timeout
        )
        return next(m for m in messages if m.text == text)

    async def wait_for_containing(self, chat_id: int, part: str, timeout: float = 15) -> FakeMessage:
        messages = await self.wait_bot_text(
            chat_id, lambda ms: any(part in (m.text or "") for m in ms), timeout
        )
        return next(m for m in messages if part in (m.text or ""))


def make_settings(telegram: FakeTelegram, database: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "telegram_bot_token": telegram.token,
        "telegram_api_base_url": telegram.base_url,
        "telegram_api_base_file_url": telegram.base_file_url,
        "database_url": f"sqlite+aiosqlite:///{database}",
        "default_model": "gpt-4o-mini",
        "stream_edit_interval": 1.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.db"


@pytest.fixture
async def make_bot(
    telegram: FakeTelegram, fake_providers: FakeProviders, database: Path
) -> AsyncIterator[Callable[..., RunningBot]]:
    """Build (not start) a bot with settings overrides: ``bot = make_bot(allowed_user_ids=…)``."""
    made: list[RunningBot] = []

    def factory(**overrides: object) -> RunningBot:
        running = RunningBot(telegram, fake_providers, make_settings(telegram, database, **overrides))
        made.append(running)
        return running

    yield factory
    for running in made:
        with contextlib.suppress(Exception):
            await running.stop()


@pytest.fixture
async def bot(make_bot: Callable[..., RunningBot]) -> RunningBot:
    running = make_bot()
    await running.start()
    return running
