"""The catalogs and the translation functions, without Telegram: Russian plural forms, the
fallback for a language the bot does not speak, the extraction command, and the check that a
catalog is complete (each kind of defect it must catch)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot import catalogs
from bot.i18n import (
    _,
    available_languages,
    language_name,
    ngettext,
    number,
    supported,
    translations,
    using_language,
)
from bot.settings import Settings
from providers.errors import AllProvidersFailedError, ProviderError
from providers.limits import too_large
from providers.status import error_for_status

ROOT = Path(__file__).resolve().parents[2]
RU_CATALOG = "bot/locales/ru/LC_MESSAGES/bot.po"


def forget_notice(count: int) -> str:
    return ngettext(
        "Deleted everything stored for this chat ({n} message).",
        "Deleted everything stored for this chat ({n} messages).",
        count,
    )


@pytest.mark.parametrize(("count", "word"), [
    (1, "сообщение"), (2, "сообщения"), (5, "сообщений"),
    (21, "сообщение"), (11, "сообщений"), (14, "сообщений"), (0, "сообщений"), (104, "сообщения"),
])
def test_russian_has_three_plural_forms_from_the_catalogs_rule(count: int, word: str) -> None:
    with using_language("ru"):
        assert forget_notice(count) == (
            f"Удалено всё, что было сохранено для этого чата ({count} {word})."
        )


@pytest.mark.parametrize(("count", "word"), [(1, "message"), (2, "messages"), (5, "messages")])
def test_english_plural_forms(count: int, word: str) -> None:
    with using_language("en"):
        assert forget_notice(count) == f"Deleted everything stored for this chat ({count} {word})."


def test_placeholders_are_filled_in_the_translation() -> None:
    with using_language("ru"):
        assert _("Model switched to {model}.", model="gpt-4o") == "Модель переключена на gpt-4o."
    assert _("Model switched to {model}.", model="gpt-4o") == "Model switched to gpt-4o."


def test_a_language_without_a_catalog_or_a_message_without_a_translation_is_english() -> None:
    with using_language("xx"):
        assert _("Model switched to {model}.", model="m") == "Model switched to m."
    with using_language("ru"):
        assert _("A message no catalog has") == "A message no catalog has"


@pytest.mark.parametrize(("code", "expected"), [
    ("ru", "ru"), ("RU", "ru"), ("ru-RU", "ru"), ("ru_UA", "ru"), ("en-GB", "en"),
    ("pt-br", None), ("xx", None), ("", None), (None, None),
])
def test_a_telegram_language_code_counts_by_its_primary_subtag(
        code: str | None, expected: str | None) -> None:
    assert supported(code) == expected


def test_languages_and_their_own_names() -> None:
    assert available_languages() == ("en", "ru")
    assert [language_name(code) for code in available_languages()] == ["English", "Русский"]


def test_default_language_must_be_one_the_bot_speaks() -> None:
    settings = Settings(_env_file=None, telegram_bot_token="1:A", default_language="RU")  # type: ignore[call-arg]
    assert settings.default_language == "ru"
    with pytest.raises(ValueError, match="DEFAULT_LANGUAGE|default_language") as raised:
        Settings(_env_file=None, telegram_bot_token="1:A", default_language="de")  # type: ignore[call-arg]
    assert "must be one of en, ru" in str(raised.value)


def test_provider_errors_are_english_by_default_and_translated_for_the_user() -> None:
    """The CLI and the stored error keep English; the bot shows the user's language."""
    down = error_for_status(503, "oops")
    down.provider = "OpenAI"
    assert down.user_text() == "OpenAI: the provider is down (HTTP 503)"
    with using_language("ru"):
        assert down.user_text(_) == "OpenAI: провайдер не работает (HTTP 503)"
        large = too_large("image", 5)
        assert large.message == "The image is larger than 5 bytes"
        assert large.translated(_) == "Слишком большой объём (изображение): больше 5 байт"


def test_all_providers_failed_translates_each_providers_message() -> None:
    class Route:
        def __init__(self, name: str) -> None:
            self.provider = type(name, (), {})

    errors = [(Route("Ylokh"), error_for_status(500, "")),
              (Route("AiAsk"), ProviderError("Rate limit reached"))]
    error = AllProvidersFailedError(errors)  # type: ignore[arg-type]
    assert error.message == (
        "All providers failed: Ylokh: the provider is down (HTTP 500); AiAsk: Rate limit reached"
    )
    with using_language("ru"):
        assert error.user_text(_) == (
            "Ни один провайдер не ответил: Ylokh: провайдер не работает (HTTP 500); "
            "AiAsk: Превышен лимит запросов"
        )


# ---- the catalogs --------------------------------------------------------------------------


def test_the_catalogs_are_complete() -> None:
    """Every message of bot/ and providers/ is in the template and translated in every catalog,
    none is obsolete, empty or fuzzy, and each translation has its msgid's placeholders."""
    assert catalogs.problems() == []


def test_the_catalogs_are_read_as_shipped_without_compiling() -> None:
    assert not list((ROOT / "bot" / "locales").rglob("*.mo"))
    assert translations("ru").gettext("Hello!") == "Здравствуйте!"


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A copy of the source and catalogs to break."""
    for part in ("bot", "providers"):
        shutil.copytree(ROOT / part, tmp_path / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "babel.cfg", tmp_path / "babel.cfg")
    assert catalogs.problems(tmp_path) == []
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_check_finds_a_message_the_catalogs_miss(scratch: Path) -> None:
    edit(scratch / "bot/handlers.py", '_("Started a new conversation.")',
         '_("Started a brand new conversation.")')
    found = catalogs.problems(scratch)
    assert "ru: missing 'Started a brand new conversation.' (run python -m bot.catalogs update)" in found
    assert "template: 'Started a new conversation.' is no longer in the code" in found
    assert "ru: 'Started a new conversation.' is no longer in the code" in found


def test_the_check_finds_an_empty_translation(scratch: Path) -> None:
    edit(scratch / RU_CATALOG, 'msgstr "Начат новый разговор."', 'msgstr ""')
    assert catalogs.problems(scratch) == ["ru: 'Started a new conversation.' has an empty translation"]


def test_the_check_finds_a_placeholder_that_differs(scratch: Path) -> None:
    edit(scratch / RU_CATALOG, 'msgstr "Модель переключена на {model}."',
         'msgstr "Модель переключена на {модель}."')
    assert catalogs.problems(scratch) == [
        "ru: 'Model switched to {model}.': placeholders ['модель'] in 'Модель переключена на "
        "{модель}.', the msgid has ['model']"
    ]


def test_the_check_finds_a_missing_plural_form_and_an_obsolete_entry(scratch: Path) -> None:
    edit(scratch / RU_CATALOG, 'msgstr[2] "Удалено всё, что было сохранено для этого чата ({n} сообщений)."\n', "")
    with (scratch / RU_CATALOG).open("a") as file:
        file.write('\n#~ msgid "Gone"\n#~ msgstr "Ушло"\n')
    found = catalogs.problems(scratch)
    assert "ru: obsolete entry 'Gone'" in found
    assert any("has an empty translation" in line and "Deleted everything" in line
               for line in found), found


def test_the_update_command_adds_new_messages_and_drops_old_ones(scratch: Path) -> None:
    edit(scratch / "bot/handlers.py", '_("Started a new conversation.")',
         '_("Started conversation number {number}.", number=2)')
    catalogs.update(scratch)
    template = (scratch / "bot/locales/bot.pot").read_text()
    russian = (scratch / RU_CATALOG).read_text()
    assert 'msgid "Started conversation number {number}."' in template
    assert 'msgid "Started conversation number {number}."\nmsgstr ""' in russian
    assert "Started a new conversation." not in template + russian  # dropped, not obsolete
    assert catalogs.problems(scratch) == [
        "ru: 'Started conversation number {number}.' has an empty translation"
    ]
    edit(scratch / RU_CATALOG, 'msgid "Started conversation number {number}."\nmsgstr ""',
         'msgid "Started conversation number {number}."\nmsgstr "Начат разговор номер {number}."')
    assert catalogs.problems(scratch) == []


def test_fill_copies_translations_of_other_po_files_into_empty_entries(scratch: Path) -> None:
    edit(scratch / "bot/handlers.py", '_("Started a new conversation.")',
         'ngettext("Started {n} conversation.", "Started {n} conversations.", 2)')
    edit(scratch / "bot/handlers.py", '_("Nothing is being written right now.")',
         '_("Nothing is written now.")')
    catalogs.update(scratch)
    donor = scratch / "ru-branch.po"
    donor.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Started {n} conversation."\nmsgid_plural "Started {n} conversations."\n'
        'msgstr[0] "Начат {n} разговор."\nmsgstr[1] "Начато {n} разговора."\n'
        'msgstr[2] "Начато {n} разговоров."\n\n'
        'msgid "Model switched to {model}."\nmsgstr "Другой перевод {model}."\n'
    )
    assert catalogs.fill("ru", [donor], scratch) == 1
    assert catalogs.problems(scratch) == ["ru: 'Nothing is written now.' has an empty translation"]
    text = (scratch / RU_CATALOG).read_text()
    assert 'msgstr[2] "Начато {n} разговоров."' in text
    assert 'msgstr "Модель переключена на {model}."' in text  # a translated entry is kept


def test_init_starts_a_language_with_its_plural_rule(scratch: Path) -> None:
    path = catalogs.init("uk", scratch)
    text = path.read_text()
    assert path == scratch / "bot/locales/uk/LC_MESSAGES/bot.po"
    assert "nplurals=3;" in text and 'msgid "Started a new conversation."' in text
    assert any(line.startswith("uk: 'Started a new conversation.' has an empty") for line in
               catalogs.problems(scratch))
    with pytest.raises(FileExistsError):
        catalogs.init("uk", scratch)


def test_the_check_command_exits_0_on_the_shipped_catalogs() -> None:
    done = subprocess.run([sys.executable, "-m", "bot.catalogs", "check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "the catalogs are complete")


def test_numbers_are_written_the_languages_way() -> None:
    with using_language("en"):
        assert (number(12345), number(0.0003, decimals=4)) == ("12,345", "0.0003")
    with using_language("ru"):  # CLDR: a no-break space groups thousands, a comma is the point
        assert (number(12345), number(0.0003, decimals=4)) == ("12\xa0345", "0,0003")
