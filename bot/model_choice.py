"""Which models the bot offers, and why it may offer none: the registry it builds at start
(every endpoint, then the seed providers that have a URL; nothing on a first run) and the
user's words for a turn no model can answer. Telegram-free (the console uses it too)."""

from __future__ import annotations

from bot.i18n import N_, _
from bot.settings import Settings
from providers import SEED_PROVIDERS, ModelRegistry, default_registry

__all__ = ["FIRST_RUN", "NOT_CONFIGURED", "NO_MODEL_OFFERED", "VANISHED", "make_registry",
           "unavailable"]

#: Logged once at start when nothing is configured (a first run): what to set.
FIRST_RUN = (
    "no model endpoint is configured: the bot answers every message with setup advice. Set "
    "OPENAI_API_KEY (OpenAI), or OPENAI_BASE_URL=https://openrouter.ai/api/v1 and "
    "OPENAI_API_KEY (OpenRouter), or OPENAI_BASE_URL=http://localhost:11434/v1 and "
    "OPENAI_MODELS (a local Ollama), or ENDPOINTS_FILE (several endpoints, see "
    "endpoints.example.toml), in .env or the environment, and restart the bot"
)
#: Told instead of an answer on a first run: no endpoint and no seed provider URL is set.
NOT_CONFIGURED = N_(
    "⚙️ No model is configured yet, so I can't answer. The bot's administrator should put one "
    "of these in its .env file and restart it:\n"
    "• OpenAI: OPENAI_API_KEY=sk-…\n"
    "• OpenRouter: OPENAI_BASE_URL=https://openrouter.ai/api/v1 and OPENAI_API_KEY=sk-or-…\n"
    "• a local Ollama: OPENAI_BASE_URL=http://localhost:11434/v1 and OPENAI_MODELS=llama3.2\n"
    "• several endpoints: ENDPOINTS_FILE=endpoints.toml (see endpoints.example.toml)"
)
#: Told instead of an answer when endpoints are configured but none offers a model now.
NO_MODEL_OFFERED = N_(
    "⚠️ None of the configured endpoints offers a model right now, so I can't answer. "
    "Send /models to see them; the lists are asked again regularly."
)
#: Told to a chat whose chosen model its endpoint no longer offers (before the default answers).
VANISHED = N_(
    "⚠️ The model {old} is no longer offered, so this chat now uses {model}. "
    "Send /model to choose another."
)


def make_registry(settings: Settings) -> ModelRegistry:
    """The providers: every endpoint, then the seed providers whose ``<PROVIDER>_URL`` is set
    (their own hosts are gone); none at all on a first run (nothing configured: the caller
    logs :data:`FIRST_RUN` once it runs).

    Raises :class:`providers.endpoints.EndpointsFileError` for a bad ``ENDPOINTS_FILE``."""
    if not settings.anything_configured:
        return ModelRegistry([])
    seeds = [seed for seed in SEED_PROVIDERS
             if seed.url_setting and getattr(settings, seed.url_setting)]
    return default_registry(settings, seeds=seeds)


def unavailable(registry: ModelRegistry) -> str | None:
    """Why no turn can be answered now, in the user's language: :data:`NOT_CONFIGURED` on a
    first run (no provider at all), :data:`NO_MODEL_OFFERED` when no provider offers a model
    now; None when a model can answer."""
    if not registry.providers:
        return _(NOT_CONFIGURED)
    if not registry.model_names():
        return _(NO_MODEL_OFFERED)
    return None
