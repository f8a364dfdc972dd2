"""Endpoints: ENDPOINTS_FILE (and what a bad one gets), several OpenAI-compatible servers in
one registry, their real model lists (GET /models) and what happens when a list fails."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from providers import ProviderSettings, UnknownModelError, default_registry
from providers.endpoints import EndpointConfigError, EndpointsFileError, load_endpoints
from providers.settings import DEFAULT_OPENAI_BASE_URL
from tests.fakes.providers import FakeProviders, Reply
from tests.providers.helpers import MESSAGES


@pytest.fixture
async def second() -> AsyncIterator[FakeProviders]:
    """A second fake OpenAI-compatible server (think: OpenRouter), with its own key."""
    async with FakeProviders(api_key="router-key") as server:
        yield server


def only_file(**values: object) -> ProviderSettings:
    """Settings with no ``OPENAI_*`` endpoint (the fake's environment sets one)."""
    return ProviderSettings(openai_base_url=DEFAULT_OPENAI_BASE_URL, openai_api_key=None,
                            **values)  # type: ignore[arg-type]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "endpoints.toml"
    path.write_text(text, encoding="utf-8")
    return path


def two_endpoints(tmp_path: Path, first: FakeProviders, second: FakeProviders,
                  extra: str = "") -> ProviderSettings:
    """``local`` (``first``, no allow-list) then ``router`` (``second``, with headers)."""
    path = write(tmp_path, f"""
[endpoints.local]
base_url = "{first.origin}/openai/v1"
api_key = "test-key"

[endpoints.router]
base_url = "{second.origin}/openai/v1"
api_key_env = "ROUTER_KEY"
vision_models = ["openai/gpt-4o"]
headers = {{ "HTTP-Referer" = "https://example.org/bot", "X-Title" = "Test bot" }}
{extra}""")
    return only_file(endpoints_file=str(path), models_timeout=0.5)


async def test_two_servers_with_different_model_lists(
        fake: FakeProviders, second: FakeProviders, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_KEY", "router-key")
    fake.models = ["llama3.2:latest", "qwen3:8b"]
    second.models = ["deepseek/deepseek-r1", "openai/gpt-4o", "qwen3:8b"]
    registry = default_registry(two_endpoints(tmp_path, fake, second))
    # Before the lists came, the configured lists (none here: no allow-list).
    assert registry.models()["local"] == [] and registry.models()["router"] == []

    assert await registry.refresh() == set()
    assert registry.models()["local"] == ["llama3.2:latest", "qwen3:8b"]
    assert registry.models()["router"] == ["deepseek/deepseek-r1", "openai/gpt-4o", "qwen3:8b"]
    [router_list] = second.requests_for("models")
    assert router_list.path == "/openai/v1/models"
    assert router_list.headers["Authorization"] == "Bearer router-key"
    assert router_list.headers["X-Title"] == "Test bot"
    assert fake.requests_for("models")[0].headers["Authorization"] == "Bearer test-key"

    # endpoint/model pins; a model id with slashes is a model id when no endpoint is named so.
    [pinned] = registry.resolve("router/deepseek/deepseek-r1")
    assert (pinned.provider.__name__, pinned.model) == ("router", "deepseek/deepseek-r1")
    assert registry.canonical("ROUTER/DeepSeek/DeepSeek-R1") == "router/deepseek/deepseek-r1"
    [bare] = registry.resolve("deepseek/deepseek-r1")
    assert bare.name == "router/deepseek/deepseek-r1"
    assert registry.canonical("deepseek/deepseek-r1") == "deepseek/deepseek-r1"
    assert [r.can_see for r in registry.resolve("openai/gpt-4o")] == [True]

    second.push("openai", Reply("from the router"))
    chunks = [chunk async for _, chunk in registry.stream_routes([pinned], MESSAGES)]
    assert "".join(c for c in chunks if isinstance(c, str)) == "from the router"
    request = second.requests_for("openai")[0]
    assert request.json["model"] == "deepseek/deepseek-r1"
    assert request.headers["HTTP-Referer"] == "https://example.org/bot"
    assert not fake.requests_for("openai")


async def test_two_endpoints_offering_one_id_fall_back_in_config_order(
        fake: FakeProviders, second: FakeProviders, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_KEY", "router-key")
    fake.models, second.models = ["qwen3:8b"], ["qwen3:8b", "other"]
    registry = default_registry(two_endpoints(tmp_path, fake, second))
    await registry.refresh()
    assert [route.name for route in registry.resolve("QWEN3:8B")] == [
        "local/qwen3:8b", "router/qwen3:8b"]
    fake.push("openai", Reply("local is down", status=502))
    second.push("openai", Reply("the router answered"))
    got = [(route.name, chunk) async for route, chunk in
           registry.stream_routes(registry.resolve("qwen3:8b"), MESSAGES)]
    assert {name for name, _ in got} == {"router/qwen3:8b"}
    assert registry.health["local"].ok is False and registry.health["router"].ok is True
    # Pinned, only the one endpoint is tried.
    assert [r.name for r in registry.resolve("local/qwen3:8b")] == ["local/qwen3:8b"]


async def test_a_pin_whose_endpoint_lacks_the_model_is_read_as_a_model_id(
        fake: FakeProviders, second: FakeProviders, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenRouter's ids start with a vendor (``openai/gpt-4o``) that may be an endpoint's name."""
    monkeypatch.setenv("ROUTER_KEY", "router-key")
    path = write(tmp_path, f"""
[endpoints.openai]
base_url = "{fake.origin}/openai/v1"
api_key = "test-key"
models = ["gpt-4o-mini"]

[endpoints.router]
base_url = "{second.origin}/openai/v1"
api_key_env = "ROUTER_KEY"
""")
    second.models = ["openai/gpt-4o", "openai/gpt-4o-mini"]
    registry = default_registry(only_file(endpoints_file=str(path)))
    await registry.refresh()
    assert [r.name for r in registry.resolve("openai/gpt-4o")] == ["router/openai/gpt-4o"]
    assert [r.name for r in registry.resolve("openai/gpt-4o-mini")] == ["OpenAI/gpt-4o-mini"]
    assert [r.name for r in registry.resolve("router/openai/gpt-4o-mini")] == [
        "router/openai/gpt-4o-mini"]


async def test_a_model_id_with_spaces(fake: FakeProviders, tmp_path: Path) -> None:
    """An id with spaces (LM Studio and others allow them) is one name; leading, trailing and
    repeated spaces typed around it do not matter, and an id of control characters is left out."""
    fake.models = ["My Model v2", "\u0007bell", " ", "x" * 201]
    path = write(tmp_path, f'[endpoints.lm]\nbase_url = "{fake.origin}/openai/v1"\n'
                           'api_key = "test-key"\n')
    registry = default_registry(only_file(endpoints_file=str(path)))
    await registry.refresh()
    assert registry.models()["lm"] == ["My Model v2"]
    assert registry.canonical("  my model v2 ") == "My Model v2"
    assert registry.canonical("lm/MY MODEL V2") == "lm/My Model v2"
    with pytest.raises(UnknownModelError) as info:
        registry.resolve("my  model  v2")  # inner spaces are part of the id
    assert "My Model v2" in info.value.suggestions


async def test_the_allow_list_filters_the_listed_models(fake: FakeProviders,
                                                        tmp_path: Path) -> None:
    fake.models = ["deepseek/deepseek-r1", "deepseek/deepseek-chat", "meta/llama-3",
                   "llama3.2:latest", "dall-e-3"]
    path = write(tmp_path, f"""
[endpoints.mixed]
base_url = "{fake.origin}/openai/v1"
api_key = "test-key"
models = ["llama3.2", "deepseek/*", "gone-model"]
image_models = ["dall-e-3"]
""")
    registry = default_registry(only_file(endpoints_file=str(path)))
    assert registry.models()["mixed"] == ["llama3.2", "gone-model", "dall-e-3"]  # configured
    await registry.refresh()
    # Exact entries first, in the allow-list's order (Ollama's ":latest" under its short
    # name); then pattern matches in the endpoint's order; "gone-model" is not listed.
    assert registry.models()["mixed"] == ["llama3.2", "dall-e-3", "deepseek/deepseek-r1",
                                          "deepseek/deepseek-chat"]
    assert registry.resolve("dall-e-3")[0].is_image


@pytest.mark.parametrize("answer", [
    Reply("Not Found", status=404),
    Reply(body="<!doctype html><html><body>Welcome to nginx!</body></html>"),
    Reply(body='{"models": ["not", "the", "openai", "shape"]}', content_type="application/json"),
    Reply(hang=30),
], ids=["404", "html", "other-json", "hangs"])
async def test_a_failing_model_list_keeps_the_last_known_one_and_is_retried(
        fake: FakeProviders, second: FakeProviders, tmp_path: Path, answer: Reply,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("ROUTER_KEY", "router-key")
    fake.models, second.models = ["llama3.2:latest"], ["deepseek/deepseek-r1"]
    registry = default_registry(two_endpoints(tmp_path, fake, second))
    await registry.refresh()
    second.models = ["deepseek/deepseek-r1", "new/model"]
    fake.push("models", answer)
    with caplog.at_level(logging.INFO, logger="providers.registry"):
        assert await registry.refresh() == {"local"}
    assert registry.models()["local"] == ["llama3.2:latest"]  # its last known list
    assert registry.models()["router"] == ["deepseek/deepseek-r1", "new/model"]  # unaffected
    assert registry.resolve("llama3.2:latest")
    lines = [r for r in caplog.records if r.name == "providers.registry"]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert lines[0].getMessage().startswith("local: GET /models failed: ")
    listing = registry.listing_of("local")
    assert listing is not None and listing.error is not None
    # Retried later (only the failing one), it answers again.
    fake.models = ["llama3.2:latest", "qwen3:8b"]
    asked = len(second.requests_for("models"))
    assert await registry.refresh(only={"local"}) == set()
    assert registry.models()["local"] == ["llama3.2:latest", "qwen3:8b"]
    assert len(second.requests_for("models")) == asked and listing.error is None


async def test_a_list_that_never_answered_keeps_the_configured_one(fake: FakeProviders,
                                                                   tmp_path: Path) -> None:
    path = write(tmp_path, f"""
[endpoints.local]
base_url = "{fake.origin}/openai/v1"
api_key = "test-key"
models = ["llama3.2"]
""")
    registry = default_registry(only_file(endpoints_file=str(path)))
    fake.push("models", Reply("Not Found", status=404))
    assert await registry.refresh() == {"local"}
    assert registry.models()["local"] == ["llama3.2"]


def test_openai_settings_are_the_endpoint_named_openai(tmp_path: Path) -> None:
    settings = ProviderSettings(openai_api_key="sk-test")
    [endpoint] = load_endpoints(settings)
    assert endpoint.name == "openai" and endpoint.models == ["gpt-4o-mini", "gpt-4o", "dall-e-3"]
    path = write(tmp_path, '[endpoints.openai]\nbase_url = "http://127.0.0.1:1/v1"\n'
                           '[endpoints.b]\nbase_url = "http://127.0.0.1:2/v1"\n')
    with_file = load_endpoints(ProviderSettings(openai_api_key="sk-test", endpoints_file=str(path)))
    assert [(e.name, e.base_url) for e in with_file] == [
        ("openai", "http://127.0.0.1:1/v1"), ("b", "http://127.0.0.1:2/v1")]  # the file's wins
    assert load_endpoints(ProviderSettings()) == []


@pytest.mark.parametrize(("text", "message"), [
    ('[endpoints.a]\nbase_url = "http://x/v1"\nmodels = ["a", \n',
     "endpoints.toml, line 3, at the end of the file: Invalid value"),
    ('[endpoints.a]\nbase_url = "http://x/v1\nmodels = []\n',
     "endpoints.toml, line 2, column 24: Illegal character"),
    ('[endpoints.a]\nbase_url = "http://x/v1"\n[endpoints.a]\nbase_url = "http://y/v1"\n',
     "endpoints.toml, line 3, column 13: Cannot declare ('endpoints', 'a') twice"),
    ('[endpoints.a]\nbase_url = "http://x/v1"\n\n[endpoints.b]\napi_key = "k"\n',
     "endpoints.toml, line 4, [endpoints.b]: base_url is required"),
    ('[endpoints.a]\nbase_url = "ftp://x"\n',
     "endpoints.toml, line 1, [endpoints.a]: base_url: must be an http:// or https:// URL"),
    ('[endpoints.a]\nbase_url = "http://x/v1"\nmodel = ["a"]\n',
     "endpoints.toml, line 1, [endpoints.a]: model is not a known setting"),
    ('[endpoints."has space"]\nbase_url = "http://x/v1"\n',
     "endpoints.toml, line 1, [endpoints.has space]: name: String should match pattern"),
    ('[endpoints.a]\nbase_url = "http://x/v1"\nheaders = { "X-Title" = 5 }\n',
     "endpoints.toml, line 1, [endpoints.a]: headers.X-Title: Input should be a valid string"),
    ('[endpoints.a]\nbase_url = "http://x/v1"\napi_key_env = "NOT_SET_ANYWHERE"\n',
     "[endpoints.a]: api_key_env names NOT_SET_ANYWHERE, which is not set"),
    ('[endpoints.A]\nbase_url = "http://x/v1"\n[endpoints.a]\nbase_url = "http://y/v1"\n',
     "line 3, [endpoints.a]: a second endpoint named 'a'"),
    ('base_url = "http://x/v1"\n', "endpoints.toml, line 1: unknown key 'base_url'"),
    ("", "endpoints.toml: no [endpoints.NAME] table"),
], ids=["unclosed-list", "unclosed-string", "twice", "no-url", "bad-url", "typo", "bad-name", "header-type",
        "key-variable-unset", "same-name-other-case", "top-level-key", "empty"])
def test_a_malformed_endpoints_file_is_one_line_naming_file_line_and_problem(
        tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(EndpointsFileError) as info:
        load_endpoints(ProviderSettings(endpoints_file=str(path)))
    shown = str(info.value)
    assert "\n" not in shown and shown.startswith(f"Endpoints file {path}")
    assert message in shown


def test_a_missing_endpoints_file(tmp_path: Path) -> None:
    with pytest.raises(EndpointsFileError, match=r"nowhere.toml: cannot be read: No such file"):
        load_endpoints(ProviderSettings(endpoints_file=str(tmp_path / "nowhere.toml")))


def test_the_example_file_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parents[2] / "endpoints.example.toml"
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    endpoints = load_endpoints(ProviderSettings(endpoints_file=str(example)))
    assert [e.name for e in endpoints] == ["openai", "openrouter", "ollama"]
    assert endpoints[1].headers.keys() == {"HTTP-Referer", "X-Title"}
    assert endpoints[2].key() is None


def test_api_key_env_is_read_from_the_environment_or_dot_env(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As every setting: the variable, else its line in ``.env`` (the working directory's)."""
    monkeypatch.delenv("ROUTER_KEY", raising=False)
    path = write(tmp_path, '[endpoints.r]\nbase_url = "http://x/v1"\napi_key_env = "ROUTER_KEY"\n')
    (tmp_path / ".env").write_text("ROUTER_KEY=from-dot-env\n")
    [endpoint] = load_endpoints(only_file(endpoints_file=str(path)))
    assert endpoint.key() == "from-dot-env" and "from-dot-env" not in repr(endpoint)
    monkeypatch.setenv("ROUTER_KEY", "from-environment")
    [endpoint] = load_endpoints(only_file(endpoints_file=str(path)))
    assert endpoint.key() == "from-environment"


def test_a_bad_openai_base_url_is_named() -> None:
    with pytest.raises(EndpointConfigError) as info:
        load_endpoints(ProviderSettings(openai_base_url="localhost:11434/v1"))
    assert str(info.value) == (
        "OPENAI_BASE_URL: must be an http:// or https:// URL, up to and including /v1")


async def test_an_endpoint_that_is_not_asked_for_its_list(fake: FakeProviders,
                                                        tmp_path: Path) -> None:
    path = write(tmp_path, f'[endpoints.fixed]\nbase_url = "{fake.origin}/openai/v1"\n'
                           'api_key = "test-key"\nmodels = ["only-this"]\nfetch_models = false\n')
    registry = default_registry(only_file(endpoints_file=str(path)))
    assert await registry.refresh() == set()
    assert registry.models()["fixed"] == ["only-this"] and not fake.requests_for("models")
