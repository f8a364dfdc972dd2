"""End to end: files the user sends — documents (text files, PDFs), and the faults of fetching
a file from Telegram — through the bot's real wiring, the fake Bot API and the fake providers."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from bot.inputs.documents import ACCEPTED
from bot.storage import Store
from tests.bot.conftest import RunningBot
from tests.fakes.providers import Reply
from tests.fakes.telegram import tiny_png

CHAT = 5001


def make_pdf(*lines: str, password: str | None = None) -> bytes:
    """A one-page PDF (pypdf) showing ``lines`` in Helvetica; no lines: a blank page, as a
    scan without a text layer reads."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    if lines:
        font = DictionaryObject({
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        })
        fonts = DictionaryObject({NameObject("/F1"): writer._add_object(font)})
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
        shown = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 720 Td {shown} ET".encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
    if password is not None:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def stored_history(
    bot: RunningBot, chat_id: int = CHAT, count: int = 0
) -> list[tuple[str, str, str]]:
    """(role, content, status) of every stored message of the chat's conversation, once it
    holds at least ``count`` messages and no reply is still streaming (at most 10 s)."""
    store = await Store.open(bot.settings.database_url, migrate=False)
    try:
        for _ in range(200):
            history = [(m.role, m.content, m.status.value) for m in await store.history(chat_id)]
            if len(history) >= count and all(status != "streaming" for *_, status in history):
                break
            await asyncio.sleep(0.05)
        return history
    finally:
        await store.close()


async def test_a_pdf_reaches_the_provider_as_text_with_the_caption_as_question(
    bot: RunningBot,
) -> None:
    pdf = make_pdf("Quarterly report", "Revenue grew 12 percent.")
    bot.providers.push("openai", Reply("Revenue grew by 12%."))
    bot.telegram.send_file(CHAT, "document", pdf, file_name="report.pdf",
                           mime_type="application/pdf", caption="How much did revenue grow?")
    await bot.wait_for_text(CHAT, "Revenue grew by 12%.")

    [message] = bot.provider_history()
    assert message["role"] == "user"
    assert message["content"].startswith("[file: report.pdf]\nQuarterly report")
    assert "Revenue grew 12 percent." in message["content"]
    assert message["content"].endswith("\n\nHow much did revenue grow?")
    history = await stored_history(bot, count=2)
    assert history == [("user", message["content"], "complete"),
                       ("assistant", "Revenue grew by 12%.", "complete")]


async def test_a_long_text_file_is_cut_with_a_visible_note(
    make_bot: Callable[..., RunningBot],
) -> None:
    bot = make_bot(document_max_chars=1000)
    await bot.start()
    text = "".join(f"line {n}: all is well\n" for n in range(500))
    bot.providers.push("openai", Reply("A long log."))
    bot.telegram.send_file(CHAT, "document", text.encode(), file_name="app.log",
                           mime_type="application/octet-stream")
    await bot.wait_for_text(CHAT, "A long log.")

    content = bot.provider_history()[-1]["content"]
    assert content.startswith("[file: app.log]\nline 0: all is well\n")
    assert content.endswith("\n[… cut here: only the first 1,000 characters are included]")
    assert text[:1000] in content and text[:1001] not in content


BAD_DOCUMENTS = [
    pytest.param(b"", "file.txt", "text/plain", "“file.txt” is empty.", id="0-byte file"),
    pytest.param(b"%PDF-1.7\n1 0 obj <<\n garbage", "broken.pdf", "application/pdf",
                 "“broken.pdf” looks damaged", id="corrupt PDF"),
    pytest.param(make_pdf("Secret", password="hunter2"), "locked.pdf", "application/pdf",
                 "“locked.pdf” is an encrypted PDF", id="encrypted PDF"),
    pytest.param(make_pdf(), "scan.pdf", "application/pdf", "“scan.pdf” has no text layer",
                 id="PDF without text"),
    pytest.param(tiny_png(4, 4)[:8] + bytes(range(256)), "notes.txt", "text/plain",
                 "“notes.txt” is not a text file I can read", id="binary named .txt"),
    pytest.param(b"PK\x03\x04zipped", "archive.zip", "application/zip",
                 "I can't read “archive.zip” (application/zip).", id="unsupported type"),
]


@pytest.mark.parametrize(("data", "name", "mime", "answer"), BAD_DOCUMENTS)
async def test_a_document_that_cannot_be_read_gets_one_clear_line(
    bot: RunningBot, data: bytes, name: str, mime: str, answer: str
) -> None:
    bot.telegram.send_file(CHAT, "document", data, file_name=name, mime_type=mime)
    text = (await bot.wait_for_containing(CHAT, answer)).text or ""

    assert text.count("\n") == 0 and text.startswith("⚠️ ")
    if "encrypted" not in answer:
        assert text.endswith(f"I can read {ACCEPTED}.")
    assert not bot.providers.requests  # nothing reached a model
    assert await stored_history(bot) == []  # no turn: nothing half-recorded
    bot.providers.push("openai", Reply("still here"))
    bot.telegram.send_message(CHAT, "hello?")
    await bot.wait_for_text(CHAT, "still here")  # the chat keeps working


async def test_a_25_mb_file_is_refused_before_any_download(bot: RunningBot) -> None:
    bot.telegram.send_file(CHAT, "document", b"small really", file_name="huge.csv",
                           mime_type="text/csv", file_size=25 * 1024 * 1024)
    message = await bot.wait_for_containing(CHAT, "That file is 25.0 MB")

    assert "up to 20 MB" in (message.text or "")
    assert not bot.telegram.calls_for("getFile") and not bot.providers.requests


async def test_get_file_failing_gets_a_clear_answer_and_the_chat_goes_on(bot: RunningBot) -> None:
    bot.telegram.set_failure("getFile", status=400, description="Bad Request: invalid file_id")
    bot.telegram.send_file(CHAT, "document", b"hello", file_name="a.txt")
    message = await bot.wait_for_containing(CHAT, "Telegram would not give me the file")

    assert "Invalid file_id" in (message.text or "") and not bot.providers.requests
    bot.providers.push("openai", Reply("Got it."))
    bot.telegram.send_file(CHAT, "document", b"hello", file_name="a.txt")
    await bot.wait_for_text(CHAT, "Got it.")
    assert bot.provider_history()[-1]["content"] == "[file: a.txt]\nhello"


async def test_the_file_url_and_its_token_never_reach_the_log(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot.providers.push("openai", Reply("Read it."))
    bot.telegram.send_file(CHAT, "document", b"some notes", file_name="notes.md")
    await bot.wait_for_text(CHAT, "Read it.")
    assert bot.telegram.token not in caplog.text
