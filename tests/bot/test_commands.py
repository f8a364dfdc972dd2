"""End to end: the bot's commands, through the fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.bot.conftest import RunningBot
from tests.fakes.providers import Reply

CHAT = 3001


async def test_commands_are_registered_for_the_menu(bot: RunningBot) -> None:
    calls = bot.telegram.calls_for("setMyCommands")
    assert calls and calls[-1].status == 200
    names = [c["command"] for c in calls[-1].params["commands"]]
    assert names == ["start", "help", "model", "models", "new", "retry", "stop", "forget", "voice",
                     "system", "persona", "usage", "reasoning", "language"]


async def test_start_and_help_say_what_the_bot_does(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/start", first_name="Ada")
    greeting = await bot.wait_for_containing(CHAT, "Hello, Ada!")
    assert "/model" in greeting.text and "/retry" in greeting.text
    bot.telegram.send_message(CHAT, "/help")
    await bot.wait_bot_text(CHAT, lambda ms: len(ms) == 2)
    help_text = bot.telegram.bot_messages(CHAT)[-1].text
    assert "/forget" in help_text and "/voice" in help_text
    for accepted in ("voice message", "photo", "album", "document", "PDF"):  # what it takes
        assert accepted in greeting.text and accepted in help_text


async def test_model_without_argument_shows_a_keyboard_that_switches(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/model")
    menu = await bot.wait_for_containing(CHAT, "Current model: gpt-4o-mini")
    buttons = [b for row in menu.reply_markup["inline_keyboard"] for b in row]
    labels = [b["text"] for b in buttons]
    assert "— OpenAI —" in labels and "— AiChats —" in labels  # grouped by provider
    assert "✓ gpt-4o-mini" in labels
    following = next(b for b in buttons if b["text"] == "Next ▶")
    bot.telegram.press_button(CHAT, menu.message_id, following["callback_data"])
    await bot.telegram.wait_for(lambda: any(
        b["text"] == "dalle" for row in (bot.telegram.bot_messages(CHAT)[0].reply_markup or {})
        .get("inline_keyboard", []) for b in row))
    menu = bot.telegram.bot_messages(CHAT)[0]
    dalle = next(b for row in menu.reply_markup["inline_keyboard"] for b in row
                 if b["text"] == "dalle")

    bot.telegram.press_button(CHAT, menu.message_id, dalle["callback_data"])
    await bot.wait_for_containing(CHAT, "Current model: AiChats/dalle")

    answers = bot.telegram.calls_for("answerCallbackQuery")
    assert answers and answers[-1].params.get("text") == "Model: AiChats/dalle"
    image = b"\x89PNG\r\n\x1a\n" + b"pixels" * 100
    bot.providers.push("aichats", Reply(image=image))
    bot.telegram.send_message(CHAT, "a lighthouse")
    photos = await bot.wait_bot_text(CHAT, lambda ms: any(m.kind == "photo" for m in ms))
    assert next(m for m in photos if m.kind == "photo").photo == image


async def test_model_with_an_unknown_name_lists_close_matches(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/model gpt-4-o")
    answer = await bot.wait_for_containing(CHAT, "Unknown model “gpt-4-o”")
    assert "gpt-4o" in answer.text and "/models" in answer.text
    bot.telegram.send_message(CHAT, "/model")
    await bot.wait_for_containing(CHAT, "Current model: gpt-4o-mini")  # unchanged


async def test_model_switch_is_case_insensitive_and_pins_a_provider(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/model AI365VIP/GPT-4O")
    await bot.wait_for_containing(CHAT, "Model switched to AI365VIP/gpt-4o")
    bot.providers.push("ai365vip", Reply("From AI365VIP\n"))
    bot.telegram.send_message(CHAT, "hi")
    await bot.wait_for_text(CHAT, "From AI365VIP")
    assert not bot.providers.requests_for("openai")


async def test_models_lists_providers_and_whether_they_answered(bot: RunningBot) -> None:
    bot.providers.push("openai", Reply("hello"))
    bot.telegram.send_message(CHAT, "hi")
    await bot.wait_for_text(CHAT, "hello")
    bot.telegram.send_message(CHAT, "/models")
    listing = await bot.wait_for_containing(CHAT, "OpenAI (")
    assert "OpenAI (answered last time)" in listing.text
    assert "AiChats (not tried yet)" in listing.text
    assert "dalle" in listing.text


async def test_new_starts_a_fresh_conversation(bot: RunningBot) -> None:
    bot.providers.push("openai", Reply("one"), Reply("two"))
    bot.telegram.send_message(CHAT, "remember 42")
    await bot.wait_for_text(CHAT, "one")
    bot.telegram.send_message(CHAT, "/new")
    await bot.wait_for_text(CHAT, "Started a new conversation.")
    bot.telegram.send_message(CHAT, "what number?")
    await bot.wait_for_text(CHAT, "two")
    last = bot.provider_history()
    assert last == [{"role": "user", "content": "what number?"}]


async def test_retry_answers_the_last_message_again(bot: RunningBot) -> None:
    bot.providers.push("openai", Reply("first answer"), Reply("second answer"))
    bot.telegram.send_message(CHAT, "tell me a joke")
    await bot.wait_for_text(CHAT, "first answer")
    bot.telegram.send_message(CHAT, "/retry")
    await bot.wait_for_text(CHAT, "second answer")
    requests = bot.providers.requests_for("openai")
    # The retried request has the same history as the first: the old answer is dropped.
    assert requests[-1].json["messages"] == requests[-2].json["messages"] == [
        {"role": "user", "content": "tell me a joke"}
    ]


async def test_retry_with_nothing_to_retry(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/retry")
    await bot.wait_for_text(CHAT, "There is nothing to retry yet: send me a message.")


async def test_stop_ends_the_reply_and_keeps_the_text_so_far(bot: RunningBot) -> None:
    words = [f"w{i}" for i in range(400)]
    bot.providers.push("openai", Reply(" ".join(words), delta_chars=3, delay=0.05))
    bot.telegram.send_message(CHAT, "count slowly")
    await bot.wait_bot_text(CHAT, lambda ms: bool(ms) and len(ms[0].text or "") > 20)

    bot.telegram.send_message(CHAT, "/stop")
    await asyncio.sleep(1.5)  # let the final write land
    shown = bot.telegram.bot_messages(CHAT)[0].text
    await asyncio.sleep(1.0)
    assert bot.telegram.bot_messages(CHAT)[0].text == shown  # nothing more arrives
    assert " ".join(words).startswith(shown) and len(shown) < len(" ".join(words))

    # The stopped text stays in the history.
    bot.providers.push("openai", Reply("ok"))
    bot.telegram.send_message(CHAT, "thanks")
    await bot.wait_for_text(CHAT, "ok")
    history = bot.provider_history()
    assert history[1] == {"role": "assistant", "content": shown}


async def test_stop_with_nothing_running(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/stop")
    await bot.wait_for_text(CHAT, "Nothing is being written right now.")


async def test_forget_deletes_the_chat_history(bot: RunningBot) -> None:
    bot.providers.push("openai", Reply("stored"), Reply("fresh"))
    bot.telegram.send_message(CHAT, "secret thing")
    await bot.wait_for_text(CHAT, "stored")
    bot.telegram.send_message(CHAT, "/forget")
    await bot.wait_for_text(CHAT, "Deleted everything stored for this chat (2 messages).")
    bot.telegram.send_message(CHAT, "hello again")
    await bot.wait_for_text(CHAT, "fresh")
    assert bot.provider_history() == [
        {"role": "user", "content": "hello again"}
    ]


async def test_an_unknown_command_points_to_help(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/imagine a castle")
    await bot.wait_for_text(CHAT, "I don't know the command /imagine. Send /help to see what I can do.")
    assert not bot.providers.requests


async def test_model_with_a_huge_unknown_name_is_answered_with_it_shortened(bot: RunningBot) -> None:
    name = "x" * 10_000
    bot.telegram.send_message(CHAT, f"/model {name}")
    answer = await bot.wait_for_containing(CHAT, "Unknown model “")
    assert "xxxx…”" in answer.text and "/models" in answer.text
    assert len(answer.text) < 200
    assert not [c for c in bot.telegram.calls_for("sendMessage", CHAT) if c.status != 200]


LONG_MODEL = "organisation-with-a-long-name/model-with-a-very-long-identifier-v2.5-instruct"


async def test_model_buttons_fit_telegram_s_64_bytes_whatever_the_model_id(
    make_bot: Callable[..., RunningBot],
) -> None:
    bot = make_bot(openai_models=f"gpt-4o-mini,{LONG_MODEL}")
    bot.providers.models = ["gpt-4o-mini", LONG_MODEL]  # what its GET /models lists
    await bot.start()
    bot.telegram.send_message(CHAT, "/model")
    menu = await bot.wait_for_containing(CHAT, "Current model: gpt-4o-mini")
    buttons = [b for row in menu.reply_markup["inline_keyboard"] for b in row]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    long = next(b for b in buttons if b["text"] == LONG_MODEL)

    bot.telegram.press_button(CHAT, menu.message_id, long["callback_data"])
    await bot.wait_for_containing(CHAT, f"Current model: OpenAI/{LONG_MODEL}")
    bot.providers.push("openai", Reply("from the long one"))
    bot.telegram.send_message(CHAT, "hi")
    await bot.wait_for_text(CHAT, "from the long one")
    request = bot.providers.requests_for("openai")[-1]
    assert request.json["model"] == LONG_MODEL


async def test_a_button_of_a_model_no_longer_offered_says_so(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/model")
    menu = await bot.wait_for_containing(CHAT, "Current model: gpt-4o-mini")
    bot.telegram.press_button(CHAT, menu.message_id, "model#0123456789abcdef")
    await bot.telegram.wait_for(lambda: bool(bot.telegram.calls_for("answerCallbackQuery")))
    answer = bot.telegram.calls_for("answerCallbackQuery")[-1]
    assert answer.params.get("text") == "That model is no longer offered."
    bot.telegram.send_message(CHAT, "/model")
    await bot.wait_bot_text(CHAT, lambda ms: len(ms) == 2)
    assert bot.bot_texts(CHAT)[-1].startswith("Current model: gpt-4o-mini")  # unchanged
