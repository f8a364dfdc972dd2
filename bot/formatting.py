"""Markdown from the model as Telegram formatting, and splitting at Telegram's length limit.

The conversion is done by the maintained ``telegramify-markdown`` library
(``telegramify_markdown.convert``), which turns Markdown into plain text plus a list of
MessageEntity values. We send those as ``text`` + ``entities`` with no ``parse_mode``, so there
is nothing to escape and Telegram never has to parse markup. Before conversion,
:func:`bot.literal.literal` escapes what the model wrote as text but Markdown would swallow (raw
HTML, ``2*3*4``, ``__init__``). Rendering never raises and never shows nothing for a text that
is not blank: on a converter failure, or when the Markdown renders to nothing (only a link
reference definition, say), the raw text goes out as plain text.

Lengths: Telegram allows 1-4096 characters of message text after entity parsing and 0-1024 of
caption (Bot API, sendMessage / sendPhoto), counted in code points, while entity offsets are in
UTF-16 code units. We keep the UTF-16 length within the limit, which bounds both. Telegram also
trims leading and trailing whitespace (TDLib ``fix_formatted_text``), so :func:`render` does the
same, keeping what we compare ("is this edit a change?") equal to what Telegram stores.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import telegramify_markdown
from telegram import MessageEntity

from bot.literal import literal

__all__ = [
    "MESSAGE_LIMIT", "Cut", "cut_markdown", "cut_text", "moved", "render", "render_text",
    "shorten", "split_markdown", "split_text", "tail", "utf16_len",
]

_LOGGER = logging.getLogger(__name__)
MESSAGE_LIMIT = 4096  # characters of message text (Bot API sendMessage)
_MIN_LIMIT = 64
_CLOSE_ENOUGH = 32  # characters: a cut whose part renders this close to the limit is taken
_FENCE = re.compile(r"(`{3,}|~{3,})([^\n]*)")
_SENTENCE_END = re.compile(r"[.!?…。！？](?=\s)")


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (Telegram's unit for entity offsets)."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le", "surrogatepass")) // 2


def _trim(text: str, entities: list[MessageEntity]) -> tuple[str, list[MessageEntity]]:
    """Strip surrounding whitespace as Telegram does; shift and clip entities to match."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity.offset - shift, 0)
        end = min(entity.offset + entity.length - shift, size)
        if end > start:
            same = (start, end - start) == (entity.offset, entity.length)
            kept.append(entity if same else moved(entity, start, end - start))
    return stripped, kept


def moved(entity: MessageEntity, offset: int, length: int) -> MessageEntity:
    """A copy of ``entity`` at ``offset`` with ``length`` (UTF-16 code units)."""
    return MessageEntity(entity.type, offset, length, url=entity.url, language=entity.language,
                         custom_emoji_id=entity.custom_emoji_id)


def _convert(markdown: str) -> tuple[str, list[telegramify_markdown.MessageEntity]] | None:
    """The converter's text and entities (those without ``user``/``unix_time``); None if it
    failed."""
    try:
        text, converted = telegramify_markdown.convert(literal(markdown))
        kept = [e for e in converted if e.user is None and e.unix_time is None]
        size = utf16_len(text)
        if any(e.offset < 0 or e.length <= 0 or e.offset + e.length > size for e in kept):
            raise ValueError("entity out of bounds")
    except Exception:  # any converter failure means "show it as plain text"
        _LOGGER.warning("Markdown conversion failed; sending plain text", exc_info=True)
        return None
    return text, kept


def render(markdown: str) -> tuple[str, list[MessageEntity]]:
    """Markdown -> (plain text, entities) for ``send_message(text=..., entities=...)``.

    Offsets and lengths of the entities are in UTF-16 code units (Bot API MessageEntity). The
    text is stripped of surrounding whitespace; it is ``""`` only for a blank ``markdown`` (send
    nothing then). Raw HTML, ``*`` between letters or digits and ``__dunder__`` names are shown
    as typed (:func:`bot.literal.literal`). Entities that would need a ``user`` or ``unix_time``
    object are dropped. Never raises: if the converter fails, yields entities out of bounds, or
    renders a text that is not blank to nothing, returns the raw text, stripped, with no
    entities.
    """
    converted = _convert(markdown)
    if converted is None:
        return markdown.strip(), []
    text, kept = converted
    entities = [
        MessageEntity(e.type, e.offset, e.length, url=e.url, language=e.language,
                      custom_emoji_id=e.custom_emoji_id)
        for e in kept
    ]
    shown, entities = _trim(text, entities)
    if not shown:  # nothing visible from a text that is not blank: show what the model wrote
        return markdown.strip(), []
    return shown, entities


def render_text(markdown: str) -> str:
    """``render(markdown)[0]`` without building the entities (for measuring a text's length)."""
    converted = _convert(markdown)
    return (converted[0].strip() if converted is not None else "") or markdown.strip()


def _fits(text: str, limit: int) -> bool:
    return utf16_len(text.strip()) <= limit


@dataclass(frozen=True, slots=True)
class _Fence:
    start: int  # offset of the opening line
    body: int  # offset just after the opening line
    close: int  # offset of the closing line (len(markdown) if unclosed)
    end: int  # offset just after the closing line
    opener: str  # the opening line without its newline, e.g. "```python"
    closer: str  # e.g. "```"


def _fences(markdown: str) -> list[_Fence]:
    """Fenced code blocks (CommonMark ``` and ~~~ fences, any indentation)."""
    found: list[_Fence] = []
    pos = 0
    start = body = 0
    opener = closer = ""
    for line in markdown.splitlines(keepends=True):
        content = line.rstrip("\r\n")
        stripped = content.lstrip(" ")
        if not opener:
            match = _FENCE.fullmatch(stripped)
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                start, body, opener = pos, pos + len(line), content
                closer = content[: len(content) - len(stripped)] + match.group(1)
        else:
            marker = closer.lstrip(" ")
            rest = stripped.rstrip()
            if rest and set(rest) == {marker[0]} and len(rest) >= len(marker):
                found.append(_Fence(start, body, pos, pos + len(line), opener, closer))
                opener = ""
        pos += len(line)
    if opener:
        found.append(_Fence(start, body, len(markdown), len(markdown), opener, closer))
    return found


@dataclass(frozen=True, slots=True)
class Cut:
    """The first part of a too-long Markdown text.

    ``head`` is the Markdown of the part (a code block cut in two is closed at its end);
    ``reopen`` is the Markdown the rest must start with (the code fence reopened with the same
    language, else ``""``); ``consumed`` is how many characters of the input ``head`` covers.
    The rest is ``reopen + markdown[consumed:]``.
    """

    head: str
    reopen: str
    consumed: int


def _piece(markdown: str, cut: int, fences: list[_Fence]) -> Cut:
    """The Cut for cutting ``markdown`` at offset ``cut``, keeping code fences balanced."""
    for fence in fences:
        if fence.start < cut <= fence.body:  # in or just after the opening line: cut before it
            return Cut(markdown[: fence.start], "", fence.start)
        if fence.close < cut < fence.end or (cut == fence.close and fence.close < fence.end):
            # at or inside the closing line: the block ends in this part
            return Cut(markdown[: fence.close].rstrip("\n") + "\n" + fence.closer, "", fence.end)
        if fence.body <= cut < fence.close:
            head = markdown[:cut]
            head += ("" if head.endswith("\n") else "\n") + fence.closer
            return Cut(head, fence.opener + "\n", cut)
    return Cut(markdown[:cut], "", cut)


def _candidates(text: str, limit_at: int, fences: list[_Fence]) -> list[int]:
    """Cut offsets <= ``limit_at``, best first: blank line outside code, line break, sentence
    end, space, then a hard cut at ``limit_at``. Soft boundaries must keep half the room."""
    floor = limit_at // 2
    found: list[int] = []
    end = limit_at
    while (i := text.rfind("\n\n", 0, end)) >= floor:
        if not any(f.body <= i < f.close for f in fences):
            found.append(i + 2)
            break
        end = i + 1
    if (i := text.rfind("\n", 0, limit_at)) >= floor:
        found.append(i + 1)
    ends = [match.end() for match in _SENTENCE_END.finditer(text, floor, limit_at)]
    if ends:
        found.append(ends[-1])
    if (i := text.rfind(" ", 0, limit_at)) >= floor:
        found.append(i + 1)
    found.append(limit_at)
    return [c for c in found if 0 < c <= limit_at]


def cut_markdown(markdown: str, limit: int = MESSAGE_LIMIT, *, whole: bool = True) -> Cut | None:
    """Cut the first part off ``markdown`` whose rendered text fits in ``limit``.

    Returns None when the whole text renders within ``limit`` characters (UTF-16 code units,
    so code points too). ``whole=False`` says ``markdown`` is only the beginning of a longer
    text: a Cut is then always returned, at the best boundary within it if all of it fits. The
    work is bounded by ``len(markdown)``: a few renders of at most that many characters (about
    log2 of it at worst). Raises ValueError if ``limit`` < 64.
    """
    if limit < _MIN_LIMIT:
        raise ValueError(f"limit must be at least {_MIN_LIMIT} characters")
    fences = _fences(markdown)
    size = utf16_len(render_text(markdown))
    if size <= limit:
        if whole:
            return None
        good = len(markdown) - 1  # before the end, so that an open code block is reopened
    else:
        good = _longest_fit(markdown, limit, fences, size)
    for cut in _candidates(markdown, max(good, 1), fences):
        piece = _piece(markdown, cut, fences)
        if piece.consumed > 0 and _fits(render_text(piece.head), limit):
            return piece
    return _piece(markdown, max(good, 1), [])  # unreachable in practice: `good` fits


def _longest_fit(markdown: str, limit: int, fences: list[_Fence], size: int) -> int:
    """About the longest cut offset whose head renders within ``limit``, given that all of
    ``markdown`` renders to ``size`` > ``limit`` characters.

    Stops once a head renders within ``_CLOSE_ENOUGH`` characters of ``limit``. A rendered
    text grows about linearly with its Markdown, so each step guesses the cut where
    the line between the two nearest known points reaches ``limit`` (a few renders); when two
    steps did not halve the interval, the next one halves it (2 log2 renders at worst).
    """
    good, good_size, bad, bad_size = 0, 0, len(markdown), size
    widths = [bad - good]  # the interval before each step
    while bad - good > 1 and good_size < limit - _CLOSE_ENOUGH:
        if len(widths) >= 2 and bad - good > widths[-2] // 2:  # two steps did not halve it
            cut = (good + bad) // 2
        else:
            cut = good + (bad - good) * (limit - good_size) // max(bad_size - good_size, 1)
            cut = min(max(cut, good + 1), bad - 1)
        shown = utf16_len(render_text(_piece(markdown, cut, fences).head))
        if shown <= limit:
            good, good_size = cut, shown
        else:
            bad, bad_size = cut, shown
        widths.append(bad - good)
    return good


def split_markdown(markdown: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split Markdown into parts whose rendered text is at most ``limit`` characters each.

    Cuts at the best boundary (blank line outside code > line break > sentence end > space >
    hard cut) and never leaves a code fence open: a cut code block is closed at the end of one
    part and reopened, same language, at the start of the next. Whitespace-only parts are
    dropped, so ``[]`` means there is nothing to send. Raises ValueError if ``limit`` < 64.
    """
    parts: list[str] = []
    rest = markdown
    while (cut := cut_markdown(rest, limit)) is not None:
        parts.append(cut.head)
        rest = cut.reopen + rest[cut.consumed :]
    parts.append(rest)
    return [part for part in parts if render_text(part)]


def _room(text: str, limit: int) -> int:
    """The longest prefix length of ``text`` within ``limit`` UTF-16 code units."""
    room = limit
    while (excess := utf16_len(text[:room]) - limit) > 0:
        room -= (excess + 1) // 2  # a character is 1 or 2 code units: never cuts too much
    return room


def cut_text(text: str, limit: int = MESSAGE_LIMIT, *, whole: bool = True) -> Cut | None:
    """Like :func:`cut_markdown` for plain text: None if ``text`` (stripped) is at most ``limit``
    UTF-16 code units and ``whole``, else the first part cut at the best boundary (``reopen`` is
    ``""``). Raises ValueError if ``limit`` < 64."""
    if limit < _MIN_LIMIT:
        raise ValueError(f"limit must be at least {_MIN_LIMIT} characters")
    if whole and _fits(text, limit):
        return None
    lead = len(text) - len(text.lstrip())
    room = len(text) if _fits(text, limit) else lead + _room(text[lead:], limit)
    cut = next((c for c in _candidates(text, room, []) if c > lead), room)
    return Cut(text[:cut], "", cut)


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split plain text (no Markdown) into stripped parts of at most ``limit`` UTF-16 code units,
    at the same boundaries as :func:`split_markdown`. Raises ValueError if ``limit`` < 64."""
    parts: list[str] = []
    rest = text
    while (cut := cut_text(rest, limit)) is not None:
        parts.append(cut.head.strip())
        rest = rest[cut.consumed :]
    parts.append(rest.strip())
    return [part for part in parts if part]


def shorten(text: str, limit: int = 1024, ellipsis: str = "…") -> str:
    """``text`` stripped, cut to at most ``limit`` characters (UTF-16 code units) on a word
    boundary, ending with ``ellipsis`` when cut. For captions (Bot API: 0-1024 characters)."""
    text = text.strip()
    if utf16_len(text) <= limit:
        return text
    room = _room(text, limit - utf16_len(ellipsis))
    head = text[:room]
    space = head.rfind(" ")
    if space >= room // 2:
        head = head[:space]
    return head.rstrip() + ellipsis


def tail(text: str, limit: int, ellipsis: str = "…") -> str:
    """The end of ``text``, stripped, in at most ``limit`` characters (UTF-16 code units): all
    of it when it fits, else ``ellipsis`` and the last words that fit (cut on a word boundary
    when one is in the last half); ``""`` when ``limit`` leaves no room past the ellipsis."""
    text = text.strip()
    if utf16_len(text) <= limit:
        return text
    room = limit - utf16_len(ellipsis)
    if room <= 0:
        return ""
    end = text[len(text) - room:]  # at most `room` code points: maybe more code units
    while utf16_len(end) > room:
        end = end[(utf16_len(end) - room + 1) // 2:]
    space = end.find(" ")
    if 0 <= space < len(end) // 2:
        end = end[space + 1:]
    return ellipsis + end.lstrip()
