"""An endpoint's real model list: ``GET {base}/models`` and what is known of its last answer.

Wire format (OpenAI API reference, "Models: list"; Ollama's ``/v1/models`` and OpenRouter's
``/models`` answer the same shape): ``{"object": "list", "data": [{"id": "gpt-4o", ...}, ...]}``.
An item whose ``id`` is not a usable model id (not a string, empty, longer than
:data:`MAX_ID_CHARS` characters, or holding a control character) is left out.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from providers.errors import ProviderTimeoutError, ResponseFormatError
from providers.http import client_session, request
from providers.limits import Limits
from providers.status import map_exception

__all__ = ["MAX_ID_CHARS", "ModelCatalog", "fetch_model_ids", "model_ids"]

#: The longest model id taken from a list, in characters (OpenRouter's are under 80).
MAX_ID_CHARS = 200


@dataclass
class ModelCatalog:
    """What an endpoint's ``/models`` said: ``listed`` the ids of its last good answer (None
    before any), ``fetched_at`` when that was (UTC), ``error`` the short message of the last
    attempt's failure (None after a success)."""

    listed: list[str] | None = None
    fetched_at: datetime | None = None
    error: str | None = None

    def succeeded(self, ids: list[str]) -> None:
        self.listed, self.fetched_at, self.error = ids, datetime.now(UTC), None


def model_ids(payload: Any) -> list[str]:
    """The model ids of a ``/models`` answer, in its order, without repeats.

    Raises ResponseFormatError when ``payload`` is not ``{"data": [...]}``."""
    items = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise ResponseFormatError("The model list has no 'data' list")
    ids: dict[str, None] = {}
    for item in items:
        model = item.get("id") if isinstance(item, dict) else None
        if isinstance(model, str) and _usable(model.strip()):
            ids.setdefault(model.strip())
    return list(ids)


def _usable(model: str) -> bool:
    return 0 < len(model) <= MAX_ID_CHARS and not any(
        unicodedata.category(char).startswith("C") for char in model)


async def fetch_model_ids(url: str, headers: Mapping[str, str], limits: Limits,
                          proxy: str | None, timeout: float) -> list[str]:
    """``GET url`` (``{base}/models``) within ``timeout`` seconds in all; its model ids.

    Raises ProviderTimeoutError after ``timeout`` seconds, the mapped ProviderError for an
    error status (``providers.status``), ResponseFormatError for a body that is not the
    OpenAI list (an HTML page, say), ProviderConnectionError when it cannot connect."""
    try:
        async with asyncio.timeout(timeout), client_session(headers, limits) as session, \
                request(session, "GET", url, limits=limits, proxy=proxy) as response:
            return model_ids(await response.json())
    except TimeoutError as error:
        raise ProviderTimeoutError(f"The model list did not come within {timeout:g} s") from error
    except Exception as error:
        mapped = map_exception(error)  # aiohttp's errors -> ProviderErrors
        if mapped is None or mapped is error:
            raise
        raise mapped from error
