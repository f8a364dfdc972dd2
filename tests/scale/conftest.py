"""Fixtures of the scaled deployment's tests: a migrated scratch PostgreSQL database per test
(skipped without TEST_DATABASE_URL, as the storage tests are), the fakes, and the deployment."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.providers import FakeProviders, Reply
from tests.fakes.telegram import FakeTelegram
from tests.scale.deployment import Deployment
from tests.storage.conftest import PostgresScratch, postgres
from tests.storage.private_postgres import private_postgres

__all__ = ["postgres", "private_postgres"]  # shared with tests/storage


@pytest.fixture
def database_url(postgres: PostgresScratch) -> Iterator[str]:
    """A scratch database migrated to head (job queue included), dropped after the test."""
    url = postgres.create_migrated()
    try:
        yield url
    finally:
        postgres.drop(url)


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        fake.webhook_retry_delay = 0.2
        yield fake


@pytest.fixture
async def providers() -> AsyncIterator[FakeProviders]:
    """The fake providers; each reply says which message it answers ("Answer to: <text>")."""
    async with FakeProviders() as fake:
        fake.default["openai"] = Reply("Answer to: ", echo=True)
        yield fake


@pytest.fixture
async def deployment(
    telegram: FakeTelegram, providers: FakeProviders, database_url: str, tmp_path: Path,
    redis_url: str,
) -> AsyncIterator[Deployment]:
    # One flood budget and one /stop for the whole deployment, in a real Redis (CI starts it).
    shared = {"FLOOD_BACKEND": "redis", "STOP_BACKEND": "redis", "REDIS_URL": redis_url}
    running = Deployment(telegram, providers, database_url, tmp_path, env=shared)
    try:
        yield running
    finally:
        await running.stop()
