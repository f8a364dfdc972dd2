"""Fixtures shared by every test area."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from providers.chat import STREAM_OPTIONS_REFUSED
from tests.fakes.providers import FakeProviders
from tests.storage.private_postgres import private_postgres

__all__ = ["fake_providers", "private_postgres"]


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
