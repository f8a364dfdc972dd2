"""OpenAI-compatible endpoints: their configuration, from ``ENDPOINTS_FILE`` and ``OPENAI_*``.

An endpoint is a name, a base URL (up to and including ``/v1``), an optional key, an optional
model allow-list, its image and vision models, and extra headers (OpenRouter's
``HTTP-Referer`` and ``X-Title``). ``ENDPOINTS_FILE`` is a TOML file (``endpoints.example.toml``)
with one table per endpoint, in fallback order::

    [endpoints.openrouter]
    base_url = "https://openrouter.ai/api/v1"
    api_key_env = "OPENROUTER_API_KEY"       # or api_key = "sk-or-..."
    models = ["deepseek/*", "openai/gpt-4o"]  # allow-list; absent: every model it lists
    vision_models = ["openai/gpt-4o"]
    headers = { "HTTP-Referer" = "https://example.org", "X-Title" = "My bot" }

The ``OPENAI_*`` settings are the endpoint named ``openai`` (first in the order) when they are
configured (:attr:`~providers.settings.ProviderSettings.openai_configured`), unless the file has
an endpoint of that name, which replaces them.

:func:`load_endpoints` raises :class:`EndpointsFileError` (one line: the file, the line, the
problem) for a file that is missing, not TOML, or not valid.
"""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from providers.settings import ProviderSettings

__all__ = ["Endpoint", "EndpointConfigError", "EndpointsFileError", "env_endpoint",
           "load_endpoints"]

#: What an endpoint's name may be: it is the first segment of ``name/model``.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_GLOB = re.compile(r"[*?\[]")


class EndpointConfigError(ValueError):
    """The endpoints cannot be configured; the message is one line naming what to fix."""


class EndpointsFileError(EndpointConfigError):
    """``ENDPOINTS_FILE`` cannot be used; the message is one line naming the file and the line."""


class Endpoint(BaseModel):
    """One OpenAI-compatible endpoint (see the module docstring).

    ``models``: the allow-list, exact ids or shell-style patterns (``deepseek/*``); empty: every
    model the endpoint's ``GET /models`` lists. Its entries without a pattern, with the image
    models, are the list used until ``/models`` first answers (:meth:`configured_models`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN, max_length=40)
    base_url: str
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    models: list[str] = []
    image_models: list[str] = []
    vision_models: list[str] = []
    headers: dict[str, str] = {}
    fetch_models: bool = True

    @field_validator("models", "image_models", "vision_models")
    @classmethod
    def _no_blank_ids(cls, value: list[str]) -> list[str]:
        ids = [model.strip() for model in value]
        if any(not model for model in ids):
            raise ValueError("a model id is empty")
        return ids

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+\S*", value.strip()):
            raise ValueError("must be an http:// or https:// URL, up to and including /v1")
        return value.strip()

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def key(self) -> str | None:
        """The key to send as ``Authorization: Bearer``, or None (a local server needs none)."""
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def allows(self, model: str) -> str | None:
        """The id under which a model the endpoint lists is offered, or None when the
        allow-list excludes it. An allow-list entry without a tag also takes Ollama's default
        tag (``llama3.2`` offers ``llama3.2:latest`` as ``llama3.2``)."""
        if not self.models:
            return model
        lower = model.lower()
        for entry in [*self.models, *self.image_models]:
            if _GLOB.search(entry):
                if fnmatch.fnmatchcase(lower, entry.lower()):
                    return model
            elif lower in (entry.lower(), f"{entry.lower()}:latest"):
                return entry
        return None

    def configured_models(self) -> list[str]:
        """The models offered before ``/models`` answers: the allow-list's exact ids, then the
        image models, without repeats."""
        exact = [model for model in self.models if not _GLOB.search(model)]
        return list(dict.fromkeys([*exact, *self.image_models]))

    def offered(self, listed: list[str]) -> list[str]:
        """The models offered when ``/models`` listed ``listed``: those the allow-list takes
        (in the allow-list's order for exact entries, the endpoint's for patterns)."""
        taken: dict[str, str] = {}
        for model in listed:
            shown = self.allows(model)
            if shown is not None:
                taken.setdefault(shown.lower(), shown)
        order = {model.lower(): index for index, model in enumerate(self.configured_models())}
        return sorted(taken.values(), key=lambda model: order.get(model.lower(), len(order)))


def env_endpoint(settings: ProviderSettings) -> Endpoint:
    """The ``OPENAI_*`` settings as the endpoint named ``openai``: ``OPENAI_MODELS`` (with
    ``OPENAI_IMAGE_MODELS``) is its allow-list; an empty ``OPENAI_MODELS`` allows every model
    the endpoint lists."""
    allowed = settings.openai_models
    return Endpoint(
        name="openai", base_url=settings.openai_base_url, api_key=settings.openai_api_key,
        models=[*allowed, *settings.openai_image_models] if allowed else [],
        image_models=list(settings.openai_image_models),
        vision_models=list(settings.openai_vision_models))


def load_endpoints(settings: ProviderSettings) -> list[Endpoint]:
    """Every configured endpoint in fallback order: ``openai`` (the ``OPENAI_*`` settings, when
    configured and not replaced by the file), then ``ENDPOINTS_FILE``'s in file order.

    Raises EndpointsFileError for a missing, unreadable, malformed or invalid file, and
    EndpointConfigError for an ``OPENAI_BASE_URL`` that is not an http(s) URL."""
    endpoints = _read_file(Path(settings.endpoints_file)) if settings.endpoints_file else []
    if settings.openai_configured and all(e.name.lower() != "openai" for e in endpoints):
        try:
            endpoints.insert(0, env_endpoint(settings))
        except ValidationError as error:
            field = str(error.errors()[0].get("loc", ("",))[0])
            name = "OPENAI_BASE_URL" if field == "base_url" else "OPENAI_MODELS"
            raise EndpointConfigError(
                f"{name}: {_describe(error).partition(': ')[2] or _describe(error)}") from None
    return endpoints


def _read_file(path: Path) -> list[Endpoint]:
    import tomllib  # only when a file is configured

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise EndpointsFileError(f"Endpoints file {path}: cannot be read: {reason}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        found = re.search(r"\(at line (\d+), column (\d+)\)$", message)
        end = re.search(r"\(at end of document\)$", message)
        if found:
            where = f"line {found[1]}, column {found[2]}"
        else:
            where = f"line {max(1, len(text.splitlines()))}, at the end of the file"
        cut = found or end
        problem = message[: cut.start()].strip() if cut else message
        raise EndpointsFileError(f"Endpoints file {path}, {where}: {problem}") from None
    tables = document.pop("endpoints", None)
    if document:
        raise EndpointsFileError(
            f"Endpoints file {path}, line {_line_of(text, next(iter(document)))}: unknown key "
            f"{next(iter(document))!r} (each endpoint is a table [endpoints.NAME])")
    if not isinstance(tables, dict) or not tables:
        raise EndpointsFileError(f"Endpoints file {path}: no [endpoints.NAME] table")
    endpoints: list[Endpoint] = []
    seen: set[str] = set()
    for name, table in tables.items():
        line = _line_of(text, f"endpoints.{name}")
        where = f"Endpoints file {path}, line {line}, [endpoints.{name}]"
        if not isinstance(table, dict):
            raise EndpointsFileError(f"{where}: must be a table")
        if name.lower() in seen:
            raise EndpointsFileError(f"{where}: a second endpoint named {name!r}")
        seen.add(name.lower())
        if "name" in table:
            raise EndpointsFileError(f"{where}: 'name' is the table's own name, not a key")
        try:
            endpoint = Endpoint.model_validate({**table, "name": name})
        except ValidationError as error:
            raise EndpointsFileError(f"{where}: {_describe(error)}") from None
        if endpoint.api_key_env:
            if endpoint.api_key is not None:
                raise EndpointsFileError(f"{where}: give api_key or api_key_env, not both")
            key = _variable(endpoint.api_key_env)
            if not key:
                raise EndpointsFileError(
                    f"{where}: api_key_env names {endpoint.api_key_env}, which is not set")
            endpoint = endpoint.model_copy(update={"api_key": SecretStr(key)})
        endpoints.append(endpoint)
    return endpoints


def _variable(name: str) -> str | None:
    """An environment variable, else its line in ``.env`` (as the settings read it)."""
    if os.environ.get(name, "").strip():
        return os.environ[name].strip()
    from dotenv import dotenv_values  # python-dotenv, which pydantic-settings reads .env with

    value = dotenv_values(".env").get(name) if Path(".env").is_file() else None
    return value.strip() if value and value.strip() else None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ())) or "value"
    if first["type"] == "missing":
        return f"{field} is required"
    if first["type"] == "extra_forbidden":
        return f"{field} is not a known setting"
    return f"{field}: {first['msg'].removeprefix('Value error, ')}"


def _line_of(text: str, table: str) -> int | str:
    """The line number of ``[table]`` (or of a top-level ``key``) in the TOML text, or "?"."""
    parts = [re.escape(part) for part in table.split(".")]
    dotted = r"\s*\.\s*".join(rf"(?:{part}|\"{part}\"|'{part}')" for part in parts)
    header = re.compile(rf"^\s*\[\s*{dotted}\s*\]|^\s*{dotted}\s*[=.]")
    for number, line in enumerate(text.splitlines(), 1):
        if header.search(line):
            return number
    return "?"
