"""The bot's configuration: one pydantic-settings class, read once at start and passed down.

Every setting comes from the environment or an optional ``.env`` file (``.env.example``
documents each one). The provider settings (``OPENAI_*``, ``<PROVIDER>_URL``, ``PROXY_URL``,
``PROVIDER_*_TIMEOUT``, ``PROVIDER_MAX_*_BYTES``, ``IMAGE_MAX_BYTES``) are inherited from
:class:`providers.settings.ProviderSettings`, so one object configures both layers.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.i18n import available_languages, supported
from bot.personas import load_personas
from providers.audio import AudioEndpoint
from providers.limits import Limits
from providers.settings import ProviderSettings, split_commas

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/bot.db"


class DatabaseSettings(BaseSettings):
    """Just DATABASE_URL, for ``python -m bot migrate`` (which needs no token)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL


class Settings(ProviderSettings):
    """All settings of the bot; names are the environment variables, case-insensitive.

    Raises :class:`pydantic.ValidationError` on construction when a value is missing or
    malformed; :func:`describe_error` turns that into one line naming the setting.
    """

    telegram_bot_token: SecretStr = Field(
        description="The bot's token from @BotFather (required; never logged)."
    )
    telegram_api_base_url: str = Field(
        default=DEFAULT_API_BASE_URL,
        description="Bot API base URL; the token is appended (a local Bot API server, or tests).",
    )
    telegram_api_base_file_url: str | None = Field(
        default=None,
        description=(
            "Bot API file URL; default: the base URL with its last '/bot' made '/file/bot'."
        ),
    )
    database_url: str = Field(default=DEFAULT_DATABASE_URL)
    default_model: str | None = Field(
        default=None,
        description="Model a new chat starts with; default: the first model of the registry.",
    )
    default_language: str = Field(
        default="en",
        description="Language of a chat that chose none and whose user's language the bot "
        "does not speak, and of the command menu's default (a catalog in bot/locales, or en).",
    )
    allowed_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    admin_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    refusal_interval: float = Field(
        default=600.0,
        ge=0,
        description="Seconds between two refusals to one user not allowed (0: refuse every "
        "message); the messages in between are ignored.",
    )
    history_limit: int = Field(default=20, ge=1, le=1000, description="Messages of context.")
    history_max_chars: int = Field(
        default=12_000, ge=100, description="Characters of context sent to the provider."
    )
    system_prompt: str | None = Field(default=None)
    # -- personas, usage, budgets (bot/personas.py, bot/usage.py, bot/budget.py) -------------
    system_prompt_max_chars: int = Field(
        default=4000,
        ge=100,
        le=20_000,
        description="Characters: the longest system prompt /system (or a persona) may set.",
    )
    personas_file: str | None = Field(
        default=None,
        description="TOML file of named personas for /persona; empty: none.",
    )
    daily_token_limit: int = Field(
        default=0,
        ge=0,
        description="Tokens a user's replies may use per UTC day (0: no limit; admins exempt).",
    )
    monthly_token_limit: int = Field(
        default=0,
        ge=0,
        description="Tokens a user's replies may use per UTC month (0: no limit; admins exempt).",
    )
    stream_edit_interval: float = Field(
        default=1.0, ge=0.05, le=60, description="Seconds between edits of a streamed reply."
    )
    group_stream_edit_interval: float = Field(
        default=3.0, ge=0.05, le=120, description="Seconds between edits in groups."
    )
    show_reasoning: bool = Field(
        default=False,
        description="Show a reasoning model's reasoning above its answers (collapsed), in chats "
        "that did not choose with /reasoning.",
    )
    max_reply_chars: int = Field(
        default=32_000,
        ge=100,
        description="Characters of a reply after which the provider is closed and the reply cut.",
    )
    log_level: str = Field(default="INFO")
    storage_retry_timeout: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description=(
            "Seconds a database write that can wait (a turn's records, a reply's final text) is "
            "retried while the database is locked or unreachable, before the user is told."
        ),
    )
    shutdown_grace: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="Seconds replies being written get to finish after SIGTERM/SIGINT.",
    )
    heartbeat_file: str | None = Field(
        default=None,
        description="File touched after each successful poll; default: next to the SQLite "
        "database, else in the temporary directory.",
    )
    heartbeat_max_age: float = Field(
        default=60.0,
        ge=15,
        description="Seconds since the last poll after which `healthcheck` reports unhealthy.",
    )
    # -- several processes of one bot (bot/shared_flood.py, bot/stop_signals.py) -------------
    flood_backend: Literal["memory", "redis"] = Field(
        default="memory",
        description="Where the flood budget is kept: 'memory' (one process) or 'redis' (one "
        "budget shared by every process of the bot, at REDIS_URL).",
    )
    stop_backend: Literal["memory", "redis"] = Field(
        default="memory",
        description="How /stop reaches the reply being written: 'memory' (this process) or "
        "'redis' (every process of the bot, by Redis pub/sub at REDIS_URL).",
    )
    redis_url: str = Field(
        default="redis://localhost:6379/0",
        description="The Redis server of FLOOD_BACKEND=redis and STOP_BACKEND=redis.",
    )
    # -- files the user sends (bot/telegram_files.py, bot/inputs/) ---------------------------
    file_download_timeout: float = Field(
        default=60.0, gt=0, le=600, description="Seconds a download from Telegram may take."
    )
    document_max_chars: int = Field(
        default=10_000, ge=100, description="Characters of a document's text put in a turn."
    )
    photo_max_bytes: int = Field(
        default=5_000_000, ge=10_000, description="Bytes: the largest photo size sent to a model."
    )
    vision_max_images: int = Field(
        default=10, ge=1, le=50, description="Images per request: the newest turns' photos."
    )
    transcription_base_url: str | None = Field(
        default=None, description="Speech-to-text endpoint (…/v1); default: OPENAI_BASE_URL."
    )
    transcription_api_key: SecretStr | None = Field(
        default=None, description="Its key; default: OPENAI_API_KEY (when the URL is default)."
    )
    transcription_model: str = Field(
        default="whisper-1", description="Speech-to-text model; empty: voice messages are off."
    )
    voice_max_seconds: int = Field(
        default=300, ge=1, description="Seconds: the longest voice message transcribed."
    )
    tts_base_url: str | None = Field(
        default=None, description="Text-to-speech endpoint (…/v1); default: OPENAI_BASE_URL."
    )
    tts_api_key: SecretStr | None = Field(
        default=None, description="Its key; default: OPENAI_API_KEY (when the URL is default)."
    )
    tts_model: str = Field(default="tts-1", description="Text-to-speech model for /voice.")
    tts_voice: str = Field(default="alloy", description="Text-to-speech voice for /voice.")

    # -- webhook ingress and workers (python -m bot webhook / worker; bot/webhook.py) ---------
    webhook_url: str | None = Field(
        default=None,
        description="Public HTTPS URL Telegram posts updates to (setWebhook); the ingress serves "
        "its path. Required by `python -m bot webhook`.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="setWebhook's secret_token, checked on every request (1-256 of A-Z a-z "
        "0-9 _ -). Required by `python -m bot webhook`.",
    )
    webhook_listen: str = Field(default="0.0.0.0", description="Address the ingress binds.")
    webhook_port: int = Field(default=8080, ge=1, le=65535, description="Port the ingress binds.")
    webhook_max_body_bytes: int = Field(
        default=1_000_000,
        ge=1024,
        description="Bytes: a larger request body is refused (413) without being read.",
    )
    webhook_max_connections: int = Field(
        default=40, ge=1, le=100, description="setWebhook's max_connections (Telegram: 1-100)."
    )
    worker_concurrency: int = Field(
        default=16, ge=1, le=1000, description="Updates one worker handles at once."
    )
    worker_heartbeat_interval: float = Field(
        default=10.0, gt=0, le=300, description="Seconds between a worker's heartbeats."
    )
    worker_stalled_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds without a heartbeat after which a worker counts as dead: its "
        "replies are marked interrupted and its other updates go to the other workers.",
    )

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _secret(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", text.strip()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return text.strip()

    @field_validator("allowed_user_ids", "admin_user_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        """``"1, 2,3"`` (comma-separated), a list, or one id; empty means nobody listed."""
        return [value] if isinstance(value, int) else split_commas(value)

    @field_validator("telegram_bot_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if not token or ":" not in token:
            raise ValueError("must look like '123456:ABC…' (the token from @BotFather)")
        return SecretStr(token)

    @field_validator("flood_backend", "stop_backend", mode="before")
    @classmethod
    def _backend(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("default_language")
    @classmethod
    def _language(cls, value: str) -> str:
        language = supported(value)
        if language is None:
            raise ValueError(f"must be one of {', '.join(available_languages())}")
        return language

    @field_validator(
        "default_model",
        "system_prompt",
        "telegram_api_base_file_url",
        "transcription_base_url",
        "tts_base_url",
        "heartbeat_file",
        "webhook_url",
    )
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("personas_file")
    @classmethod
    def _personas(cls, value: str | None, info: ValidationInfo) -> str | None:
        """The file must be a usable personas file (read again where it is used)."""
        path = value.strip() or None if value is not None else None
        max_chars = info.data.get("system_prompt_max_chars")
        if path is not None and max_chars is not None:
            load_personas(path, max_chars)  # PersonasError is a ValueError: one line
        return path

    @field_validator("transcription_api_key", "tts_api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("transcription_model")
    @classmethod
    def _stripped(cls, value: str) -> str:
        return value.strip()

    def audio_endpoint(self, base_url: str | None, api_key: SecretStr | None) -> AudioEndpoint:
        """An audio API: ``base_url`` or else OPENAI_BASE_URL, with ``api_key``, or else
        OPENAI_API_KEY when the URL is OPENAI_BASE_URL (a key is never sent to another host
        it was not given for); the PROVIDER_* bounds and PROXY_URL as for the providers."""
        url = base_url or self.openai_base_url
        key = api_key or (self.openai_api_key if url == self.openai_base_url else None)
        return AudioEndpoint(
            url,
            key.get_secret_value() if key else None,
            Limits.from_settings(self),
            self.proxy_url,
        )

    @property
    def transcription_endpoint(self) -> AudioEndpoint:
        """TRANSCRIPTION_BASE_URL and TRANSCRIPTION_API_KEY, see :meth:`audio_endpoint`."""
        return self.audio_endpoint(self.transcription_base_url, self.transcription_api_key)

    @property
    def tts_endpoint(self) -> AudioEndpoint:
        """TTS_BASE_URL and TTS_API_KEY, see :meth:`audio_endpoint`."""
        return self.audio_endpoint(self.tts_base_url, self.tts_api_key)

    @property
    def file_base_url(self) -> str:
        """The Bot API file URL PTB needs (``base_file_url``)."""
        if self.telegram_api_base_file_url:
            return self.telegram_api_base_file_url
        base = self.telegram_api_base_url
        head, sep, tail = base.rpartition("/bot")
        return f"{head}/file/bot{tail}" if sep else base

    def is_allowed(self, user_id: int | None) -> bool:
        """Whether a user may talk to the bot: everyone when ALLOWED_USER_IDS is empty."""
        if not self.allowed_user_ids:
            return True
        return user_id is not None and (
            user_id in self.allowed_user_ids or user_id in self.admin_user_ids
        )


def describe_error(error: ValidationError) -> str:
    """One line naming the first bad setting, e.g. ``TELEGRAM_BOT_TOKEN: is required``."""
    first = error.errors()[0]
    name = str(first["loc"][0]).upper() if first.get("loc") else "settings"
    message = "is required" if first["type"] == "missing" else first["msg"]
    message = message.removeprefix("Value error, ")
    return f"Configuration error: {name} {message}"
