"""The running bot's refresh of the model lists (:func:`bot.model_refresh.keep_model_lists_fresh`)
against two fake OpenAI-compatible servers, with an instant sleep that records the waits."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.model_refresh import keep_model_lists_fresh
from providers import ProviderSettings, default_registry
from providers.settings import DEFAULT_OPENAI_BASE_URL
from tests.fakes.providers import FakeProviders, Reply


class Stop(Exception):
    """Ends the endless loop from the injected sleep."""


async def test_all_lists_every_refresh_and_a_failing_one_every_retry(
        fake_providers: FakeProviders, tmp_path: Path) -> None:
    fake = fake_providers
    async with FakeProviders(api_key="router-key") as router:
        path = tmp_path / "endpoints.toml"
        path.write_text(f'[endpoints.local]\nbase_url = "{fake.origin}/openai/v1"\n'
                        'api_key = "test-key"\n'
                        f'[endpoints.router]\nbase_url = "{router.origin}/openai/v1"\n'
                        'api_key = "router-key"\n')
        settings = ProviderSettings(openai_api_key=None, openai_base_url=DEFAULT_OPENAI_BASE_URL,
                                    endpoints_file=str(path))
        registry = default_registry(settings, seeds=[])
        fake.models, router.models = ["llama3.2:latest"], ["deepseek/deepseek-r1"]
        fake.push("models", Reply("down", status=503), Reply("still down", status=503))
        failing = await registry.refresh()
        assert failing == {"local"} and registry.models()["local"] == []

        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)
            if len(waits) == 4:
                raise Stop
            if len(waits) == 3:  # before the second full refresh: the router drops a model
                router.models = []

        with pytest.raises(Stop):
            await keep_model_lists_fresh(registry, failing, every=3600, retry=60, sleep=sleep)
        # 60 s: local again (still down); 60 s: local again (answers); then the rest of the
        # hour: every list; then a full hour.
        assert waits == [60, 60, 3480, 3600]
        assert len(fake.requests_for("models")) == 4 and len(router.requests_for("models")) == 2
        assert registry.models() == {"local": ["llama3.2:latest"], "router": []}
        assert [r.name for r in registry.resolve("llama3.2:latest")] == ["local/llama3.2:latest"]


