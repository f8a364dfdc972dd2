"""The audio API's text side: what ``/audio/speech`` is given (at most 4,096 characters, cut
at a sentence end)."""

from __future__ import annotations

from providers.audio import SPEECH_MAX_CHARS, speech_input


def test_a_short_text_is_spoken_whole() -> None:
    assert speech_input("  Hello. How are you?  ") == "Hello. How are you?"


def test_a_long_text_is_cut_after_the_last_sentence_that_fits() -> None:
    sentence = "This sentence has exactly fifty characters in it. "
    text = sentence * 100  # 5,000 characters
    spoken = speech_input(text)
    assert len(spoken) <= SPEECH_MAX_CHARS
    assert spoken == (sentence * 81).strip()  # 81 * 50 = 4,050; the 82nd would pass 4,096
    assert spoken.endswith("in it.")


def test_without_a_sentence_end_the_cut_is_at_a_space_or_the_limit() -> None:
    words = "word " * 1000
    assert speech_input(words) == ("word " * 819).strip()  # 4,095 characters then a space
    assert speech_input("x" * 5000) == "x" * SPEECH_MAX_CHARS


def test_other_sentence_ends_count_too() -> None:
    text = "Wow! " + "a" * 4200
    assert speech_input(text) == "Wow!"
    assert speech_input("Really? " + "b" * 4200) == "Really?"
