"""Personas end to end, through the fake Bot API and the fake OpenAI-compatible server:
``/system`` sets, shows and resets a chat's (or a forum topic's) system prompt, which the next
request carries first; ``/persona`` switches with a tap (prompt and model); in a group only
administrators change it; a persona file that cannot be used stops start-up with one line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.personas import PersonasError, load_personas
from bot.settings import Settings, describe_error
from tests.bot.conftest import RunningBot
from tests.bot.test_process import start_bot, telegram_env
from tests.fakes.providers import FakeProviders, Reply
from tests.fakes.telegram import FakeTelegram

CHAT = 8101
GROUP = -1008102
MENTION = "@test_llm_bot "
MEMBER, GROUP_ADMIN = 8201, 8202
ROOT = Path(__file__).resolve().parents[2]

PERSONAS = '''
[[persona]]
name = "Pirate"
description = "Talks like a pirate"
prompt = "Answer like a pirate."

[[persona]]
name = "Reviewer with a long name, still fitting the 64 characters limit"
description = "Reviews code with a bigger model"
prompt = "You review code."
model = "gpt-4o"
'''


def personas_file(tmp_path: Path, text: str = PERSONAS) -> str:
    path = tmp_path / "personas.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def system_of(bot: RunningBot, index: int = -1) -> str | None:
    """The system prompt of the fake server's ``index``-th chat request (None: none)."""
    first = bot.provider_history(index)[0]
    return first["content"] if first["role"] == "system" else None


async def ask(bot: RunningBot, chat_id: int, text: str, answer: str, **kwargs: object) -> None:
    bot.providers.push("openai", Reply(answer))
    bot.telegram.send_message(chat_id, text, **kwargs)  # type: ignore[arg-type]
    await bot.wait_for_text(chat_id, answer)


async def test_system_sets_shows_and_resets_the_prompt(
    make_bot: Callable[..., RunningBot],
) -> None:
    bot = make_bot(system_prompt="You are the default.")
    await bot.start()
    bot.telegram.send_message(CHAT, "/system")
    await bot.wait_for_containing(CHAT, "This chat uses the default system prompt:\n\nYou are "
                                        "the default.")
    await ask(bot, CHAT, "hello", "one")
    assert system_of(bot) == "You are the default."

    bot.telegram.send_message(CHAT, "/system Answer in haiku.\nAlways.")
    await bot.wait_for_containing(CHAT, "System prompt set for this chat.")
    await ask(bot, CHAT, "and now?", "two")
    history = bot.provider_history()
    assert history[0] == {"role": "system", "content": "Answer in haiku.\nAlways."}
    assert [m["role"] for m in history] == ["system", "user", "assistant", "user"]
    bot.telegram.send_message(CHAT, "/system")
    await bot.wait_for_containing(CHAT, "This chat's system prompt:\n\nAnswer in haiku.\nAlways.")

    bot.telegram.send_message(CHAT, "/system reset")
    await bot.wait_for_containing(CHAT, "The system prompt is back to the default.")
    await ask(bot, CHAT, "again", "three")
    assert system_of(bot) == "You are the default."


async def test_a_system_prompt_over_the_limit_is_refused_and_changes_nothing(
    make_bot: Callable[..., RunningBot],
) -> None:
    bot = make_bot()  # SYSTEM_PROMPT_MAX_CHARS: 4000 by default, no default prompt
    await bot.start()
    bot.telegram.send_message(CHAT, "/system " + "x" * 5000)
    refusal = await bot.wait_for_containing(CHAT, "limit")
    assert refusal.text == (
        "This system prompt has 5,000 characters; the limit is 4,000 (SYSTEM_PROMPT_MAX_CHARS). "
        "Nothing was changed: send a shorter one."
    )
    await ask(bot, CHAT, "hello", "fine")
    assert system_of(bot) is None
    bot.telegram.send_message(CHAT, "/system " + "y" * 4000)  # exactly the limit is taken
    await bot.wait_for_containing(CHAT, "System prompt set")
    await ask(bot, CHAT, "hello again", "still fine")
    assert system_of(bot) == "y" * 4000


async def test_forum_topics_have_their_own_prompts(make_bot: Callable[..., RunningBot]) -> None:
    bot = make_bot()
    await bot.start()
    topic = {"chat_type": "supergroup", "is_forum": True, "user_id": GROUP_ADMIN,
             "message_thread_id": 11}
    bot.telegram.add_chat(GROUP, chat_type="supergroup", is_forum=True)
    bot.telegram.set_member_status(GROUP, GROUP_ADMIN, "administrator")
    bot.telegram.send_message(GROUP, "/system Speak French.", **topic)  # type: ignore[arg-type]
    await bot.wait_for_containing(GROUP, "System prompt set")
    mention = [{"type": "mention", "offset": 0, "length": 13}]
    await ask(bot, GROUP, MENTION + "hi", "bonjour", entities=mention, **topic)
    assert system_of(bot) == "Speak French."
    other = {**topic, "message_thread_id": 12}
    await ask(bot, GROUP, MENTION + "hi", "hello", entities=mention, **other)
    assert system_of(bot) is None  # the other topic keeps the default (none)


async def test_in_a_group_only_administrators_change_the_prompt(
    make_bot: Callable[..., RunningBot],
) -> None:
    bot = make_bot(admin_user_ids="8203")
    await bot.start()
    bot.telegram.add_chat(GROUP, chat_type="supergroup")
    bot.telegram.set_member_status(GROUP, GROUP_ADMIN, "administrator")
    group = {"chat_type": "supergroup"}
    bot.telegram.send_message(GROUP, "/system Be rude.", user_id=MEMBER, **group)  # type: ignore[arg-type]
    await bot.wait_for_text(GROUP, "Only this group's administrators can change its system prompt.")
    bot.telegram.send_message(GROUP, "/system", user_id=MEMBER, **group)  # type: ignore[arg-type]
    await bot.wait_for_containing(GROUP, "No system prompt is set here")  # looking is fine
    for admin, prompt in ((GROUP_ADMIN, "Be kind."), (8203, "Be brief.")):  # ADMIN_USER_IDS too
        bot.telegram.send_message(GROUP, f"/system {prompt}", user_id=admin, **group)  # type: ignore[arg-type]
        await bot.wait_bot_text(GROUP, lambda ms: (ms[-1].text or "").startswith("System prompt"))
        bot.telegram.send_message(GROUP, "/system", user_id=MEMBER, **group)  # type: ignore[arg-type]
        await bot.wait_for_containing(GROUP, f"This chat's system prompt:\n\n{prompt}")


async def test_a_tap_on_a_persona_switches_prompt_and_model(
    make_bot: Callable[..., RunningBot], tmp_path: Path,
) -> None:
    bot = make_bot(personas_file=personas_file(tmp_path), system_prompt="Default.")
    await bot.start()
    bot.telegram.send_message(CHAT, "/persona")
    menu = await bot.wait_for_containing(CHAT, "Personas:")
    assert "• Pirate — Talks like a pirate" in menu.text
    assert "In use: the default prompt." in menu.text
    buttons = [b for row in menu.reply_markup["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons][-1] == "Default prompt"
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    reviewer = next(b for b in buttons if b["text"].startswith("Reviewer"))

    bot.telegram.press_button(CHAT, menu.message_id, reviewer["callback_data"])
    await bot.wait_for_containing(CHAT, "In use: Reviewer with a long name")
    answers = bot.telegram.calls_for("answerCallbackQuery")
    assert answers[-1].params.get("text", "").endswith("model gpt-4o")
    edited = bot.telegram.bot_messages(CHAT)[-1]
    labels = [b["text"] for row in edited.reply_markup["inline_keyboard"] for b in row]
    assert labels[1].startswith("✓ Reviewer") and labels[0] == "Pirate"

    await ask(bot, CHAT, "review this", "looks fine")
    request = [r for r in bot.providers.requests_for("openai")
               if r.path.endswith("/chat/completions")][-1]
    assert request.json["model"] == "gpt-4o"
    assert request.json["messages"][0] == {"role": "system", "content": "You review code."}
    bot.telegram.send_message(CHAT, "/system")
    await bot.wait_for_containing(CHAT, "This chat uses the persona Reviewer")

    pirate = next(b for b in buttons if b["text"] == "Pirate")
    bot.telegram.press_button(CHAT, menu.message_id, pirate["callback_data"])
    await bot.wait_for_containing(CHAT, "In use: Pirate.")
    await ask(bot, CHAT, "hello", "arr")
    assert system_of(bot) == "Answer like a pirate."
    bot.telegram.press_button(CHAT, menu.message_id, "persona#default")
    await bot.wait_for_containing(CHAT, "In use: the default prompt.")
    await ask(bot, CHAT, "hello", "hi")
    assert system_of(bot) == "Default."

    bot.telegram.press_button(CHAT, menu.message_id, "persona#0123456789abcdef")  # a stale one
    await bot.telegram.wait_for(
        lambda: bot.telegram.calls_for("answerCallbackQuery")[-1].params.get("text")
        == "That persona is no longer offered.", timeout=10)


async def test_persona_taps_in_a_group_are_for_administrators(
    make_bot: Callable[..., RunningBot], tmp_path: Path,
) -> None:
    bot = make_bot(personas_file=personas_file(tmp_path))
    await bot.start()
    bot.telegram.add_chat(GROUP, chat_type="supergroup")
    bot.telegram.send_message(GROUP, "/persona", user_id=MEMBER, chat_type="supergroup")
    menu = await bot.wait_for_containing(GROUP, "Personas:")
    pirate = menu.reply_markup["inline_keyboard"][0][0]
    bot.telegram.press_button(GROUP, menu.message_id, pirate["callback_data"], user_id=MEMBER)
    await bot.telegram.wait_for(lambda: any(
        c.params.get("text") == "Only this group's administrators can change its system prompt."
        for c in bot.telegram.calls_for("answerCallbackQuery")), timeout=10)
    bot.telegram.send_message(GROUP, "/system", user_id=MEMBER, chat_type="supergroup")
    await bot.wait_for_containing(GROUP, "No system prompt is set here")  # unchanged


async def test_persona_without_a_file_says_how_to_configure(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/persona")
    await bot.wait_for_text(CHAT, "No personas are configured (PERSONAS_FILE). "
                                  "/system TEXT sets a system prompt.")


# ---- the personas file -----------------------------------------------------------------------

BAD_FILES = {
    "duplicate": (PERSONAS + '[[persona]]\nname = "pirate"\ndescription = "d"\nprompt = "p"\n',
                  "the name 'pirate' is used twice (names are compared without case)"),
    "not TOML": ('[[persona]]\nname = "a\n', "is not valid TOML: "),
    "missing prompt": ('[[persona]]\nname = "a"\ndescription = "d"\n',
                       "persona 1: 'prompt' is missing"),
    "unknown key": ('[[persona]]\nname = "a"\ndescription = "d"\nprompt = "p"\npromt = "q"\n',
                    "persona 1: unknown key 'promt'"),
    "empty name": ('[[persona]]\nname = " "\ndescription = "d"\nprompt = "p"\n',
                   "persona 1: 'name' must be a text that is not empty"),
    "no personas": ('title = "x"\n', "unknown table 'title'"),
    "long prompt": (f'[[persona]]\nname = "a"\ndescription = "d"\nprompt = "{"p" * 4001}"\n',
                    "persona 'a': the prompt has 4001 characters, more than "
                    "SYSTEM_PROMPT_MAX_CHARS (4000)"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_personas_file_is_one_line_naming_the_file(tmp_path: Path, case: str) -> None:
    text, problem = BAD_FILES[case]
    path = personas_file(tmp_path, text)
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None, telegram_bot_token="1:a", personas_file=path)  # type: ignore[call-arg]
    line = describe_error(raised.value)
    assert line.startswith(f"Configuration error: PERSONAS_FILE {path}: ")
    assert problem in line and "\n" not in line


def test_a_missing_personas_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PersonasError, match=r"nowhere\.toml: cannot be read \(No such file"):
        load_personas(tmp_path / "nowhere.toml", 4000)


def test_the_example_personas_file_loads() -> None:
    personas = load_personas(ROOT / "personas.example.toml", 4000)
    assert [p.name for p in personas.items] == ["Assistant", "Translator", "Reviewer"]
    assert personas.get("reviewer") is not None and personas.get("reviewer").model == "gpt-4o"  # type: ignore[union-attr]


async def test_start_up_stops_on_a_duplicate_persona(
    tmp_path: Path, telegram: FakeTelegram, fake_providers: FakeProviders,
) -> None:
    path = personas_file(tmp_path, BAD_FILES["duplicate"][0])
    process = await start_bot(tmp_path, telegram_env(tmp_path, telegram, fake_providers,
                                                PERSONAS_FILE=path))
    _out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert err.decode().strip().splitlines() == [
        f"Configuration error: PERSONAS_FILE {path}: the name 'pirate' is used twice "
        "(names are compared without case)"
    ]
    assert telegram.calls_for("getMe") == []  # stopped before talking to Telegram
