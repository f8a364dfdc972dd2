"""The provider library: LLM providers as async generators, with no Telegram and no database.

Seed API (g4f's shape): ``AsyncGeneratorProvider``, ``ProviderModelMixin``, ``ImageResponse``,
``Messages``, ``AsyncResult``, ``format_prompt``. Providers: ``AiAsk``, ``ChatAnywhere``,
``AI365VIP``, ``AiChats``, ``Ylokh`` (the seeds) and ``OpenAI`` (OpenAI-compatible). The
registry (``ModelRegistry``, ``Route``, ``default_registry``) resolves what a user types.
Errors: ``providers.errors``. Settings: ``providers.settings``. Try it: ``python -m providers``.
"""

from providers.ai365vip import AI365VIP
from providers.aiask import AiAsk
from providers.aichats import AiChats
from providers.base import (
    AsyncGeneratorProvider,
    AsyncResult,
    BaseProvider,
    ImageResponse,
    Messages,
    ProviderModelMixin,
    ProviderStream,
    Reasoning,
    Usage,
    format_prompt,
)
from providers.chatanywhere import ChatAnywhere
from providers.errors import (
    AllProvidersFailedError,
    CloudflareError,
    MissingAuthError,
    ModelNotSupportedError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ResponseFormatError,
    ResponseStatusError,
    UnknownModelError,
)
from providers.openai import OpenAI
from providers.registry import (
    SEED_PROVIDERS,
    ModelRegistry,
    ProviderHealth,
    Route,
    default_registry,
)
from providers.settings import ProviderSettings, configure, current
from providers.ylokh import Ylokh

__all__ = [
    "AI365VIP", "AiAsk", "AiChats", "AllProvidersFailedError", "AsyncGeneratorProvider",
    "AsyncResult", "BaseProvider", "ChatAnywhere", "CloudflareError", "ImageResponse",
    "Messages", "MissingAuthError", "ModelNotSupportedError", "ModelRegistry", "OpenAI",
    "ProviderConnectionError", "ProviderError", "ProviderHealth", "ProviderModelMixin",
    "ProviderSettings", "ProviderStream", "ProviderTimeoutError", "RateLimitError", "Reasoning",
    "ResponseFormatError", "ResponseStatusError", "Route", "SEED_PROVIDERS",
    "UnknownModelError", "Usage", "Ylokh", "configure", "current", "default_registry",
    "format_prompt",
]
