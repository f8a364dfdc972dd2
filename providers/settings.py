"""Provider settings, read from environment variables (pydantic-settings).

Variables (names are case-insensitive, as pydantic-settings reads them):

- ``AIASK_URL``, ``CHATANYWHERE_URL``, ``AI365VIP_URL``, ``AICHATS_URL``, ``YLOKH_URL``: replace
  the provider's origin (scheme, host, port and an optional path prefix) in front of its own
  path; e.g. ``AIASK_URL=http://127.0.0.1:9000/aiask`` makes AiAsk post to
  ``http://127.0.0.1:9000/aiask/v1/chat/gpt/``. Unset: the original origin (the provider's
  ``api_origin``; the hosts are dead, see ``providers/base.py``).
- ``OPENAI_BASE_URL`` (up to and including ``/v1``; default ``https://api.openai.com/v1``),
  ``OPENAI_API_KEY`` (secret, never logged), ``OPENAI_MODELS`` (comma-separated text model ids,
  default ``gpt-4o-mini,gpt-4o``), ``OPENAI_IMAGE_MODELS`` (comma-separated, default ``dall-e-3``),
  ``OPENAI_VISION_MODELS`` (comma-separated: the models that take images in; default
  ``gpt-4o-mini,gpt-4o``).
- ``ENDPOINTS_FILE``: a TOML file of OpenAI-compatible endpoints (``providers.endpoints``;
  ``endpoints.example.toml``); unset: only the ``OPENAI_*`` one.
- ``MODELS_REFRESH``: seconds between two fetches of every endpoint's ``GET /models``
  (default 3600); ``MODELS_RETRY``: seconds before an endpoint whose ``/models`` failed is
  asked again (default 60); ``MODELS_TIMEOUT``: seconds one ``/models`` request may take in
  all (default 10).
- ``PROXY_URL``: default proxy for every provider (``http://host:port``).
- ``PROVIDER_CONNECT_TIMEOUT``: seconds to open a connection to the provider or the proxy
  (default 10).
- ``PROVIDER_FIRST_BYTE_TIMEOUT``: seconds from sending a request to the first byte of the
  reply's body (default 120). ``PROVIDER_TIMEOUT``, the old name, sets it too (an old ``.env``
  keeps working; it was a total deadline, which cut healthy long answers).
- ``PROVIDER_IDLE_TIMEOUT``: seconds of silence allowed between two pieces of a reply after its
  first byte (default 60). There is no total deadline: a model that keeps sending may finish.
- ``PROVIDER_MAX_LINE_BYTES``: the longest line or SSE event of a streamed reply, bytes
  (default 1_048_576, 1 MiB).
- ``PROVIDER_MAX_JSON_BYTES``: the largest JSON body of a reply, bytes (default 4_194_304,
  4 MiB); an image endpoint's JSON may also hold its ``b64_json`` images (``IMAGE_MAX_BYTES``
  each, base64-encoded).
- ``IMAGE_MAX_BYTES``: the largest image download, bytes (default 10_000_000: Telegram's
  10 MB photo limit, Bot API ``sendPhoto``).
- ``AICHATS_COOKIE``: optional Cookie header for ai-chats.org. The original hard-coded a stale
  browser session cookie; a session cookie is a credential, so it is not in the repository.

The bot's own settings class subclasses :class:`ProviderSettings` and calls :func:`configure`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"


def split_commas(value: Any) -> Any:
    """A comma-separated setting: ``"a, b,,c"`` -> ``["a", "b", "c"]``; other values pass."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ProviderSettings(BaseSettings):
    """Settings every provider reads (see the module docstring for each variable)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    aiask_url: str | None = None
    chatanywhere_url: str | None = None
    ai365vip_url: str | None = None
    aichats_url: str | None = None
    ylokh_url: str | None = None
    aichats_cookie: SecretStr | None = None

    openai_base_url: str = DEFAULT_OPENAI_BASE_URL
    openai_api_key: SecretStr | None = None
    openai_models: Annotated[list[str], NoDecode] = ["gpt-4o-mini", "gpt-4o"]
    openai_image_models: Annotated[list[str], NoDecode] = ["dall-e-3"]
    openai_vision_models: Annotated[list[str], NoDecode] = ["gpt-4o-mini", "gpt-4o"]

    endpoints_file: str | None = None
    models_refresh: float = Field(default=3600.0, ge=10)
    models_retry: float = Field(default=60.0, ge=1)
    models_timeout: float = Field(default=10.0, gt=0, le=300)

    proxy_url: str | None = None
    provider_connect_timeout: float = Field(default=10.0, gt=0)
    provider_first_byte_timeout: float = Field(
        default=120.0, gt=0,
        validation_alias=AliasChoices("provider_first_byte_timeout", "provider_timeout"))
    provider_idle_timeout: float = Field(default=60.0, gt=0)
    provider_max_line_bytes: int = Field(default=1_048_576, ge=1024)
    provider_max_json_bytes: int = Field(default=4_194_304, ge=1024)
    image_max_bytes: int = Field(default=10_000_000, ge=1)

    @field_validator("openai_models", "openai_image_models", "openai_vision_models", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator("aiask_url", "chatanywhere_url", "ai365vip_url", "aichats_url",
                     "ylokh_url", "proxy_url", "openai_api_key", "aichats_cookie", "endpoints_file",
                     mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        """An empty variable (``PROXY_URL=``) means "not set"."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def openai_configured(self) -> bool:
        """True when ``OPENAI_API_KEY`` is set or ``OPENAI_BASE_URL`` is not the default
        (a local OpenAI-compatible server such as Ollama needs no key)."""
        base = self.openai_base_url.rstrip("/")
        return self.openai_api_key is not None or base != DEFAULT_OPENAI_BASE_URL

    @property
    def seed_urls_set(self) -> bool:
        """True when any seed provider's ``<PROVIDER>_URL`` is set (their own hosts are gone)."""
        return any((self.aiask_url, self.chatanywhere_url, self.ai365vip_url, self.aichats_url,
                    self.ylokh_url))

    @property
    def anything_configured(self) -> bool:
        """False on a first run: no ``OPENAI_*`` endpoint, no ``ENDPOINTS_FILE`` and no seed
        provider URL, so no model can answer."""
        return self.openai_configured or bool(self.endpoints_file) or self.seed_urls_set


_configured: ProviderSettings | None = None


def configure(settings: ProviderSettings | None) -> None:
    """Make ``settings`` what :func:`current` returns; None goes back to reading the environment."""
    global _configured
    _configured = settings


def current() -> ProviderSettings:
    """The settings given to :func:`configure`, else a fresh ``ProviderSettings()`` read from the
    environment now (so tests and the seeds' examples only need to set variables)."""
    return _configured if _configured is not None else ProviderSettings()
