"""The translation catalogs' upkeep: extract the bot's words, update the catalogs, check them.

``python -m bot.catalogs update`` (from the repository root) runs babel's own commands::

    pybabel extract -F babel.cfg -k _ -k ngettext:1,2 -k N_ -w 100 -o bot/locales/bot.pot \\
        bot providers
    pybabel update -i bot/locales/bot.pot -d bot/locales -D bot -w 100 --no-fuzzy-matching \\
        --ignore-obsolete

so the template ``bot/locales/bot.pot`` holds every message of the code, and each language's
``bot.po`` gains the new ones (empty, to translate) and loses those the code no longer uses.
``python -m bot.catalogs init LANGUAGE`` starts a new language's catalog from the template
(its plural rule from CLDR). ``python -m bot.catalogs fill LANGUAGE FILE...`` copies the
translations of other PO files (exact msgid matches) into the language's empty entries.
``python -m bot.catalogs check`` prints what :func:`problems`
finds and exits 1 when it finds anything (the tests run the same check).
"""

from __future__ import annotations

import contextlib
import re
import string
import sys
from collections.abc import Sequence
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

from bot.i18n import DOMAIN, LOCALES

__all__ = ["KEYWORDS", "extracted", "fill", "init", "main", "placeholders", "problems", "update"]

#: The repository root: babel.cfg and the source directories are there.
ROOT = LOCALES.parent.parent
#: The directories whose messages are extracted (providers' error texts are shown by the bot).
SOURCES = ("bot", "providers")
#: The marking functions: ``_``, ``ngettext`` (singular and plural) and ``N_`` (bot.i18n; the
#: providers' own ``N_`` in providers.errors).
KEYWORDS: dict[str, tuple[int, ...] | None] = {"_": None, "ngettext": (1, 2), "N_": None}
#: The template and the catalogs, relative to the repository root.
LOCALES_DIR = str(LOCALES.relative_to(ROOT))
TEMPLATE = f"{LOCALES_DIR}/{DOMAIN}.pot"


def _babel(root: Path, *args: str) -> None:
    """Run ``pybabel ARGS`` in ``root`` (the catalogs name files relative to it)."""
    with contextlib.chdir(root):
        CommandLineInterface().run(["pybabel", "-q", *args])


def update(root: Path = ROOT) -> None:
    """Extract the messages of ``root``'s source into the template, then update every
    language's catalog (new messages empty, those no longer used dropped)."""
    keywords = [arg for name in ("_", "ngettext:1,2", "N_") for arg in ("-k", name)]
    _babel(root, "extract", "-F", "babel.cfg", *keywords, "-w", "100",
           "--project", "llm-telegram-bot", "--copyright-holder", "llm-telegram-bot",
           "-o", TEMPLATE, *SOURCES)
    _babel(root, "update", "-i", TEMPLATE, "-d", LOCALES_DIR, "-D", DOMAIN,
           "-w", "100", "--no-fuzzy-matching", "--ignore-obsolete")


def init(language: str, root: Path = ROOT) -> Path:
    """Create ``language``'s catalog from the template (its plural rule from CLDR); returns
    its path. Raises FileExistsError when it exists."""
    existing = _catalogs(root)
    if language in existing:
        raise FileExistsError(existing[language])
    _babel(root, "init", "-i", TEMPLATE, "-d", LOCALES_DIR, "-D", DOMAIN,
           "-l", language, "-w", "100")
    return _catalogs(root)[language]


def fill(language: str, sources: Sequence[Path], root: Path = ROOT) -> int:
    """Copy into ``language``'s catalog the translations ``sources`` (PO files) hold for its
    untranslated messages (same msgid, and msgid_plural for a plural one); returns how many
    were filled. A translated entry is never changed. Raises KeyError for a language without
    a catalog, babel's errors for a malformed PO file."""
    path = _catalogs(root)[language]
    with path.open("rb") as file:
        catalog = read_po(file, locale=language, domain=DOMAIN)
    found: dict[object, Message] = {}
    for source in sources:
        with source.open("rb") as file:
            donors = read_po(file, locale=language)  # the language's number of plural forms
            found |= {message.id: message for message in donors if message.id}
    filled = 0
    for message in catalog:
        donor = found.get(message.id)
        if message.id and not all(_texts(message.string)) and donor is not None and all(
            _texts(donor.string)
        ):
            message.string = donor.string
            filled += 1
    with path.open("wb") as file:
        write_po(file, catalog, width=100, ignore_obsolete=True)
    return filled


def _catalogs(root: Path) -> dict[str, Path]:
    """Each language's catalog under ``root``'s locales directory."""
    return {path.parent.parent.name: path
            for path in sorted((root / LOCALES_DIR).glob(f"*/LC_MESSAGES/{DOMAIN}.po"))}


def extracted(root: Path = ROOT) -> dict[str, str | tuple[str, str]]:
    """The messages marked in the source (``bot/``, ``providers/``) by their msgid: the msgid,
    or (singular, plural) for a plural message."""
    found: dict[str, str | tuple[str, str]] = {}
    for source in SOURCES:
        for _file, _line, message, _comments, _context in extract_from_dir(
            root / source, [("**.py", "python")], keywords=KEYWORDS
        ):
            if isinstance(message, tuple):
                found[message[0]] = (message[0], message[1])
            else:
                found[message] = message
    return found


def placeholders(text: str) -> set[str]:
    """The ``str.format`` field names in ``text`` (``"{model} failed"`` -> ``{"model"}``), and
    ``%(name)s`` / ``%s`` fields as ``"%(name)s"`` / ``"%s"``. Raises ValueError for a
    malformed format string."""
    fields = {name for _text, name, _spec, _conv in string.Formatter().parse(text) if name}
    percent = {match.group(0) for match in re.finditer(r"%(\([^)]*\))?[sdifr]", text)}
    return fields | percent


def _texts(value: object) -> list[str]:
    """A message's msgid or msgstr as a list of its forms (one unless plural)."""
    if isinstance(value, str) or value is None:
        return [value or ""]
    return [str(form or "") for form in value] if isinstance(value, list | tuple) else [""]


def _entry_problems(language: str, message: Message) -> list[str]:
    ids = _texts(message.id)
    where = f"{language}: {ids[0]!r}"
    forms = _texts(message.string)
    found = []
    if message.fuzzy:
        found.append(f"{where} is marked fuzzy (check it, then remove the flag)")
    if not all(forms):
        found.append(f"{where} has an empty translation")
        return found
    try:
        wanted = set().union(*(placeholders(text) for text in ids))
        for form in forms:
            if placeholders(form) != wanted:
                found.append(f"{where}: placeholders {sorted(placeholders(form))} in "
                             f"{form!r}, the msgid has {sorted(wanted)}")
    except ValueError as error:
        found.append(f"{where}: malformed format string ({error})")
    return found


def problems(root: Path = ROOT) -> list[str]:
    """What is wrong with ``root``'s template and catalogs, one line each (empty: nothing):
    the template or a catalog missing a message of the code, holding one it no longer uses
    (obsolete ``#~`` entries count), an empty or fuzzy translation, a translation whose
    placeholders differ from its msgid's, a plural message missing forms of the language's
    rule."""
    code = extracted(root)
    found: list[str] = []
    files = {"template": root / TEMPLATE} | _catalogs(root)
    for language, path in files.items():
        with path.open("rb") as file:
            catalog: Catalog = read_po(file, locale=None if language == "template" else language)
        entries = {message.id[0] if isinstance(message.id, tuple) else message.id: message
                   for message in catalog if message.id}
        found += [f"{language}: missing {msgid!r} (run python -m bot.catalogs update)"
                  for msgid in code if msgid not in entries]
        found += [f"{language}: {msgid!r} is no longer in the code" for msgid in entries
                  if msgid not in code]
        found += [f"{language}: obsolete entry {key!r}" for key in catalog.obsolete]
        for msgid, message in entries.items():
            if msgid in code and isinstance(code[msgid], tuple) != isinstance(message.id, tuple):
                found.append(f"{language}: {msgid!r} is plural in one place only")
            elif language != "template":
                found += _entry_problems(language, message)
                if isinstance(message.string, tuple) and len(message.string) != catalog.num_plurals:
                    found.append(f"{language}: {msgid!r} has {len(message.string)} plural forms,"
                                 f" the language has {catalog.num_plurals}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """``update``, ``init LANGUAGE``, ``fill LANGUAGE FILE...`` or ``check``; returns the exit
    status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["update"]:
        update()
        return 0
    if len(args) == 2 and args[0] == "init":
        print(init(args[1]))
        return 0
    if len(args) > 2 and args[0] == "fill":
        print(f"{fill(args[1], [Path(arg) for arg in args[2:]])} translations filled")
        return 0
    if args == ["check"]:
        found = problems()
        print("\n".join(found) or "the catalogs are complete")
        return 1 if found else 0
    print("usage: python -m bot.catalogs update | init LANGUAGE | fill LANGUAGE FILE... | check",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
