"""Telegram's text parsing as the fake Bot API server (:mod:`tests.fakes.telegram`) applies it.

Parse modes (MarkdownV2, HTML, legacy Markdown) into plain text + entities, validation of explicit
``entities`` (:func:`check_entities`), lengths in UTF-16 code units (:func:`utf16_len`) and the
trimming of leading/trailing whitespace, all following TDLib's ``MessageEntity.cpp`` behaviour;
:func:`parse_text` is the entry point. Bad markup or entities raise :class:`EntityError`; an
unknown ``parse_mode`` is already the server's answer, an :class:`ApiError` (defined here for
that reason and re-exported by :mod:`tests.fakes.telegram`).
"""

from __future__ import annotations

import re
from typing import Any

ERR_PARSE_MODE = "Bad Request: unsupported parse_mode"


class ApiError(Exception):
    """An error answer: HTTP ``status`` (= ``error_code``), ``description``, ``retry_after`` (s)."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


def _bad(description: str) -> ApiError:
    return ApiError(400, description)


# --------------------------------------------------------------------------------------------------
# Text: UTF-16 lengths, parse modes (TDLib MessageEntity.cpp semantics), entity validation.
# --------------------------------------------------------------------------------------------------

_SPACE = " \t\r\n\v\0"
_TRIM = " \t\r\n"
_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MDV2_TYPES = {
    "Bold": "bold",
    "Italic": "italic",
    "Underline": "underline",
    "Strikethrough": "strikethrough",
    "Spoiler": "spoiler",
    "Code": "code",
    "Pre": "pre",
    "PreCode": "pre",
    "TextUrl": "text_link",
    "CustomEmoji": "custom_emoji",
    "BlockQuote": "blockquote",
}
_HTML_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
# fmt: off
ENTITY_TYPES = frozenset({
    "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "bold",
    "italic", "underline", "strikethrough", "spoiler", "blockquote", "expandable_blockquote",
    "code", "pre", "text_link", "text_mention", "custom_emoji"
})
# fmt: on
_URL_RE = re.compile(
    r"^(?:(?:https?|ftp|tg|ton)://\S+|[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?:[/?#]\S*)?)$"
)


class EntityError(ValueError):
    """Text or entities Telegram refuses; ``str(e)`` is the reason after "can't parse entities"."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (the unit of entity offsets and lengths)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _u16(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _check_url(url: str) -> str | None:
    url = url.strip()
    if not _URL_RE.match(url):
        return None
    return url if "://" in url else "http://" + url


def _entity(kind: str, offset: int, length: int, argument: str | None = None) -> dict:
    entity: dict[str, Any] = {"type": kind, "offset": offset, "length": length}
    if kind == "text_link":
        entity["url"] = argument
    elif kind == "pre" and argument:
        entity["language"] = argument
    elif kind == "custom_emoji":
        entity["custom_emoji_id"] = argument
    return entity


def _parse_markdown_v2(text: str) -> tuple[str, list[dict]]:
    """MarkdownV2 as TDLib's ``parse_markdown_v2``: reserved characters need a preceding ``\\``."""
    out: list[str] = []
    u16 = 0
    entities: list[dict] = []
    stack: list[dict] = []  # open entities: type, u16 start, byte offset, out position, argument
    quote: dict | None = None  # open block quote: u16 start, stack depth when opened
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else ""

    def reserved_error(k: int) -> EntityError:
        return EntityError(
            f"Character '{text[k]}' is reserved and must be escaped with the preceding '\\'"
        )

    def close_quote() -> None:
        nonlocal quote
        if len(stack) > quote["depth"]:
            top = stack[-1]
            raise EntityError(
                f"Can't find end of {top['type']} entity at byte offset {top['byte']}"
            )
        if u16 > quote["u16"]:
            entities.append(_entity("blockquote", quote["u16"], u16 - quote["u16"]))
        quote = None

    i = 0
    while i < n:
        c = text[i]
        top = stack[-1]["type"] if stack else None
        in_code = top in ("Code", "Pre", "PreCode")
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        if not in_code and c == ">" and (i == 0 or text[i - 1] == "\n"):
            if quote is None:
                quote = {"u16": u16, "depth": len(stack)}
            i += 1
            continue
        if c == "\n" and quote is not None and not in_code and at(i + 1) != ">":
            close_quote()
        reserved = "`" if in_code else _MDV2_RESERVED
        if c not in reserved:
            out.append(c)
            u16 += _u16(c)
            i += 1
            continue
        is_end = {
            "Bold": c == "*",
            "Italic": c == "_" and at(i + 1) != "_",
            "Code": c == "`",
            "Pre": c == "`" and at(i + 1) == "`" and at(i + 2) == "`",
            "PreCode": c == "`" and at(i + 1) == "`" and at(i + 2) == "`",
            "TextUrl": c == "]",
            "CustomEmoji": c == "]",
            "Underline": c == "_" and at(i + 1) == "_",
            "Strikethrough": c == "~",
            "Spoiler": c == "|" and at(i + 1) == "|",
        }.get(top or "", False)
        if not is_end:
            start, argument = i, None
            if c == "_":
                kind = "Underline" if at(i + 1) == "_" else "Italic"
                i += kind == "Underline"
            elif c == "*":
                kind = "Bold"
            elif c == "~":
                kind = "Strikethrough"
            elif c == "|" and at(i + 1) == "|":
                kind, i = "Spoiler", i + 1
            elif c == "[":
                kind = "TextUrl"
            elif c == "!" and at(i + 1) == "[":
                kind, i = "CustomEmoji", i + 1
            elif c == "`" and at(i + 1) == "`" and at(i + 2) == "`":
                kind, i = "Pre", i + 3
                end = i
                while end < n and text[end] not in _SPACE and text[end] != "`":
                    end += 1
                if end != i and end < n and text[end] != "`":
                    kind, argument, i = "PreCode", text[i:end], end
                if at(i) in ("\n", "\r"):
                    i += 2 if at(i + 1) in ("\n", "\r") and text[i] != text[i + 1] else 1
                i -= 1
            elif c == "`":
                kind = "Code"
            else:
                raise reserved_error(i)
            stack.append(
                {
                    "type": kind,
                    "u16": u16,
                    "byte": _byte_offset(text, start),
                    "pos": len(out),
                    "arg": argument,
                }
            )
            i += 1
            continue
        opened = stack.pop()
        kind, argument = opened["type"], opened["arg"]
        skip = u16 == opened["u16"]
        if kind in ("Underline", "Spoiler"):
            i += 1
        elif kind in ("Pre", "PreCode"):
            i += 2
        elif kind in ("TextUrl", "CustomEmoji"):
            if at(i + 1) != "(":
                url = "".join(out[opened["pos"] :])
            else:
                i += 2
                url_begin, chars = i, []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
                        chars.append(text[i + 1])
                        i += 2
                        continue
                    chars.append(text[i])
                    i += 1
                if i >= n:
                    raise EntityError(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, url_begin)}"
                    )
                url = "".join(chars)
            if kind == "CustomEmoji":
                match = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
                if not match:
                    raise EntityError("Custom emoji entity must contain a tg://emoji URL")
                argument = match.group(1)
            else:
                argument = _check_url(url)
                skip = skip or argument is None
        i += 1
        if not skip:
            entities.append(
                _entity(_MDV2_TYPES[kind], opened["u16"], u16 - opened["u16"], argument)
            )
    if stack:
        top = stack[-1]
        raise EntityError(f"Can't find end of {top['type']} entity at byte offset {top['byte']}")
    if quote is not None:
        close_quote()
    return "".join(out), entities


def _parse_markdown(text: str) -> tuple[str, list[dict]]:
    """Legacy Markdown as TDLib's ``parse_markdown``: ``*b* _i_ `c` ```pre``` [t](url)``, flat."""
    out: list[str] = []
    u16 = 0
    entities: list[dict] = []
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else ""

    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and at(i + 1) in ("_", "*", "`", "["):
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            u16 += _u16(c)
            i += 1
            continue
        begin = i
        end_char = "]" if c == "[" else c
        is_pre = False
        language = ""
        i += 1
        if c == "`" and at(i) == "`" and at(i + 1) == "`":
            i += 2
            is_pre = True
            end = i
            while end < n and text[end] not in _SPACE and text[end] != "`":
                end += 1
            if end != i and end < n and text[end] != "`":
                language, i = text[i:end], end
            if at(i) in ("\n", "\r"):
                i += 2 if at(i + 1) in ("\n", "\r") and text[i] != text[i + 1] else 1
        start16 = u16
        while i < n and (
            text[i] != end_char or (is_pre and not (at(i + 1) == "`" and at(i + 2) == "`"))
        ):
            out.append(text[i])
            u16 += _u16(text[i])
            i += 1
        if i == n:
            raise EntityError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        if u16 != start16:
            length = u16 - start16
            if c == "_":
                entities.append(_entity("italic", start16, length))
            elif c == "*":
                entities.append(_entity("bold", start16, length))
            elif c == "`":
                entities.append(
                    _entity("pre" if is_pre else "code", start16, length, language or None)
                )
            else:
                if at(i + 1) == "(":
                    i += 2
                    url_begin = i
                    while i < n and text[i] != ")":
                        i += 1
                    url = text[url_begin:i]
                else:
                    url = text[begin + 1 : i]
                checked = _check_url(url)
                if checked is not None:
                    entities.append(_entity("text_link", start16, length, checked))
        i += 3 if is_pre else 1
    return "".join(out), entities


_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _html_entity(text: str, i: int) -> tuple[str | None, int]:
    """Decode ``&lt; &gt; &amp; &quot; &#N; &#xH;`` at ``text[i]``; others stay literal (TDLib)."""
    match = re.compile(r"&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]+);").match(text, i)
    if not match:
        return None, i
    name = match.group(1)
    if name.startswith("#"):
        hexadecimal = name[1:2] in ("x", "X")
        code = int(name[2:], 16) if hexadecimal else int(name[1:])  # noqa: FURB166
        if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None, i
        return chr(code), match.end()
    if name in _HTML_NAMED:
        return _HTML_NAMED[name], match.end()
    return None, i


def _parse_html(text: str) -> tuple[str, list[dict]]:
    """HTML as TDLib's ``parse_html``: supported tags only, balanced; four named entities."""
    out: list[str] = []
    u16 = 0
    entities: list[dict] = []
    stack: list[dict] = []
    n = len(text)

    def at(k: int) -> str:
        return text[k] if k < n else ""

    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            decoded, end = _html_entity(text, i)
            if decoded is not None:
                out.append(decoded)
                u16 += _u16(decoded)
                i = end
                continue
        if c != "<":
            out.append(c)
            u16 += _u16(c)
            i += 1
            continue
        begin = i
        where = _byte_offset(text, begin)
        i += 1
        if at(i) != "/":
            while i < n and text[i] not in _SPACE and text[i] != ">":
                i += 1
            if i >= n:
                raise EntityError(f"Unclosed start tag at byte offset {where}")
            tag = text[begin + 1 : i].lower()
            if tag not in _HTML_TYPES:
                raise EntityError(f'Unsupported start tag "{tag}" at byte offset {where}')
            attributes: dict[str, str] = {}
            while at(i) != ">":
                while i < n and text[i] in _SPACE:
                    i += 1
                if at(i) == ">":
                    break
                attr_begin = i
                while i < n and text[i] not in _SPACE and text[i] not in "=>":
                    i += 1
                name = text[attr_begin:i].lower()
                if not name:
                    raise EntityError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {where}'
                    )
                while i < n and text[i] in _SPACE:
                    i += 1
                if at(i) != "=":
                    if tag == "blockquote" and name == "expandable":
                        attributes[name] = ""
                        continue
                    raise EntityError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {where}'
                    )
                i += 1
                while i < n and text[i] in _SPACE:
                    i += 1
                if i >= n:
                    raise EntityError(f'Unclosed start tag "{tag}" at byte offset {where}')
                if text[i] in "'\"":
                    quote_char, chars = text[i], []
                    i += 1
                    while i < n and text[i] != quote_char:
                        decoded, end = _html_entity(text, i) if text[i] == "&" else (None, i)
                        if decoded is not None:
                            chars.append(decoded)
                            i = end
                        else:
                            chars.append(text[i])
                            i += 1
                    i += i < n
                    value = "".join(chars)
                else:
                    value_begin = i
                    while i < n and (text[i].isalnum() or text[i] in "-."):  # an HTML name token
                        i += 1
                    value = text[value_begin:i]
                if i >= n:
                    raise EntityError("Unclosed start tag")
                attributes[name] = value
            i += 1
            argument: str | None = None
            if tag == "a":
                argument = _check_url(attributes.get("href", ""))
            elif tag == "code" and attributes.get("class", "").startswith("language-"):
                argument = attributes["class"][len("language-") :]
            elif tag == "span" and attributes.get("class") != "tg-spoiler":
                raise EntityError('Tag "span" must have class "tg-spoiler"')
            elif tag == "tg-emoji":
                argument = attributes.get("emoji-id")
                if not (argument or "").isdigit():
                    raise EntityError(
                        "Custom emoji entity must contain a valid custom emoji identifier"
                    )
            elif tag == "blockquote" and "expandable" in attributes:
                argument = "expandable"
            stack.append({"tag": tag, "u16": u16, "arg": argument, "language": None})
            continue
        if not stack:
            raise EntityError(f"Unexpected end tag at byte offset {where}")
        i += 1
        name_begin = i
        while i < n and text[i] not in _SPACE and text[i] != ">":
            i += 1
        end_name = text[name_begin:i].lower()
        while i < n and text[i] in _SPACE:
            i += 1
        if at(i) != ">":
            raise EntityError(f"Unclosed end tag at byte offset {where}")
        i += 1
        opened = stack.pop()
        tag = opened["tag"]
        if end_name and end_name != tag:
            raise EntityError(
                f"Unmatched end tag at byte offset {where}, "
                f'expected "</{tag}>", found "</{end_name}>"'
            )
        if any(o["tag"] == "pre" for o in stack) and tag == "code":
            parent = stack[-1]
            if parent["tag"] == "pre" and parent["u16"] == opened["u16"] and opened["arg"]:
                parent["language"] = opened["arg"]
            continue  # a code inside pre becomes the pre's language, never an entity of its own
        if u16 <= opened["u16"] or (tag == "a" and opened["arg"] is None):
            continue
        kind = _HTML_TYPES[tag]
        argument = opened["language"] if tag == "pre" else opened["arg"]
        if tag == "blockquote" and argument == "expandable":
            kind, argument = "expandable_blockquote", None
        entities.append(_entity(kind, opened["u16"], u16 - opened["u16"], argument))
    if stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1]["tag"]}"')
    return "".join(out), entities


def check_entities(text: str, entities: Any) -> list[dict]:
    """Validate a MessageEntity list against ``text``; return normalized copies.

    Offsets and lengths are UTF-16 code units and must lie within ``text``; types must be the Bot
    API's; ``text_link`` needs ``url``, ``text_mention`` needs ``user``, ``custom_emoji`` needs
    ``custom_emoji_id``; ``pre`` may carry ``language``. Raises :class:`EntityError`.
    """
    if not isinstance(entities, list):
        raise EntityError("entities must be an array of MessageEntity objects")
    total = utf16_len(text)
    result = []
    for k, raw in enumerate(entities):
        if not isinstance(raw, dict):
            raise EntityError(f"entity {k} is not an object")
        kind, offset, length = raw.get("type"), raw.get("offset"), raw.get("length")
        if kind not in ENTITY_TYPES:
            raise EntityError(f'Unsupported entity type "{kind}"')
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length <= 0:
            raise EntityError(f"entity {k} has an invalid offset {offset!r} or length {length!r}")
        if offset + length > total:
            raise EntityError(
                f"entity {k} with offset {offset} and length {length} is beyond the end of the "
                "text "
                f"({total} UTF-16 code units)"
            )
        entity: dict[str, Any] = {"type": kind, "offset": offset, "length": length}
        if kind == "text_link":
            url = _check_url(str(raw.get("url") or ""))
            if url is None:
                raise EntityError(f"entity {k}: a text_link entity needs a valid url")
            entity["url"] = url
        elif kind == "text_mention":
            if not isinstance(raw.get("user"), dict) or "id" not in raw["user"]:
                raise EntityError(f"entity {k}: a text_mention entity needs a user")
            entity["user"] = raw["user"]
        elif kind == "custom_emoji":
            if not str(raw.get("custom_emoji_id") or "").isdigit():
                raise EntityError(f"entity {k}: a custom_emoji entity needs a custom_emoji_id")
            entity["custom_emoji_id"] = str(raw["custom_emoji_id"])
        elif kind == "pre" and raw.get("language"):
            entity["language"] = str(raw["language"])
        result.append(entity)
    return result


def _trim(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Strip leading/trailing whitespace as Telegram does; clip entities, drop the empty ones."""
    stripped = text.strip(_TRIM)
    lead = utf16_len(text[: len(text) - len(text.lstrip(_TRIM))])
    total = utf16_len(stripped)
    result = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(total, entity["offset"] + entity["length"] - lead)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    result.sort(key=lambda e: (e["offset"], -e["length"]))
    return stripped, result


def parse_text(
    text: str, parse_mode: str | None = None, entities: Any = None
) -> tuple[str, list[dict]]:
    """Turn a Bot API text (+ ``parse_mode`` or ``entities``) into (plain text, entities) as shown.

    ``parse_mode`` is ``MarkdownV2``, ``HTML`` or ``Markdown`` (case-insensitive) and, when given,
    wins over ``entities`` (as in the official server's ``get_formatted_text``). Entity offsets and
    lengths are UTF-16 code units. The result is trimmed of leading/trailing whitespace.
    Raises :class:`EntityError` (bad markup or entities) or :class:`ApiError` (unknown parse_mode).
    """
    mode = (parse_mode or "").lower()
    if mode == "markdownv2":
        plain, found = _parse_markdown_v2(text)
    elif mode == "html":
        plain, found = _parse_html(text)
    elif mode == "markdown":
        plain, found = _parse_markdown(text)
    elif mode in ("", "none"):
        plain, found = text, (check_entities(text, entities) if entities is not None else [])
    else:
        raise _bad(ERR_PARSE_MODE)
    return _trim(plain, found)
