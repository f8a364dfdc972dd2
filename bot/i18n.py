"""The bot's own words in the chat's language: GNU gettext catalogs read with babel.

Every text the bot writes itself goes through :func:`_` (or :func:`ngettext` when it holds a
number); model output never does. Placeholders are ``str.format`` fields: ``_("Model {model}
is unknown.", model=name)``. :data:`current_language` holds the language of the update being
handled (a :class:`~contextvars.ContextVar`, so each update's task has its own; ``bot.language``
sets it). :func:`N_` marks a module-level constant for extraction without translating it;
translate it where it is used with ``_(CONSTANT)``.

The msgids are English (:data:`SOURCE_LANGUAGE`, needing no catalog). Each other language is
one file, ``bot/locales/<language>/LC_MESSAGES/bot.po``, read as it is at the first use (no
compiled ``.mo`` file): babel parses it (``read_po``) and turns it into a
:class:`babel.support.Translations` in memory, whose plural rule is the catalog's
``Plural-Forms`` header (Russian: three forms). An untranslated or fuzzy entry, and a language
without a catalog, give the English msgid. ``python -m bot.catalogs update`` extracts new
messages into the catalogs (see :mod:`bot.catalogs`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

__all__ = [
    "DOMAIN",
    "LOCALES",
    "N_",
    "SOURCE_LANGUAGE",
    "_",
    "available_languages",
    "catalog_path",
    "current_language",
    "language_name",
    "ngettext",
    "number",
    "supported",
    "translations",
    "using_language",
]

#: The language of the msgids (the code's own strings); it needs no catalog.
SOURCE_LANGUAGE = "en"
#: The gettext domain: the catalogs' file name without ``.po``.
DOMAIN = "bot"
#: Where the catalogs are: ``<language>/LC_MESSAGES/bot.po`` and the template ``bot.pot``.
LOCALES = Path(__file__).with_name("locales")

current_language: ContextVar[str] = ContextVar("current_language", default=SOURCE_LANGUAGE)


def catalog_path(language: str) -> Path:
    """The catalog file of ``language`` (which may not exist)."""
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def available_languages() -> tuple[str, ...]:
    """The languages the bot speaks: English and every language with a catalog, sorted."""
    found = {path.parent.parent.name for path in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return tuple(sorted(found | {SOURCE_LANGUAGE}))


def supported(language: str | None) -> str | None:
    """The available language ``language`` names (a Telegram ``language_code`` such as
    ``"pt-br"`` or ``"ru"``, case-insensitive: its primary subtag counts), or None."""
    if not language:
        return None
    primary = language.replace("_", "-").split("-", 1)[0].strip().lower()
    return primary if primary in available_languages() else None


@functools.cache
def translations(language: str) -> NullTranslations:
    """The translations of ``language``, read from its catalog at the first call (English, or a
    language without a catalog: the msgids unchanged). Raises babel's errors for a malformed
    catalog."""
    path = catalog_path(language)
    if language == SOURCE_LANGUAGE or not path.is_file():
        return NullTranslations()
    with path.open("rb") as file:
        catalog = read_po(file, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # in memory: untranslated and fuzzy entries are left out
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def _(message: str, /, **params: Any) -> str:
    """``message`` in the current language, its ``{name}`` fields filled from ``params``."""
    translated = translations(current_language.get()).gettext(message)
    return translated.format(**params) if params else translated


def ngettext(singular: str, plural: str, n: int, /, **params: Any) -> str:
    """The form of ``singular``/``plural`` for ``n`` in the current language (by its catalog's
    plural rule; English: ``singular`` for 1); ``{n}`` is ``n``."""
    chosen = translations(current_language.get()).ngettext(singular, plural, n)
    return chosen.format(n=n, **params)


def number(value: int | float, decimals: int | None = None) -> str:
    """``value`` written the current language's way (CLDR via babel): ``12,345`` in English,
    ``12 345`` (no-break space) in Russian; with exactly ``decimals`` digits after the point
    when given (``0.0003`` / ``0,0003``)."""
    pattern = None if decimals is None else "#,##0." + "0" * decimals
    return format_decimal(value, format=pattern, locale=current_language.get())


def N_(message: str, /) -> str:
    """Mark ``message`` for extraction; it is translated later, where it is shown."""
    return message


@contextmanager
def using_language(language: str) -> Iterator[None]:
    """Set :data:`current_language` for the ``with`` block (a notice not tied to an update)."""
    token = current_language.set(language)
    try:
        yield
    finally:
        current_language.reset(token)


def language_name(language: str) -> str:
    """The language's own name for itself (CLDR via babel): ``"English"``, ``"Русский"``."""
    try:
        name = Locale.parse(language).get_display_name(language) or language
    except (UnknownLocaleError, ValueError):
        return language
    return name[:1].upper() + name[1:]
