"""Fixtures for the provider tests: the fake provider server with the environment pointing at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers import settings
from tests.fakes.providers import FakeProviders

SETTING_VARS = ("AIASK_URL", "CHATANYWHERE_URL", "AI365VIP_URL", "AICHATS_URL", "YLOKH_URL",
                "AICHATS_COOKIE", "OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODELS",
                "OPENAI_IMAGE_MODELS", "OPENAI_VISION_MODELS", "PROXY_URL", "PROVIDER_TIMEOUT",
                "PROVIDER_CONNECT_TIMEOUT", "PROVIDER_FIRST_BYTE_TIMEOUT", "PROVIDER_IDLE_TIMEOUT",
                "PROVIDER_MAX_LINE_BYTES", "PROVIDER_MAX_JSON_BYTES", "IMAGE_MAX_BYTES")


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No provider setting leaks in from the environment or a .env file; none is configured."""
    for name in SETTING_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    settings.configure(None)


@pytest.fixture
def fake(fake_providers: FakeProviders) -> FakeProviders:
    """The fake provider server (``tests/conftest.py``), by the name these tests use."""
    return fake_providers
