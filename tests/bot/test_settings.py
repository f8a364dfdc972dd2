"""Settings: parsing from the environment, defaults, and the one-line errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.settings import DEFAULT_DATABASE_URL, Settings, describe_error

TOKEN = "123456:not-a-real-token-just-for-tests"


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.telegram_api_base_url == "https://api.telegram.org/bot"
    assert s.file_base_url == "https://api.telegram.org/file/bot"
    assert s.database_url == DEFAULT_DATABASE_URL
    assert s.allowed_user_ids == frozenset() and s.is_allowed(12345)
    assert s.stream_edit_interval == 1.0 and s.history_limit == 20


def test_environment_values_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("ALLOWED_USER_IDS", "1, 2,3")
    monkeypatch.setenv("ADMIN_USER_IDS", "9")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/bot")
    monkeypatch.setenv("STREAM_EDIT_INTERVAL", "0.5")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.allowed_user_ids == {1, 2, 3} and s.admin_user_ids == {9}
    assert s.is_allowed(2) and s.is_allowed(9) and not s.is_allowed(4) and not s.is_allowed(None)
    assert s.file_base_url == "http://127.0.0.1:8081/file/bot"
    assert s.stream_edit_interval == 0.5 and s.log_level == "DEBUG"


def test_the_token_is_secret() -> None:
    s = settings(telegram_bot_token=TOKEN)
    assert TOKEN not in repr(s) and TOKEN not in str(s.model_dump())
    assert s.telegram_bot_token.get_secret_value() == TOKEN


@pytest.mark.parametrize(
    ("values", "line"),
    [
        ({}, "Configuration error: TELEGRAM_BOT_TOKEN is required"),
        ({"telegram_bot_token": "nonsense"}, "Configuration error: TELEGRAM_BOT_TOKEN must look like"),
        ({"telegram_bot_token": TOKEN, "history_limit": "lots"}, "Configuration error: HISTORY_LIMIT "),
        ({"telegram_bot_token": TOKEN, "allowed_user_ids": "1,x"}, "Configuration error: ALLOWED_USER_IDS "),
        ({"telegram_bot_token": TOKEN, "log_level": "LOUD"}, "Configuration error: LOG_LEVEL must be one of"),
        ({"telegram_bot_token": TOKEN, "flood_backend": "postgres"}, "Configuration error: FLOOD_BACKEND Input should be 'memory' or 'redis'"),
        ({"telegram_bot_token": TOKEN, "stop_backend": ""}, "Configuration error: STOP_BACKEND Input should be 'memory' or 'redis'"),
    ],
)
def test_errors_name_the_setting_in_one_line(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, object], line: str
) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    with pytest.raises(ValidationError) as caught:
        settings(**values)
    described = describe_error(caught.value)
    assert described.startswith(line) and "\n" not in described


def test_the_shared_backends_are_chosen_by_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """FLOOD_BACKEND and STOP_BACKEND: memory by default (nothing shared, no Redis client), redis
    when asked (in any case, spaces around ignored): a shared flood budget and /stop whose Redis
    keys carry the bot's id."""
    from bot.flood import FloodControl
    from bot.lifecycle import flood_budget, namespace, stop_signals
    from bot.shared_flood import SharedFloodControl
    from bot.shared_stop import RedisStopSignals
    from bot.stop_signals import LocalStopSignals
    from bot.turns import RunningTurns

    default = settings(telegram_bot_token=TOKEN)
    assert default.flood_backend == default.stop_backend == "memory"
    assert default.redis_url == "redis://localhost:6379/0"
    assert type(flood_budget(default)) is FloodControl
    assert type(stop_signals(default, RunningTurns())) is LocalStopSignals
    shared = settings(telegram_bot_token=TOKEN, flood_backend=" Redis ", stop_backend="REDIS",
                      redis_url="redis://127.0.0.1:6390/2")
    assert namespace(shared) == "llm-telegram-bot:123456"
    flood = flood_budget(shared)
    assert isinstance(flood, SharedFloodControl) and flood.namespace == "llm-telegram-bot:123456"
    assert flood.redis.connection_pool.connection_kwargs["port"] == 6390
    signals = stop_signals(shared, RunningTurns())
    assert isinstance(signals, RedisStopSignals) and signals.channel == "llm-telegram-bot:123456:stop"
