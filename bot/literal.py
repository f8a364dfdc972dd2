"""Markdown as models write it, made to show every character the model meant as text.

Two things a Markdown renderer does with a model's answer lose text the user should see:

* **Raw HTML.** CommonMark passes inline HTML (``<b and c>`` in ``a<b and c>d``, ``<String>``
  in ``List<String>``, ``<br>``) and HTML blocks (``<div>…</div>``, ``<!-- … -->``) through
  to a browser; Telegram has no browser, and the converter drops them. Here every ASCII
  punctuation character inside them is backslash-escaped, so they are shown as typed.
* **``*`` between two letters or digits, and dunder names.** CommonMark reads ``2*3*4`` as
  ``2`` *3* ``4`` and ``__init__`` as **init**. Models write Markdown, but they write bold as
  ``**bold**`` between spaces; a ``*`` between ASCII letters or digits is multiplication or a
  glob (``2*3*4``, ``a*b``, ``2**10``) and ``__name__`` is a Python name, so both are shown as
  typed, the way CommonMark already treats ``_`` inside a word (``snake_case``). Only ASCII
  letters and digits count, so ``**粗体**`` inside Chinese text stays bold.

Code spans, code blocks, math and autolinks are left alone (the parser says where they are:
``pyromark``, the CommonMark parser ``telegramify-markdown`` itself uses, with its options).
"""

from __future__ import annotations

import re

import pyromark
from telegramify_markdown.converter import STANDARD_OPTIONS

__all__ = ["literal"]

_PUNCTUATION = re.compile(r"""([!-/:-@\[-`{-~])""")  # ASCII punctuation: CommonMark escapes
_INTRAWORD_STARS = re.compile(r"(?<=[A-Za-z0-9])\*+(?=[A-Za-z0-9])")
_DUNDER = re.compile(r"(?<![\w\\])__[A-Za-z0-9]\w*?__(?!\w)", re.ASCII)
_HAS_WORK = re.compile(r"<|(?<=[A-Za-z0-9])\*+(?=[A-Za-z0-9])|__\w", re.ASCII)
_UNTOUCHED = ("Code", "InlineMath", "DisplayMath")  # events whose source is shown verbatim
_HTML = ("Html", "InlineHtml")


def _escape_all(text: str) -> str:
    return _PUNCTUATION.sub(r"\\\1", text)


def _escape_words(text: str) -> str:
    text = _INTRAWORD_STARS.sub(lambda m: "\\*" * len(m.group()), text)
    return _DUNDER.sub(lambda m: m.group().replace("_", "\\_"), text)


def _regions(markdown: str) -> list[tuple[int, int, bool]]:
    """Byte ranges (UTF-8) to leave alone (False) or to show literally (True: raw HTML), in
    order."""
    found: list[tuple[int, int, bool]] = []
    for payload, span in pyromark.events_with_range(markdown, options=STANDARD_OPTIONS):
        if not isinstance(payload, dict):
            continue
        start = payload.get("Start")
        kind = next(iter(payload))
        link = start.get("Link", {}) if isinstance(start, dict) else {}
        untouched = kind in _UNTOUCHED or (
            isinstance(start, dict)
            and ("CodeBlock" in start or link.get("link_type") in ("Autolink", "Email"))
        )
        if untouched or kind in _HTML:
            begin, end = span["start"], span["end"]
            if found and begin < found[-1][1]:
                continue  # inside a region already found (the code of a code block)
            found.append((begin, end, kind in _HTML))
    return found


def literal(markdown: str) -> str:
    """``markdown`` with raw HTML, ``*`` between ASCII letters/digits and ``__dunder__`` names
    backslash-escaped outside code, math and autolinks, so a renderer shows them as typed.

    Returns ``markdown`` itself when there is nothing to escape (no parse is needed then).
    """
    if not _HAS_WORK.search(markdown):
        return markdown
    data = markdown.encode("utf-8")
    parts: list[str] = []
    cursor = 0
    for begin, end, html in _regions(markdown):
        parts.append(_escape_words(data[cursor:begin].decode("utf-8")))
        region = data[begin:end].decode("utf-8")
        parts.append(_escape_all(region) if html else region)
        cursor = end
    parts.append(_escape_words(data[cursor:].decode("utf-8")))
    return "".join(parts)
