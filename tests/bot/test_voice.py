"""End to end: voice notes, audio files and video notes are transcribed, shown and answered;
``/voice`` adds spoken replies; each fault of the audio endpoints gets one clear line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.inputs.turn import VOICE_OFF
from bot.storage import Store
from tests.bot.conftest import RunningBot
from tests.bot.test_files import stored_history
from tests.fakes.providers import DEFAULT_SPEECH, Reply

CHAT = 7001
VOICE = b"OggS\x00\x02voice-note-bytes"


async def test_a_voice_note_is_transcribed_shown_answered_and_kept(bot: RunningBot) -> None:
    bot.providers.push("transcription", Reply("What is the weather like on Mars?"))
    bot.providers.push("openai", Reply("Cold and dusty."), Reply("About -60 °C."))
    bot.telegram.send_file(CHAT, "voice", VOICE, duration=4)
    await bot.wait_for_text(CHAT, "Cold and dusty.")

    [heard, answer] = bot.telegram.bot_messages(CHAT)
    assert heard.text == "🎤 “What is the weather like on Mars?”"
    assert heard.message_id < answer.message_id  # what was heard comes first
    [request] = bot.providers.requests_for("transcription")
    assert request.body == VOICE and request.json["model"] == "whisper-1"
    assert request.json["file"]["filename"] == "voice.ogg"
    assert request.headers["Authorization"] == "Bearer test-key"  # OPENAI_API_KEY by default
    assert bot.provider_history() == [
        {"role": "user", "content": "What is the weather like on Mars?"}
    ]

    bot.telegram.send_message(CHAT, "And at night?")
    await bot.wait_for_text(CHAT, "About -60 °C.")
    assert bot.provider_history() == [
        {"role": "user", "content": "What is the weather like on Mars?"},
        {"role": "assistant", "content": "Cold and dusty."},
        {"role": "user", "content": "And at night?"},
    ]
    store = await Store.open(bot.settings.database_url, migrate=False)
    try:
        first = (await store.history(CHAT))[0]
    finally:
        await store.close()
    voice_id = bot.telegram.messages(CHAT)[0].file_id
    assert first.attachments == [{"kind": "voice", "file_id": voice_id}]


@pytest.mark.parametrize(("kind", "file_name"), [("audio", "file.mp3"), ("video_note", "voice.mp4")])
async def test_audio_files_and_video_notes_are_transcribed_too(
    bot: RunningBot, kind: str, file_name: str
) -> None:
    bot.providers.push("transcription", Reply("Play it again."))
    bot.providers.push("openai", Reply("Again."))
    bot.telegram.send_file(CHAT, kind, b"\x00\x00\x00\x18ftypmp42 media", duration=3)
    await bot.wait_for_text(CHAT, "Again.")
    assert bot.providers.requests_for("transcription")[0].json["file"]["filename"] == file_name


@pytest.mark.parametrize(
    ("reply", "shown"),
    [
        (Reply("Incorrect API key", status=401), "the provider rejected the key (HTTP 401)"),
        (Reply("model overloaded", status=500), "the provider is down (HTTP 500)"),
        (Reply("late", hang=5), "did not start answering within 1 s"),
    ],
    ids=["401", "500", "timeout"],
)
async def test_a_failing_transcription_server_gets_a_clear_answer_and_a_failed_turn(
    make_bot: Callable[..., RunningBot], reply: Reply, shown: str
) -> None:
    bot = make_bot(provider_timeout=1.0)
    await bot.start()
    bot.providers.push("transcription", reply)
    bot.telegram.send_file(CHAT, "voice", VOICE)
    message = await bot.wait_for_containing(CHAT, "I couldn't understand the recording")

    assert shown in (message.text or "") and not bot.providers.requests_for("openai")
    assert "Incorrect API key" not in (message.text or "")  # the server's words go to the log
    assert "model overloaded" not in (message.text or "")
    history = await stored_history(bot, CHAT, count=2)
    assert history == [("user", "[voice message]", "complete"), ("assistant", "", "failed")]
    bot.providers.push("openai", Reply("Still listening."))
    bot.telegram.send_message(CHAT, "hello?")
    await bot.wait_for_text(CHAT, "Still listening.")  # the chat keeps working


async def test_nothing_heard_gets_a_clear_answer(bot: RunningBot) -> None:
    bot.providers.push("transcription", Reply("  "))
    bot.telegram.send_file(CHAT, "voice", VOICE)
    await bot.wait_for_containing(CHAT, "I heard nothing in that recording")
    assert not bot.providers.requests_for("openai")


async def test_a_voice_message_over_the_limit_is_refused_without_a_download(
    make_bot: Callable[..., RunningBot],
) -> None:
    bot = make_bot(voice_max_seconds=60)
    await bot.start()
    bot.telegram.send_file(CHAT, "voice", VOICE, duration=61)
    message = await bot.wait_for_containing(CHAT, "That recording is 61 s long")
    assert "up to 60 s" in (message.text or "")
    assert not bot.telegram.calls_for("getFile") and not bot.providers.requests


async def test_a_25_mb_voice_note_is_refused_without_a_download(bot: RunningBot) -> None:
    bot.telegram.send_file(CHAT, "voice", VOICE, file_size=25 * 1024 * 1024)
    await bot.wait_for_containing(CHAT, "That file is 25.0 MB")
    assert not bot.telegram.calls_for("getFile") and not bot.providers.requests


async def test_without_a_transcription_model_voice_is_off(
    make_bot: Callable[..., RunningBot],
) -> None:
    bot = make_bot(transcription_model="")
    await bot.start()
    bot.telegram.send_file(CHAT, "voice", VOICE)
    await bot.wait_for_text(CHAT, f"⚠️ {VOICE_OFF}")
    assert not bot.telegram.calls_for("getFile") and not bot.providers.requests


async def test_voice_on_sends_the_reply_as_a_voice_message_too(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/voice")
    await bot.wait_for_containing(CHAT, "Spoken replies are on")
    bot.providers.push("openai", Reply("Hello there. Nice to hear you."))
    bot.telegram.send_message(CHAT, "Say hello")
    await bot.wait_bot_text(CHAT, lambda ms: any(m.kind == "voice" for m in ms))

    voice = next(m for m in bot.telegram.bot_messages(CHAT) if m.kind == "voice")
    text = next(m for m in bot.telegram.bot_messages(CHAT) if m.text == "Hello there. Nice to hear you.")
    assert voice.file_id is not None and bot.telegram.file_data(voice.file_id) == DEFAULT_SPEECH
    assert text.message_id < voice.message_id  # the text first, then its voice
    [speech] = bot.providers.requests_for("speech")
    assert speech.json == {"model": "tts-1", "input": "Hello there. Nice to hear you.",
                           "voice": "alloy", "response_format": "opus"}

    bot.telegram.send_message(CHAT, "/voice")
    await bot.wait_for_containing(CHAT, "Spoken replies are off")
    bot.providers.push("openai", Reply("Quietly."))
    bot.telegram.send_message(CHAT, "and now?")
    await bot.wait_for_text(CHAT, "Quietly.")
    assert len(bot.providers.requests_for("speech")) == 1


async def test_a_failing_tts_server_leaves_the_text_and_says_so(bot: RunningBot) -> None:
    bot.telegram.send_message(CHAT, "/voice on")
    await bot.wait_for_containing(CHAT, "Spoken replies are on")
    bot.providers.push("speech", Reply("tts is down", status=503))
    bot.providers.push("openai", Reply("Written anyway."))
    bot.telegram.send_message(CHAT, "Talk to me")
    notice = await bot.wait_for_containing(CHAT, "I couldn't read the reply aloud")

    assert notice.text == "⚠️ I couldn't read the reply aloud: the provider is down (HTTP 503)"
    assert "Written anyway." in bot.bot_texts(CHAT)
    assert not [m for m in bot.telegram.bot_messages(CHAT) if m.kind == "voice"]
    history = await stored_history(bot, CHAT, count=2)
    assert history[-1] == ("assistant", "Written anyway.", "complete")
