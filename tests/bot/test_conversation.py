"""End to end: a user talks to the bot through the fake Bot API; the bot runs its real wiring
against the fake provider servers and a real SQLite file."""

from __future__ import annotations

from tests.bot.conftest import RunningBot
from tests.fakes.providers import Reply

CHAT = 1001


async def test_several_turns_history_reaches_the_provider(bot: RunningBot) -> None:
    bot.providers.push("openai", Reply("Paris is the capital of France."), Reply("About 2.1 million."))

    bot.telegram.send_message(CHAT, "What is the capital of France?")
    await bot.wait_for_text(CHAT, "Paris is the capital of France.")
    bot.telegram.send_message(CHAT, "How many people live there?")
    await bot.wait_for_text(CHAT, "About 2.1 million.")

    assert bot.provider_history(-1) == [
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris is the capital of France."},
        {"role": "user", "content": "How many people live there?"},
    ]
    # Each reply answers the user's message it belongs to.
    user_ids = [m.message_id for m in bot.telegram.messages(CHAT) if not m.from_bot]
    replies = bot.telegram.bot_messages(CHAT)
    assert [m.reply_to_message_id for m in replies] == user_ids


async def test_streamed_reply_final_text_equals_what_the_provider_sent(bot: RunningBot) -> None:
    text = " ".join(f"word{i}" for i in range(300))  # 2,389 characters in many deltas
    bot.providers.push("openai", Reply(text, delta_chars=7, delay=0.01, hang=0.6))

    bot.telegram.send_message(CHAT, "Count for me")
    message = await bot.wait_for_text(CHAT, text, timeout=30)

    assert len(bot.telegram.bot_messages(CHAT)) == 1
    assert message.edits >= 1  # it grew: sent early, then edited
    # The provider took 0.6 s to answer: "typing" showed meanwhile, before the first text.
    calls = [c.method for c in bot.telegram.calls if c.chat_id == CHAT and c.method != "getUpdates"]
    assert calls[:2] == ["sendChatAction", "sendMessage"]
    assert bot.telegram.calls_for("sendChatAction", CHAT)[0].params["action"] == "typing"
    assert not [c for c in bot.telegram.calls if c.status == 400]


async def test_429_in_the_middle_still_ends_with_the_full_text(bot: RunningBot) -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 20
    bot.providers.push("openai", Reply(text, delta_chars=10, delay=0.02))
    bot.telegram.set_failure(
        "editMessageText",
        status=429,
        description="Too Many Requests: retry after 1",
        retry_after=1,
        times=2,
    )

    bot.telegram.send_message(CHAT, "Tell me about foxes")
    await bot.wait_for_text(CHAT, text.strip(), timeout=30)

    assert [c.status for c in bot.telegram.calls_for("editMessageText", CHAT)].count(429) == 2


async def test_5000_character_reply_arrives_whole_over_two_messages(bot: RunningBot) -> None:
    paragraphs = [f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 6 for i in range(30)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    assert 4096 < len(text) < 8192
    bot.providers.push("openai", Reply(text, delta_chars=200, delay=0.01))

    bot.telegram.send_message(CHAT, "Write a lot")
    await bot.wait_bot_text(
        CHAT,
        lambda ms: len(ms) == 2
        and "\n\n".join((m.text or "").strip() for m in ms) == text,
        timeout=30,
    )
    parts = bot.telegram.bot_messages(CHAT)
    assert all(len(m.text or "") <= 4096 for m in parts)
    assert parts[0].text.endswith(".") or parts[0].text.endswith("amet")  # split at a boundary


async def test_markdown_with_code_blocks_renders_without_a_parse_error(bot: RunningBot) -> None:
    markdown = (
        "Here is **bold**, _italic_ and `inline code`.\n\n"
        "```python\nprint('a_b*c')  # [not a link](x)\n```\n\n"
        "Done. Special characters: 1 + 1 = 2! (really) #tag"
    )
    bot.providers.push("openai", Reply(markdown, delta_chars=9, delay=0.01))

    bot.telegram.send_message(CHAT, "Show me code")
    message = await bot.wait_for_containing(CHAT, "Special characters: 1 + 1 = 2! (really) #tag")

    assert "print('a_b*c')  # [not a link](x)" in message.text
    assert "**" not in message.text and "```" not in message.text
    types = {e["type"] for e in message.entities}
    assert {"bold", "italic", "code", "pre"} <= types
    pre = next(e for e in message.entities if e["type"] == "pre")
    assert pre.get("language") == "python"
    assert not [c for c in bot.telegram.calls if c.status == 400]


async def test_dalle_gives_a_photo_whose_bytes_equal_the_served_image(bot: RunningBot) -> None:
    image = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    bot.providers.push("aichats", Reply(image=image, image_mime="image/png"))

    bot.telegram.send_message(CHAT, "/model dalle")
    await bot.wait_for_containing(CHAT, "dalle")
    bot.telegram.send_message(CHAT, "A red cat on a blue sofa")
    photo = await bot.wait_bot_text(CHAT, lambda ms: any(m.kind == "photo" for m in ms))

    sent = next(m for m in photo if m.kind == "photo")
    assert sent.photo == image
    assert sent.caption == "A red cat on a blue sofa"
    actions = [c.params["action"] for c in bot.telegram.calls_for("sendChatAction", CHAT)]
    assert actions == ["upload_photo"]  # shown while generating, not sent twice
    # The conversation goes on: the next text turn carries a reference to the image.
    bot.providers.push("openai", Reply("Nice cat."))
    bot.telegram.send_message(CHAT, "/model gpt-4o-mini")
    await bot.wait_for_containing(CHAT, "gpt-4o-mini")
    bot.telegram.send_message(CHAT, "Describe it")
    await bot.wait_for_text(CHAT, "Nice cat.")
    history = bot.provider_history(-1)
    assert history[-3:] == [
        {"role": "user", "content": "A red cat on a blue sofa"},
        {"role": "assistant", "content": "[image: A red cat on a blue sofa]"},
        {"role": "user", "content": "Describe it"},
    ]


async def test_history_survives_a_restart(bot: RunningBot) -> None:
    bot.providers.push("openai", Reply("Noted: your name is Ada."), Reply("Your name is Ada."))
    bot.telegram.send_message(CHAT, "My name is Ada.")
    await bot.wait_for_text(CHAT, "Noted: your name is Ada.")

    await bot.restart()
    bot.telegram.send_message(CHAT, "What is my name?")
    await bot.wait_for_text(CHAT, "Your name is Ada.")

    assert bot.provider_history(-1)[:2] == [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Noted: your name is Ada."},
    ]


async def test_several_chats_at_once_each_answered_in_order(bot: RunningBot) -> None:
    for chat in (2001, 2002, 2003):
        bot.telegram.send_message(chat, "first")
        bot.telegram.send_message(chat, "second")
    for _ in range(6):
        bot.providers.push("openai", Reply("ok", delay=0.05))
    for chat in (2001, 2002, 2003):
        await bot.wait_bot_text(chat, lambda ms: len(ms) == 2)
    for chat in (2001, 2002, 2003):
        user = [m.message_id for m in bot.telegram.messages(chat) if not m.from_bot]
        assert [m.reply_to_message_id for m in bot.telegram.bot_messages(chat)] == user
