"""Documents: a file's text, labelled with its name, as part of the user's turn.

Accepted: text-like files (plain text, Markdown, CSV, JSON, logs, source code...), recognised
by a ``text/*`` or known textual MIME type, a known extension, or, when the type says nothing
(``application/octet-stream``), by decoding as UTF-8; and PDF (``application/pdf`` or a
``%PDF-`` header), whose text layer ``pypdf`` extracts. A text file must decode as UTF-8 (a
byte-order mark is dropped) and hold no NUL byte, which no text has: a binary file named
``.txt`` is refused.
"""

from __future__ import annotations

import io
import logging
from pathlib import PurePosixPath

from bot.i18n import N_, _
from bot.inputs import InputError

log = logging.getLogger(__name__)

ACCEPTED = N_("text files (.txt, .md, .csv, .json, code, logs…) and PDFs with a text layer")
"""What :func:`document_text` accepts, for the answers that refuse a file."""

TEXT_TYPES = frozenset({
    "application/json", "application/xml", "application/x-yaml", "application/yaml",
    "application/javascript", "application/x-javascript", "application/sql",
    "application/x-sh", "application/x-python", "application/toml", "application/x-ndjson",
    "application/csv", "application/x-httpd-php", "application/graphql",
})
TEXT_EXTENSIONS = frozenset({
    ".txt", ".md", ".markdown", ".rst", ".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".xml",
    ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".log", ".py", ".js", ".ts", ".tsx",
    ".jsx", ".java", ".kt", ".c", ".h", ".cpp", ".hpp", ".cs", ".go", ".rs", ".rb", ".php",
    ".swift", ".sh", ".bash", ".sql", ".html", ".htm", ".css", ".scss", ".tex", ".srt", ".vtt",
    ".env", ".properties", ".gradle", ".lua", ".pl", ".r", ".m", ".scala", ".dart", ".vue",
})
UNKNOWN_TYPES = frozenset({"", "application/octet-stream"})


def document_text(data: bytes, file_name: str | None, mime_type: str | None,
                  max_chars: int) -> str:
    """The document as the user's words: ``[file: NAME]``, its text (at most ``max_chars``
    characters; a longer text is cut and ends with a note saying how much was left out).

    Raises :class:`InputError` (one sentence that says what is accepted) for an empty file,
    a PDF that is encrypted, corrupt or has no text, a text file that is not UTF-8 or holds
    binary data, and any other type. CPU-bound: run it in a thread for large files."""
    name = file_name or "document"
    if not data:
        raise InputError(_("“{name}” is empty. I can read {accepted}.",
                           name=name, accepted=_(ACCEPTED)))
    mime = (mime_type or "").split(";")[0].strip().lower()
    if mime == "application/pdf" or data.startswith(b"%PDF-"):
        text = _pdf_text(data, name, max_chars)
    elif _looks_textual(mime, name):
        text = _plain_text(data, name)
    else:
        kind = mime or _("unknown type")
        raise InputError(_("I can't read “{name}” ({kind}). I can read {accepted}.",
                           name=name, kind=kind, accepted=_(ACCEPTED)))
    return f"[file: {name}]\n{cut(text, max_chars)}"


def cut(text: str, max_chars: int) -> str:
    """``text`` if it has at most ``max_chars`` characters, else its start and a visible note."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}\n[… cut here: only the first {max_chars:,} characters are included]"


def _looks_textual(mime: str, name: str) -> bool:
    extension = PurePosixPath(name.lower()).suffix
    return (mime.startswith("text/") or mime in TEXT_TYPES or mime.endswith(("+json", "+xml"))
            or extension in TEXT_EXTENSIONS or mime in UNKNOWN_TYPES)


def _plain_text(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise InputError(_("“{name}” is not a text file I can read (it is not UTF-8 text). "
                           "I can read {accepted}.", name=name, accepted=_(ACCEPTED)))
    if not text.strip():
        raise InputError(_("“{name}” has only blank space in it. I can read {accepted}.",
                           name=name, accepted=_(ACCEPTED)))
    return text


def _pdf_text(data: bytes, name: str, max_chars: int) -> str:
    # Imported here: pypdf adds about 7 MiB to the resident set, and most turns have no PDF.
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputError(
                _("“{name}” is an encrypted PDF: send it without a password.", name=name)
            )
        pages: list[str] = []
        length = 0
        for page in reader.pages:
            text = (page.extract_text() or "").strip()
            if text:
                pages.append(text)
                length += len(text)
            if length > max_chars:  # enough: the rest would be cut anyway
                break
    except InputError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError,
            OSError, NotImplementedError) as error:
        log.info("unreadable PDF %r: %r", name, error)
        raise InputError(_("“{name}” looks damaged: I could not read it as a PDF. "
                           "I can read {accepted}.", name=name, accepted=_(ACCEPTED))) from None
    if not pages:
        raise InputError(_("“{name}” has no text layer (a scan?): I can't read images in PDFs. "
                           "I can read {accepted}.", name=name, accepted=_(ACCEPTED)))
    return "\n\n".join(pages)
