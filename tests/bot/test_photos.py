"""End to end: photos and albums go to a model that can see as OpenAI content parts; later
turns send recent images again; a model that cannot see gets text."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from tests.bot.conftest import RunningBot
from tests.bot.test_files import stored_history
from tests.fakes.providers import Reply
from tests.fakes.telegram import tiny_png

CHAT = 6001


def decoded(part: dict[str, Any]) -> tuple[str, bytes]:
    """(MIME type, bytes) of an ``image_url`` part's ``data:`` URI."""
    assert part["type"] == "image_url"
    head, _, data = part["image_url"]["url"].partition(",")
    assert head.startswith("data:") and head.endswith(";base64")
    return head[5:].removesuffix(";base64"), base64.b64decode(data)


async def test_a_photo_with_a_caption_reaches_a_vision_model_as_an_image_part(
    bot: RunningBot,
) -> None:
    photo = tiny_png(64, 48)
    bot.providers.push("openai", Reply("A grey rectangle."), Reply("Yes, grey."))
    bot.telegram.send_file(CHAT, "photo", photo, caption="What is this?")
    await bot.wait_for_text(CHAT, "A grey rectangle.")

    [parts] = bot.providers.chat_content_parts()
    assert parts[0] == {"type": "text", "text": "What is this?"}
    assert decoded(parts[1]) == ("image/png", photo)  # the largest size, not the thumbnail
    assert len(parts) == 2

    # The next turn sends the photo again, fetched anew by its file_id.
    fetched = len(bot.telegram.calls_for("getFile"))
    bot.telegram.send_message(CHAT, "Is it grey?")
    await bot.wait_for_text(CHAT, "Yes, grey.")
    first, second = bot.providers.chat_content_parts()
    assert decoded(first[1])[1] == photo and second == [{"type": "text", "text": "Is it grey?"}]
    assert len(bot.telegram.calls_for("getFile")) == fetched + 1
    history = await stored_history(bot, CHAT, count=4)
    assert [row[1] for row in history] == ["What is this?", "A grey rectangle.", "Is it grey?",
                                           "Yes, grey."]


async def test_an_album_of_ten_photos_is_one_turn(bot: RunningBot) -> None:
    photos = [tiny_png(10 + n, 10) for n in range(10)]
    bot.providers.push("openai", Reply("Ten small pictures."))
    for n, photo in enumerate(photos):
        bot.telegram.send_file(CHAT, "photo", photo, media_group_id="album-1",
                               caption="Compare them" if n == 0 else None)
    await bot.wait_for_text(CHAT, "Ten small pictures.")

    chats = [r for r in bot.providers.requests_for("openai") if r.path.endswith("/completions")]
    assert len(chats) == 1
    [parts] = bot.providers.chat_content_parts()
    assert parts[0] == {"type": "text", "text": "Compare them"}
    assert [decoded(part)[1] for part in parts[1:]] == photos
    assert len(bot.telegram.bot_messages(CHAT)) == 1  # one reply, to the album's first photo
    assert bot.telegram.bot_messages(CHAT)[0].reply_to_message_id == 1


async def test_older_photos_beyond_the_budget_go_as_text(
    make_bot: Callable[..., RunningBot],
) -> None:
    bot = make_bot(vision_max_images=1)
    await bot.start()
    bot.providers.push("openai", Reply("A cat."), Reply("A dog."))
    bot.telegram.send_file(CHAT, "photo", tiny_png(8, 8), caption="first")
    await bot.wait_for_text(CHAT, "A cat.")
    bot.telegram.send_file(CHAT, "photo", tiny_png(9, 9))
    await bot.wait_for_text(CHAT, "A dog.")

    first, second = bot.providers.chat_content_parts()
    assert first == [{"type": "text", "text": "[photo] first"}]
    assert len(second) == 1 and decoded(second[0])[1] == tiny_png(9, 9)  # no caption: no text


async def test_the_largest_photo_size_within_the_byte_budget_is_sent(
    make_bot: Callable[..., RunningBot],
) -> None:
    bot = make_bot(photo_max_bytes=10_000)
    await bot.start()
    big = tiny_png(64, 64) + bytes(20_000)  # 20 kB: over the budget
    bot.providers.push("openai", Reply("Small."))
    bot.telegram.send_file(CHAT, "photo", big)
    await bot.wait_for_text(CHAT, "Small.")

    [[part]] = bot.providers.chat_content_parts()
    assert decoded(part)[1] == tiny_png(32, 32)  # the fake's thumbnail


async def test_an_image_sent_as_a_document_is_a_photo(bot: RunningBot) -> None:
    image = tiny_png(30, 20)
    bot.providers.push("openai", Reply("An image file."))
    bot.telegram.send_file(CHAT, "document", image, file_name="shot.png", mime_type="image/png",
                           caption="and this?")
    await bot.wait_for_text(CHAT, "An image file.")
    [parts] = bot.providers.chat_content_parts()
    assert parts[0]["text"] == "and this?" and decoded(parts[1]) == ("image/png", image)


async def test_a_photo_to_a_model_that_cannot_see_is_refused_without_a_download(
    bot: RunningBot,
) -> None:
    bot.telegram.send_message(CHAT, "/model AiAsk/gpt-3.5-turbo")
    await bot.wait_for_containing(CHAT, "Model switched")
    bot.telegram.send_file(CHAT, "photo", caption="what is it?")
    refusal = await bot.wait_for_containing(CHAT, "can't see images")

    assert refusal.text == (
        "⚠️ AiAsk/gpt-3.5-turbo can't see images. Models that can: gpt-4o-mini, gpt-4o "
        "(switch with /model gpt-4o-mini)."
    )
    assert not bot.providers.requests and not bot.telegram.calls_for("getFile")


async def test_a_seed_model_later_gets_earlier_photos_as_text(bot: RunningBot) -> None:
    bot.providers.push("openai", Reply("A square."))
    bot.telegram.send_file(CHAT, "photo", caption="shape?")
    await bot.wait_for_text(CHAT, "A square.")
    bot.telegram.send_message(CHAT, "/model AiAsk/gpt-3.5-turbo")
    await bot.wait_for_containing(CHAT, "Model switched")
    bot.providers.push("aiask", Reply("Still a square."))
    bot.telegram.send_message(CHAT, "sure?")
    await bot.wait_for_text(CHAT, "Still a square.")

    [request] = bot.providers.requests_for("aiask")
    assert "[photo] shape?" in str(request.json) and "image_url" not in str(request.json)
