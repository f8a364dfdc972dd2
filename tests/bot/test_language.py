"""End to end: the bot speaks its user's language (through the fake Bot API).

The same conversation with ``language_code`` en, ru and one the bot does not speak (English,
DEFAULT_LANGUAGE); the command menu per language; ``/language`` switching with a tap, stored
for the chat across restarts; the restart notice in the chat's chosen language. Model output is
never translated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.handlers import COMMANDS
from bot.language import ChatLanguages
from bot.storage import Store
from tests.bot.conftest import RunningBot
from tests.fakes.provider_faults import crash
from tests.fakes.providers import Reply

CHAT = 6101

HELP_RU = (
    "Я отвечаю с помощью большой языковой модели и помню наш разговор.\n\n"
    "Просто напишите мне или отправьте голосовое сообщение, фото (несколько — альбомом) или "
    "документ (текстовые файлы, код, CSV, JSON, PDF), а вопрос напишите в подписи. В группах "
    "упомяните меня или ответьте на моё сообщение.\n"
    "/model — показать или сменить модель (/model dalle рисует картинки)\n"
    "/models — все провайдеры и их модели\n"
    "/new — начать новый разговор\n"
    "/retry — ответить на ваше последнее сообщение заново\n"
    "/stop — остановить ответ, который пишется, и сообщения, которые ждут ответа\n"
    "/forget — удалить всё, что сохранено для этого чата\n"
    "/voice — включить или выключить голосовые ответы\n"
    "/system — показать или задать системный промпт этого чата (/system reset — вернуть промпт по "
    "умолчанию)\n"
    "/persona — выбрать персону\n"
    "/usage — сколько токенов израсходовано сегодня и в этом месяце\n"
    "/reasoning — показывать ли рассуждения модели над её ответами\n"
    "/language — выбрать язык, на котором я пишу"
)

#: What the bot writes in the conversation below, by language; None: the model's own reply.
CONVERSATION = {
    "en": [
        "Hello, Ada!",
        "Model switched to gpt-4o-mini.",
        None,
        "⚠️ gpt-4o-mini failed: OpenAI: the provider is down (HTTP 500)\n"
        "Send /retry to try again, or /model to pick another model.",
        "Deleted everything stored for this chat (4 messages).",
    ],
    "ru": [
        "Здравствуйте, Ada!",
        "Модель переключена на gpt-4o-mini.",
        None,
        "⚠️ Модель gpt-4o-mini не ответила: OpenAI: провайдер не работает (HTTP 500)\n"
        "Отправьте /retry, чтобы попробовать ещё раз, или выберите другую модель через /model.",
        "Удалено всё, что было сохранено для этого чата (4 сообщения).",
    ],
}


async def converse(bot: RunningBot, language_code: str | None) -> list[str]:
    """/start, /model gpt-4o-mini, a question, a question the provider fails, /forget: the texts."""
    def say(text: str) -> None:
        bot.telegram.send_message(CHAT, text, first_name="Ada", language_code=language_code)

    say("/start")
    await bot.wait_bot_text(CHAT, lambda ms: len(ms) == 1)
    say("/model gpt-4o-mini")
    await bot.wait_bot_text(CHAT, lambda ms: len(ms) == 2)
    bot.providers.push("openai", Reply("The answer is 42."))
    say("What is the answer?")
    await bot.wait_for_text(CHAT, "The answer is 42.")
    bot.providers.push("openai", crash())
    say("And the question?")
    await bot.wait_bot_text(CHAT, lambda ms: len(ms) == 4 and "⚠️" in (ms[-1].text or ""))
    say("/forget")
    await bot.wait_bot_text(CHAT, lambda ms: len(ms) == 5)
    return bot.bot_texts(CHAT)


@pytest.mark.parametrize(("language_code", "expected"), [
    ("en", "en"), ("ru", "ru"), ("ru-RU", "ru"), ("de", "en"), (None, "en"),
])
async def test_the_same_conversation_in_the_users_language(
        bot: RunningBot, language_code: str | None, expected: str) -> None:
    texts = await converse(bot, language_code)
    wanted = CONVERSATION[expected]
    assert texts[0].startswith(wanted[0] + "\n\n")  # then the help
    assert texts[1:] == ["The answer is 42." if w is None else w for w in wanted[1:]]
    if expected == "ru":
        assert texts[0] == (
            f"Здравствуйте, Ada!\n\nТекущая модель: gpt-4o-mini (сменить — /model).\n\n{HELP_RU}"
        )
        print(f"\nRussian /start (help):\n{texts[0]}\nRussian error notice:\n{texts[3]}")


async def test_an_unknown_language_falls_back_to_default_language(
        make_bot: Callable[..., RunningBot]) -> None:
    bot = make_bot(default_language="ru")
    await bot.start()
    texts = await converse(bot, "de")
    assert texts[1:] == ["The answer is 42." if w is None else w for w in CONVERSATION["ru"][1:]]
    bot.telegram.send_message(CHAT + 1, "/help", language_code="en")  # a language it speaks
    await bot.wait_bot_text(CHAT + 1, lambda ms: len(ms) == 1)
    assert bot.bot_texts(CHAT + 1)[0].startswith("I answer with a large language model")


async def test_help_in_russian_as_telegram_receives_it(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/help", language_code="ru")
    await bot.wait_bot_text(CHAT, lambda ms: len(ms) == 1)
    sent = bot.telegram.calls_for("sendMessage", chat_id=CHAT)[-1].params
    assert sent["text"] == HELP_RU
    print(f"\nsendMessage text of /help in Russian:\n{sent['text']}")


async def menus_set(bot: RunningBot) -> None:
    """Wait for the start-up's menus: one per language and the default (the bot starts polling
    after the last; RunningBot.start returns after the first)."""
    await bot.telegram.wait_for(lambda: len(bot.telegram.calls_for("setMyCommands")) == 3)


async def test_the_command_menu_is_registered_in_each_language(bot: RunningBot) -> None:
    await menus_set(bot)
    english, russian = bot.telegram.commands("en"), bot.telegram.commands("ru")
    names = [command.command for command in COMMANDS]
    assert [c["command"] for c in english] == names == [c["command"] for c in russian]
    assert english[0] == {"command": "start", "description": "Start talking to the bot"}
    assert russian[0] == {"command": "start", "description": "Начать разговор с ботом"}
    assert {"command": "language", "description": "Выбрать язык бота"} in russian
    assert bot.telegram.commands(None) == english  # the default: DEFAULT_LANGUAGE, en
    assert bot.telegram.commands("de") == []  # Telegram shows such users the default


async def test_the_default_command_menu_is_in_default_language(
        make_bot: Callable[..., RunningBot]) -> None:
    bot = make_bot(default_language="ru")
    await bot.start()
    await menus_set(bot)
    assert bot.telegram.commands(None) == bot.telegram.commands("ru")
    assert bot.telegram.commands("en")[1] == {"command": "help", "description": "What the bot can do"}


async def test_language_is_switched_with_a_tap_and_kept_for_the_chat(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/language", language_code="en")
    menu = await bot.wait_for_text(CHAT, "Choose the language I write in here:")
    buttons = [b for row in menu.reply_markup["inline_keyboard"] for b in row]
    assert [(b["text"], b["callback_data"]) for b in buttons] == [
        ("English", "lang:en"), ("Русский", "lang:ru"), ("✓ Your Telegram's language", "lang:auto"),
    ]

    bot.telegram.press_button(CHAT, menu.message_id, "lang:ru")
    edited = await bot.wait_for_text(CHAT, "Выберите язык, на котором я пишу в этом чате:")
    assert edited.message_id == menu.message_id  # the menu itself now speaks Russian
    labels = [b["text"] for row in edited.reply_markup["inline_keyboard"] for b in row]
    assert labels == ["English", "✓ Русский", "Язык вашего Telegram"]
    answer = bot.telegram.calls_for("answerCallbackQuery")[-1].params
    assert answer["text"] == "Язык: Русский"

    # The user's Telegram is in English, but the chat chose Russian; it survives a restart.
    await bot.restart()
    bot.telegram.send_message(CHAT, "/new", language_code="en")
    await bot.wait_for_text(CHAT, "Начат новый разговор.")

    # "Your Telegram's language" removes the choice: English again.
    bot.telegram.press_button(CHAT, menu.message_id, "lang:auto")
    await bot.wait_for_text(CHAT, "Choose the language I write in here:")
    assert bot.telegram.calls_for("answerCallbackQuery")[-1].params["text"] == "Language: English"
    bot.telegram.send_message(CHAT, "/new", language_code="en")
    await bot.wait_for_text(CHAT, "Started a new conversation.")


async def test_language_with_an_argument_and_a_language_it_does_not_speak(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/language de")
    await bot.wait_for_text(CHAT, "I don't speak “de”. I speak: en, ru.")
    bot.telegram.send_message(CHAT, "/language ru")
    await bot.wait_for_text(CHAT, "Теперь в этом чате я пишу на языке: Русский.")
    bot.telegram.send_message(CHAT, "/stop")  # answered at once, outside the chat's queue
    await bot.wait_for_text(CHAT, "Сейчас ничего не пишется.")


async def test_in_a_group_only_administrators_change_the_language(bot: RunningBot) -> None:
    group, member = -6201, 6202
    bot.telegram.send_message(group, "/language@test_llm_bot", user_id=member,
                              chat_type="supergroup", language_code="ru")
    menu = await bot.wait_bot_text(group, lambda ms: len(ms) == 1)
    bot.telegram.press_button(group, menu[0].message_id, "lang:en", user_id=member)
    await bot.telegram.wait_for(
        lambda: any(c.params.get("show_alert") for c in bot.telegram.calls_for("answerCallbackQuery"))
    )
    answer = bot.telegram.calls_for("answerCallbackQuery")[-1].params
    assert answer["text"] == "Сменить язык этой группы могут только её администраторы."
    bot.telegram.set_member_status(group, member, "administrator")
    bot.telegram.press_button(group, menu[0].message_id, "lang:en", user_id=member)
    await bot.wait_for_text(group, "Choose the language I write in here:")


async def test_the_restart_notice_is_in_the_chats_chosen_language(
        make_bot: Callable[..., RunningBot], database: Path) -> None:
    database.parent.mkdir(parents=True, exist_ok=True)
    store = await Store.open(f"sqlite+aiosqlite:///{database}")
    try:
        for chat in (CHAT, CHAT + 1):  # replies being written when the bot stopped
            await store.record_turn(chat, user_message="hi", model="gpt-4o-mini")
        await store.update_settings(CHAT, language="ru")
    finally:
        await store.close()
    bot = make_bot()
    bot.telegram.add_chat(CHAT)
    bot.telegram.add_chat(CHAT + 1)
    await bot.start()
    await bot.wait_for_text(
        CHAT, "⚠️ Мой предыдущий ответ прервался из-за перезапуска. Отправьте /retry, чтобы "
        "получить его снова.")
    await bot.wait_for_text(
        CHAT + 1, "⚠️ My previous reply was interrupted by a restart. Send /retry to get it again.")


async def test_forget_deletes_the_chats_language_choice(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/language ru", language_code="en")
    await bot.wait_for_text(CHAT, "Теперь в этом чате я пишу на языке: Русский.")
    bot.telegram.send_message(CHAT, "/forget", language_code="en")
    await bot.wait_for_text(CHAT, "Удалено всё, что было сохранено для этого чата (0 сообщений).")
    bot.telegram.send_message(CHAT, "/new", language_code="en")  # the user's language again
    await bot.wait_for_text(CHAT, "Started a new conversation.")


async def test_models_lists_a_providers_failure_in_the_users_language(bot: RunningBot) -> None:
    bot.providers.push("openai", crash())
    bot.telegram.send_message(CHAT, "hello", language_code="ru")
    await bot.wait_for_containing(CHAT, "не ответила")
    bot.telegram.send_message(CHAT, "/models", language_code="ru")
    listing = await bot.wait_for_containing(CHAT, "OpenAI (")
    assert "OpenAI (в прошлый раз не ответил: провайдер не работает (HTTP 500))" in (listing.text or "")
    assert "(ещё не использовался)" in (listing.text or "")


async def test_polling_loads_every_choice_once_and_a_worker_reads_again_after_the_ttl(
    tmp_path: Path,
) -> None:
    """Polling is the only writer of the choices: all are read at start, none per update.
    A worker keeps a chat's CHOICE_TTL seconds, so a choice made through another worker shows."""
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        await store.update_settings(4, language="ru")
        await store.update_settings(6, language="xx")  # a language the bot no longer speaks
        polling, worker = ChatLanguages(store), ChatLanguages(store, ttl=0.2)
        await polling.load()
        assert [await polling.choice(c) for c in (4, 5, 6)] == ["ru", None, None]
        assert await worker.choice(5) is None
        await store.update_settings(5, language="ru")  # through another process
        assert await polling.choice(5) is None and await worker.choice(5) is None  # kept
        await asyncio.sleep(0.3)
        assert await worker.choice(5) == "ru"
        assert await polling.choice(5) is None  # never read again: only its own changes count
        await polling.choose(5, "private", "en")
        polling.forget(4)
        polling.moved(5, -1005)  # the group became a supergroup
        assert [await polling.choice(c) for c in (4, 5, -1005)] == [None, None, "en"]
    finally:
        await store.close()
