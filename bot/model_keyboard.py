"""The ``/model`` keyboard: the registry's models, grouped by provider, a page at a time,
optionally filtered by words; and what its buttons' data mean.

A button's ``callback_data`` (Bot API: 1-64 bytes, else the whole keyboard is rejected with
``BUTTON_DATA_INVALID``) names a model by a short hash (``model#`` and 16 hex digits, 22
bytes), looked up in the registry when tapped, so any model id fits; data of keyboards sent
before (``model:<Provider/model>``) still works. A page button's data is
``mpage:<page>:<filter>``, the filter cut to :data:`FILTER_BYTES` bytes of UTF-8 before it is
used, so every page of one keyboard applies the same filter and the data stays within 64 bytes.
The middle button of the row of pages shows where the user is (``2/5``); its data
(``mhere:<page>:<filter>``) is what a tap on a model reads back to redraw the same page.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import _
from providers import ModelRegistry

__all__ = [
    "HERE_PREFIX", "NOOP", "PAGE_PREFIX", "PAGE_SIZE", "Page", "button_data", "cut_filter",
    "matching", "model_keyboard", "model_of_button", "page_of_data", "page_of_markup",
]

HASH_PREFIX = "model#"
LEGACY_PREFIX = "model:"
PAGE_PREFIX = "mpage:"
HERE_PREFIX = "mhere:"  # the same length as PAGE_PREFIX
NOOP = "noop"
#: Models on one page of the keyboard.
PAGE_SIZE = 8
#: Bytes of UTF-8 of a filter kept in a page button's data (64 minus "mpage:9999:").
FILTER_BYTES = 48
#: Characters of a model id from which its button takes a whole row (a phone shows about this
#: many in half a row).
LONG_ID = 24


def button_data(pinned: str) -> str:
    """The ``callback_data`` of a model's button: ``model#`` and 16 hex digits (22 bytes)."""
    digest = hashlib.sha256(pinned.lower().encode()).hexdigest()[:16]
    return HASH_PREFIX + digest


def model_of_button(registry: ModelRegistry, data: str) -> str | None:
    """The ``Provider/model`` a button's data names, or None when none is offered (any more)."""
    if data.startswith(LEGACY_PREFIX):
        return data[len(LEGACY_PREFIX) :]
    if not data.startswith(HASH_PREFIX):
        return None
    for provider, models in registry.models().items():
        for model in models:
            if button_data(f"{provider}/{model}") == data:
                return f"{provider}/{model}"
    return None


def cut_filter(words: str) -> str:
    """The filter as it is used: whitespace collapsed, at most :data:`FILTER_BYTES` bytes."""
    text = " ".join(words.split())
    return text.encode()[:FILTER_BYTES].decode(errors="ignore").strip()


def matching(registry: ModelRegistry, words: str) -> list[tuple[str, str]]:
    """``(provider, model)`` of every model whose ``provider/model`` holds every word of
    ``words`` (case-insensitive), in registry order; every model for no words."""
    wanted = words.lower().split()
    return [(provider, model) for provider, models in registry.models().items()
            for model in models if all(word in f"{provider}/{model}".lower() for word in wanted)]


@dataclass(frozen=True)
class Page:
    """A page of the keyboard: its number (from 0) and the filter (already cut)."""

    number: int = 0
    words: str = ""

    @property
    def data(self) -> str:
        return f"{PAGE_PREFIX}{self.number}:{self.words}"


    @property
    def here_data(self) -> str:
        """The data of the button that shows this page's number."""
        return f"{HERE_PREFIX}{self.number}:{self.words}"


def page_of_data(data: str) -> Page | None:
    """The page a page button's data names (``mpage:`` or ``mhere:``), or None."""
    if not data.startswith((PAGE_PREFIX, HERE_PREFIX)):
        return None
    number, _sep, words = data[len(PAGE_PREFIX) :].partition(":")
    return Page(int(number) if number.isdigit() else 0, cut_filter(words))


def page_of_markup(rows: Sequence[Sequence[InlineKeyboardButton]] | None) -> Page:
    """The page a keyboard shows (read from its ``mhere:`` button), or the first unfiltered
    page for a keyboard without one (a single page)."""
    for row in rows or ():
        for button in row:
            data = str(button.callback_data or "")
            if data.startswith(HERE_PREFIX):
                return page_of_data(data) or Page()
    return Page()


def model_keyboard(registry: ModelRegistry, current: str, page: Page = Page()
                   ) -> tuple[InlineKeyboardMarkup, int]:
    """The keyboard of ``page`` (clamped to the last page) and how many models match: a
    ``— provider —`` row where the provider changes, the models (two a row, a long id
    alone; ✓ marks the current one) and, when there are several pages or a filter, a row
    ``◀`` ``2/5`` ``▶``."""
    found = matching(registry, page.words)
    pages = max(1, -(-len(found) // PAGE_SIZE))
    number = min(max(page.number, 0), pages - 1)
    rows: list[list[InlineKeyboardButton]] = []
    shown_provider = None
    for provider, model in found[number * PAGE_SIZE : (number + 1) * PAGE_SIZE]:
        if provider != shown_provider:
            rows.append([InlineKeyboardButton(f"— {provider} —", callback_data=NOOP)])
            shown_provider = provider
        pinned = f"{provider}/{model}"
        label = f"✓ {model}" if current.lower() in (model.lower(), pinned.lower()) else model
        button = InlineKeyboardButton(label, callback_data=button_data(pinned))
        last = rows[-1]
        pairable = len(last) == 1 and last[0].callback_data != NOOP and len(model) < LONG_ID
        if pairable and len(str(last[0].text)) < LONG_ID + 2:
            last.append(button)
        else:
            rows.append([button])
    if pages > 1 or page.words:
        here = Page(number, page.words)
        nav = [InlineKeyboardButton(_("{page}/{pages}", page=number + 1, pages=pages),
                                    callback_data=here.here_data)]
        if number > 0:
            nav.insert(0, InlineKeyboardButton(
                _("◀ Back"), callback_data=Page(number - 1, page.words).data))
        if number < pages - 1:
            nav.append(InlineKeyboardButton(
                _("Next ▶"), callback_data=Page(number + 1, page.words).data))
        rows.append(nav)
    return InlineKeyboardMarkup(rows), len(found)
