"""Fixtures shared by every test area."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from providers.chat import STREAM_OPTIONS_REFUSED
from tests.fakes.providers import FakeProviders
from tests.storage.private_postgres import private_postgres

__all__ = ["fake_providers", "private_postgres", "redis_url"]


@pytest.fixture
async def fake_providers(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeProviders]:
    """The fake provider server; every ``*_URL`` and ``OPENAI_*`` variable points at it."""
    async with FakeProviders() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server
    # A later test's server may get the same port: it must be asked with stream_options again.
    STREAM_OPTIONS_REFUSED.difference_update(
        {url for url in STREAM_OPTIONS_REFUSED if url.startswith(server.origin)})


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """TEST_REDIS_URL, reachable; or skip (fail with REQUIRE_REDIS=1)."""
    url = os.environ.get("TEST_REDIS_URL", "")
    required = os.environ.get("REQUIRE_REDIS") == "1"
    problem = "TEST_REDIS_URL is not set"
    if url:
        client = Redis.from_url(url)
        try:
            await client.ping()
            problem = ""
        except Exception as error:  # noqa: BLE001 - reported below
            problem = f"Redis at TEST_REDIS_URL is unreachable: {error!r}"
        finally:
            await client.aclose()
    if problem:
        if required:
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)
    yield url
