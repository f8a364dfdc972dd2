"""The draft's text: the whole of it, and windows from the current message's start."""

from __future__ import annotations

from bot.draft_text import DraftText


def test_windows_and_freezing_across_chunk_boundaries() -> None:
    draft = DraftText()
    for chunk in ["Hello", ", ", "wor", "ld", "! And more."]:
        draft.append(chunk)
    assert (draft.size, draft.whole) == (23, "Hello, world! And more.")
    assert draft.peek(9) == "Hello, wo" and draft.peek(100) == draft.whole
    draft.freeze(8)  # inside the third chunk
    assert (draft.base, draft.peek(5), draft.peek(100)) == (8, "orld!", "orld! And more.")
    draft.freeze(10)  # exactly at a chunk's end
    assert draft.peek(3) == "ld!"
    draft.append(" End.")
    assert draft.peek(100) == "ld! And more. End." and draft.whole.endswith("more. End.")
    draft.freeze(draft.size)
    assert draft.peek(10) == "" and draft.whole == "Hello, world! And more. End."
