"""The bot's own words in the chat's language (a stub until issue 12 lands the catalogs).

Every text the bot writes itself goes through :func:`_` (or :func:`ngettext` when it holds a
number); model output never does. Placeholders are ``str.format`` fields: ``_("Model {model}
is unknown.", model=name)``. :data:`current_language` holds the language of the update being
handled (a :class:`~contextvars.ContextVar`, so each update's task has its own). :func:`N_`
marks a module-level constant for extraction without translating it; translate it where it is
used with ``_(CONSTANT)``.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

__all__ = ["N_", "_", "current_language", "ngettext"]

current_language: ContextVar[str] = ContextVar("current_language", default="en")


def _(message: str, /, **params: Any) -> str:
    """``message`` in the current language, its ``{name}`` fields filled from ``params``."""
    return message.format(**params) if params else message


def ngettext(singular: str, plural: str, n: int, /, **params: Any) -> str:
    """The form of ``singular``/``plural`` for ``n`` in the current language; ``{n}`` is ``n``."""
    chosen = singular if n == 1 else plural
    return chosen.format(n=n, **params)


def N_(message: str, /) -> str:
    """Mark ``message`` for extraction; it is translated later, where it is shown."""
    return message
