"""`.env.example` documents every setting the bot reads."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_every_setting_is_in_env_example() -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    documented = {line.split("=", 1)[0] for line in lines if "=" in line and not line.startswith("#")}
    assert documented == {name.upper() for name in Settings.model_fields}


def test_env_example_holds_no_secret() -> None:
    values = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert values["TELEGRAM_BOT_TOKEN"] == "" and values["OPENAI_API_KEY"] == ""
    assert values["AICHATS_COOKIE"] == ""
