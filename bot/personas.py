"""Personas: named system prompts from ``PERSONAS_FILE`` (TOML), and a chat's own prompt.

The file lists ``[[persona]]`` tables, each with ``name``, ``description``, ``prompt`` and an
optional ``model`` (see ``personas.example.toml``)::

    [[persona]]
    name = "translator"
    description = "Translates what you write into English"
    prompt = "Translate every message into English. Answer with the translation only."
    model = "gpt-4o-mini"

:func:`load_personas` reads it with the standard library's :mod:`tomllib`; a file that cannot
be used (unreadable, not TOML, a missing or unknown key, a duplicate name, a prompt over
``SYSTEM_PROMPT_MAX_CHARS``) raises :class:`PersonasError` with one line naming the file and
the problem, which stops start-up (``bot.settings``). Telegram-free.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Persona", "Personas", "PersonasError", "load_personas"]

REQUIRED = ("name", "description", "prompt")
KEYS = frozenset({*REQUIRED, "model"})
#: Characters of a persona's name (it is a button's label).
NAME_MAX_CHARS = 64


class PersonasError(ValueError):
    """``PERSONAS_FILE`` cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Persona:
    """A named system prompt; ``model``: the model it switches the chat to (``None``: keep)."""

    name: str
    description: str
    prompt: str
    model: str | None = None

    @property
    def button_data(self) -> str:
        """Its button's ``callback_data``: ``persona#`` and 16 hex digits of the name's hash
        (24 bytes, within the Bot API's 64 whatever the name)."""
        return "persona#" + hashlib.sha256(self.name.lower().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Personas:
    """The personas of the file, in its order (empty without a file)."""

    items: tuple[Persona, ...] = ()

    def get(self, name: str | None) -> Persona | None:
        """The persona named ``name`` (without regard to case), or None."""
        wanted = (name or "").lower()
        return next((p for p in self.items if p.name.lower() == wanted), None)

    def by_button(self, data: str) -> Persona | None:
        """The persona whose button has ``data`` (see :attr:`Persona.button_data`), or None."""
        return next((p for p in self.items if p.button_data == data), None)


def _persona(path: Path, index: int, table: Any, max_chars: int) -> Persona:
    where = f"{path}: persona {index}"
    if not isinstance(table, dict):
        raise PersonasError(f"{where} is not a table")
    unknown = sorted(set(table) - KEYS)
    if unknown:
        known = ", ".join(sorted(KEYS))
        raise PersonasError(f"{where}: unknown key {unknown[0]!r} (keys: {known})")
    for key in (*REQUIRED, "model"):
        value = table.get(key)
        if key in REQUIRED and value is None:
            raise PersonasError(f"{where}: {key!r} is missing")
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise PersonasError(f"{where}: {key!r} must be a text that is not empty")
    name = table["name"].strip()
    if len(name) > NAME_MAX_CHARS:
        raise PersonasError(f"{where}: the name is longer than {NAME_MAX_CHARS} characters")
    prompt = table["prompt"].strip()
    if len(prompt) > max_chars:
        raise PersonasError(
            f"{path}: persona {name!r}: the prompt has {len(prompt)} characters, more than "
            f"SYSTEM_PROMPT_MAX_CHARS ({max_chars})"
        )
    model = table.get("model")
    return Persona(name, table["description"].strip(), prompt, model.strip() if model else None)


def load_personas(path: str | Path | None, max_chars: int) -> Personas:
    """The personas of the TOML file at ``path`` (``None``: none); each prompt has at most
    ``max_chars`` characters. Raises :class:`PersonasError` (one line: the file, the problem;
    for bad TOML its line and column, as :mod:`tomllib` reports them)."""
    if path is None:
        return Personas()
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PersonasError(f"{path}: cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise PersonasError(f"{path}: is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise PersonasError(f"{path}: is not valid TOML: {error}") from None
    extra = sorted(set(document) - {"persona"})
    if extra:
        raise PersonasError(f"{path}: unknown table {extra[0]!r} (personas are [[persona]])")
    tables = document.get("persona", [])
    if not isinstance(tables, list) or not tables:
        raise PersonasError(f"{path}: no [[persona]] tables")
    personas: list[Persona] = []
    for index, table in enumerate(tables, start=1):
        persona = _persona(path, index, table, max_chars)
        if any(other.name.lower() == persona.name.lower() for other in personas):
            raise PersonasError(
                f"{path}: the name {persona.name!r} is used twice (names are compared without case)"
            )
        personas.append(persona)
    return Personas(tuple(personas))
