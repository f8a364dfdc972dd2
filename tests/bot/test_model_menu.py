"""End to end: several endpoints behind the bot — the paged and filtered ``/model`` keyboard
(through button taps on the fake Bot API), ``/models`` by endpoint, a chosen model that
disappears from its endpoint, and the first run with nothing configured."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from providers.settings import DEFAULT_OPENAI_BASE_URL
from tests.bot.conftest import RunningBot
from tests.fakes.providers import FakeProviders, Reply
from tests.fakes.telegram import FakeMessage

CHAT = 4001
LOCAL = ["llama3.2:latest", "qwen3:8b", "My Model v2"]
ROUTER = ["deepseek/deepseek-r1", "deepseek/deepseek-chat", "meta-llama/llama-3.3-70b-instruct",
          "openai/gpt-4o", "openai/gpt-4o-mini", "anthropic/claude-sonnet-4", "qwen/qwen3-235b",
          "mistralai/mistral-large", "google/gemini-2.5-pro", "x-ai/grok-4", "moonshotai/kimi-k2",
          "z-ai/glm-4.5"]
NOTHING = {  # no OPENAI_* endpoint, no seed provider URL (the fakes' environment sets them)
    "openai_api_key": None, "openai_base_url": DEFAULT_OPENAI_BASE_URL, "aiask_url": None,
    "chatanywhere_url": None, "ai365vip_url": None, "aichats_url": None, "ylokh_url": None,
    "default_model": None,
}


@pytest.fixture
async def router() -> AsyncIterator[FakeProviders]:
    """A second OpenAI-compatible server (think: OpenRouter)."""
    async with FakeProviders(api_key="router-key") as server:
        server.models = list(ROUTER)
        yield server


@pytest.fixture
async def two(make_bot: Callable[..., RunningBot], router: FakeProviders,
              tmp_path: Path) -> RunningBot:
    """A bot with the endpoints ``local`` (the usual fake) and ``router``, and nothing else."""
    path = tmp_path / "endpoints.toml"
    bot = make_bot(**NOTHING)
    bot.providers.models = list(LOCAL)
    path.write_text(f"""
[endpoints.local]
base_url = "{bot.providers.origin}/openai/v1"
api_key = "test-key"

[endpoints.router]
base_url = "{router.origin}/openai/v1"
api_key = "router-key"
headers = {{ "X-Title" = "Test bot" }}
""")
    bot.settings = bot.settings.model_copy(update={"endpoints_file": str(path)})
    await bot.start()
    return bot


def keyboard(message: FakeMessage) -> list[list[str]]:
    """The inline keyboard's button labels, row by row."""
    return [[button["text"] for button in row]
            for row in (message.reply_markup or {}).get("inline_keyboard", [])]


def button(message: FakeMessage, label: str) -> dict[str, Any]:
    return next(b for row in (message.reply_markup or {}).get("inline_keyboard", []) for b in row
                if b["text"] == label)


async def tap(bot: RunningBot, message: FakeMessage, label: str) -> FakeMessage:
    """Tap a button and wait until the bot answered the tap; the message as it is then."""
    answered = len(bot.telegram.calls_for("answerCallbackQuery"))
    edits = len(bot.telegram.calls_for("editMessageText"))
    bot.telegram.press_button(CHAT, message.message_id, button(message, label)["callback_data"])
    await bot.telegram.wait_for(
        lambda: len(bot.telegram.calls_for("answerCallbackQuery")) > answered)
    if label not in ("1/1",):
        await bot.telegram.wait_for(lambda: len(bot.telegram.calls_for("editMessageText")) > edits)
    return next(m for m in bot.telegram.bot_messages(CHAT) if m.message_id == message.message_id)


async def test_the_keyboard_is_paged_and_taps_turn_the_pages(two: RunningBot) -> None:
    two.telegram.send_message(CHAT, "/model")
    menu = await two.wait_for_containing(CHAT, "Current model: llama3.2:latest")
    assert menu.text == "Current model: llama3.2:latest\nTap a model to switch:"
    assert keyboard(menu) == [  # 8 models a page, two a row unless long
        ["— local —"], ["✓ llama3.2:latest", "qwen3:8b"], ["My Model v2"],
        ["— router —"], ["deepseek/deepseek-r1", "deepseek/deepseek-chat"],
        ["meta-llama/llama-3.3-70b-instruct"], ["openai/gpt-4o", "openai/gpt-4o-mini"],
        ["1/2", "Next ▶"]]
    data = [b["callback_data"] for row in menu.reply_markup["inline_keyboard"] for b in row]
    assert all(0 < len(item.encode()) <= 64 for item in data)

    second = await tap(two, menu, "Next ▶")
    assert second.text == menu.text
    assert keyboard(second) == [
        ["— router —"], ["anthropic/claude-sonnet-4", "qwen/qwen3-235b"],
        ["mistralai/mistral-large", "google/gemini-2.5-pro"], ["x-ai/grok-4", "moonshotai/kimi-k2"],
        ["z-ai/glm-4.5"], ["◀ Back", "2/2"]]

    # A model on page 2 switches, and page 2 is drawn again with the ✓ on it.
    chosen = await tap(two, second, "x-ai/grok-4")
    assert chosen.text == "Current model: router/x-ai/grok-4\nTap a model to switch:"
    assert ["✓ x-ai/grok-4", "moonshotai/kimi-k2"] in keyboard(chosen)
    assert keyboard(chosen)[-1] == ["◀ Back", "2/2"]
    assert two.telegram.calls_for("answerCallbackQuery")[-1].params["text"] == (
        "Model: router/x-ai/grok-4")
    first = await tap(two, chosen, "◀ Back")
    assert keyboard(first)[-1] == ["1/2", "Next ▶"]
    assert ["llama3.2:latest", "qwen3:8b"] in keyboard(first)  # the ✓ is on page 2 now


async def test_a_word_filters_the_keyboard_and_an_exact_id_switches(
        two: RunningBot, router: FakeProviders) -> None:
    two.telegram.send_message(CHAT, "/model llama")
    menu = await two.wait_for_containing(CHAT, "matching")
    assert menu.text == ("Current model: llama3.2:latest\nModels matching “llama” (2): tap one "
                         "to switch:")
    assert keyboard(menu) == [["— local —"], ["✓ llama3.2:latest"], ["— router —"],
                              ["meta-llama/llama-3.3-70b-instruct"], ["1/1"]]
    chosen = await tap(two, menu, "meta-llama/llama-3.3-70b-instruct")
    assert keyboard(chosen)[-2:] == [["✓ meta-llama/llama-3.3-70b-instruct"], ["1/1"]]  # kept

    # More matches than a page: the pages keep the filter (every word must match).
    two.telegram.send_message(CHAT, "/model ROUTER /")
    many = await two.wait_for_containing(CHAT, "matching “ROUTER /” (12)")
    assert keyboard(many)[-1] == ["1/2", "Next ▶"]
    following = await tap(two, many, "Next ▶")
    assert keyboard(following)[-1] == ["◀ Back", "2/2"] and following.text == many.text
    assert sum(len(row) for row in keyboard(following)[1:-1]) == 4

    # An exact id (with spaces, any case) switches at once; a pinned one too.
    two.telegram.send_message(CHAT, "/model my model v2")
    await two.wait_for_text(CHAT, "Model switched to My Model v2.")
    two.telegram.send_message(CHAT, "/model router/DeepSeek/deepseek-r1")
    await two.wait_for_text(CHAT, "Model switched to router/deepseek/deepseek-r1.")
    router.push("openai", Reply("from the router"))
    two.telegram.send_message(CHAT, "hello")
    await two.wait_for_text(CHAT, "from the router")
    assert router.requests_for("openai")[-1].json["model"] == "deepseek/deepseek-r1"
    assert router.requests_for("openai")[-1].headers["X-Title"] == "Test bot"

    # Nothing matches: the unknown-model answer, with close matches.
    two.telegram.send_message(CHAT, "/model lama-3.2")
    answer = await two.wait_for_containing(CHAT, "Unknown model “lama-3.2”")
    assert "/models" in answer.text and answer.reply_markup is None


async def test_a_long_filter_is_cut_to_fit_the_button_data(two: RunningBot) -> None:
    words = "з" * 200  # 400 bytes of UTF-8
    two.telegram.send_message(CHAT, f"/model {words}")
    await two.wait_for_containing(CHAT, "Unknown model “")  # nothing matches: no keyboard
    two.telegram.send_message(CHAT, "/model " + "o " * 100)  # matches, and is long
    menu = await two.wait_for_containing(CHAT, "matching")
    data = [b["callback_data"] for row in menu.reply_markup["inline_keyboard"] for b in row]
    assert all(len(item.encode()) <= 64 for item in data)


async def test_models_lists_each_endpoint_and_a_failed_list(
        make_bot: Callable[..., RunningBot], router: FakeProviders, tmp_path: Path) -> None:
    path = tmp_path / "endpoints.toml"
    bot = make_bot(**NOTHING)
    path.write_text(f'[endpoints.local]\nbase_url = "{bot.providers.origin}/openai/v1"\n'
                    f'api_key = "test-key"\nmodels = ["llama3.2"]\n'
                    f'[endpoints.router]\nbase_url = "{router.origin}/openai/v1"\n'
                    f'api_key = "router-key"\n')
    bot.settings = bot.settings.model_copy(update={"endpoints_file": str(path)})
    bot.providers.push("models", Reply(body="<html>Bad gateway</html>"))
    router.models = [f"vendor/model-{n}" for n in range(50)]
    await bot.start()
    bot.telegram.send_message(CHAT, "/models")
    listing = await bot.wait_for_containing(CHAT, "router (")
    local, remote = listing.text.split("\n", 2)[:2], listing.text.split("\n")[2:]
    assert local == [
        "local (not tried yet; its model list could not be fetched (Malformed JSON in the "
        "reply), this is the last known one)", "  llama3.2"]
    assert remote[0] == "router (not tried yet)"
    assert remote[1].startswith("  vendor/model-0, vendor/model-1, ")
    assert remote[1].endswith("vendor/model-39 … and 10 more: /model WORD finds them")


async def test_a_chosen_model_that_disappears_falls_back_to_the_default(
        two: RunningBot, router: FakeProviders) -> None:
    two.telegram.send_message(CHAT, "/model deepseek/deepseek-r1")
    await two.wait_for_text(CHAT, "Model switched to deepseek/deepseek-r1.")
    router.models = [m for m in ROUTER if m != "deepseek/deepseek-r1"]
    await two.restart()  # the lists are asked again at start (and every MODELS_REFRESH s)

    two.providers.push("openai", Reply("the default answers"))
    two.telegram.send_message(CHAT, "hello")
    await two.wait_for_text(CHAT, "the default answers")
    assert two.bot_texts(CHAT)[-2] == (
        "⚠️ The model deepseek/deepseek-r1 is no longer offered, so this chat now uses "
        "llama3.2:latest. Send /model to choose another.")
    assert two.providers.requests_for("openai")[-1].json["model"] == "llama3.2:latest"
    assert not router.requests_for("openai")

    # The fallback is stored: no second notice, and /model shows it.
    two.providers.push("openai", Reply("again"))
    two.telegram.send_message(CHAT, "more")
    await two.wait_for_text(CHAT, "again")
    assert sum("no longer offered" in text for text in two.bot_texts(CHAT)) == 1
    two.telegram.send_message(CHAT, "/model")
    await two.wait_for_containing(CHAT, "Current model: llama3.2:latest\n")


async def test_first_run_with_nothing_configured_gives_advice(
        make_bot: Callable[..., RunningBot], caplog: pytest.LogCaptureFixture) -> None:
    bot = make_bot(**NOTHING)
    with caplog.at_level(logging.WARNING):
        await bot.start()
        bot.telegram.send_message(CHAT, "hello")
        advice = await bot.wait_for_containing(CHAT, "No model is configured yet")
    assert "OPENAI_API_KEY=sk-…" in advice.text and "ENDPOINTS_FILE=" in advice.text
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].name == "bot.app"
    line = warnings[0].getMessage()
    assert "\n" not in line
    for setting in ("OPENAI_API_KEY", "OPENAI_BASE_URL=https://openrouter.ai/api/v1",
                    "OPENAI_BASE_URL=http://localhost:11434/v1", "ENDPOINTS_FILE"):
        assert setting in line

    for command in ("/start", "/model", "/models", "/retry"):
        bot.telegram.send_message(CHAT, command)
    await bot.wait_bot_text(CHAT, lambda ms: len(ms) == 5)
    texts = bot.bot_texts(CHAT)
    assert texts[1].startswith("Hello, Alice!\n\n⚙️ No model is configured yet")
    assert all(text.startswith("⚙️ No model is configured yet") for text in texts[2:])
    assert not bot.providers.requests and not bot.providers.list_requests  # no dead host tried


async def test_start_names_the_current_model(two: RunningBot) -> None:
    two.telegram.send_message(CHAT, "/start", first_name="Ada")
    greeting = await two.wait_for_containing(CHAT, "Hello, Ada!")
    assert greeting.text.startswith(
        "Hello, Ada!\n\nCurrent model: llama3.2:latest (/model switches).\n\n")
