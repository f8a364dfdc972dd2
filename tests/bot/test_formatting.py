"""Markdown rendering to text + entities, and splitting at Telegram's length limit."""

from __future__ import annotations

import random
import re

import pytest
import telegramify_markdown

from bot.formatting import (
    cut_markdown,
    render,
    shorten,
    split_markdown,
    split_text,
    utf16_len,
)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def fences_balanced(markdown: str) -> bool:
    return sum(1 for line in markdown.splitlines() if line.lstrip().startswith("```")) % 2 == 0


def test_render_gives_plain_text_and_entities() -> None:
    text, entities = render("Some **bold**, _italic_ and `code`, see [docs](https://example.org).")
    assert text == "Some bold, italic and code, see docs."
    kinds = {(e.type, text[e.offset : e.offset + e.length]) for e in entities}
    assert kinds == {("bold", "bold"), ("italic", "italic"), ("code", "code"), ("text_link", "docs")}
    assert next(e for e in entities if e.type == "text_link").url == "https://example.org"


def test_code_blocks_render_as_pre_entities_with_their_language() -> None:
    text, entities = render("Run this:\n\n```python\nprint('a_b*c')\n```\n\nDone.")
    assert text == "Run this:\n\nprint('a_b*c')\n\nDone."
    (pre,) = entities
    assert (pre.type, pre.language, text[pre.offset : pre.offset + pre.length]) == ("pre", "python", "print('a_b*c')")


def test_entity_offsets_are_utf16_code_units() -> None:
    text, entities = render("😀 **bold**")
    (bold,) = entities
    assert (bold.offset, bold.length) == (3, 4)  # the emoji is 2 code units, then a space
    assert text == "😀 bold"


def test_render_strips_surrounding_whitespace_and_clips_entities() -> None:
    text, entities = render("\n\n- item one\n- item two\n\n")
    assert text == text.strip() and text.endswith("item two")
    size = utf16_len(text)
    assert all(0 <= e.offset and e.offset + e.length <= size for e in entities)
    assert render("   \n ") == ("", [])


def test_unbalanced_markup_never_fails() -> None:
    text, entities = render("unclosed **bold and `code and ```py\nx = 1")
    assert "unclosed" in text
    size = utf16_len(text)
    assert all(e.offset + e.length <= size for e in entities)


def test_a_converter_failure_falls_back_to_the_raw_text(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(markdown: str) -> tuple[str, list]:
        raise RuntimeError("converter bug")

    monkeypatch.setattr(telegramify_markdown, "convert", broken)
    assert render("  **raw** text \n") == ("**raw** text", [])


def long_reply(seed: int, size: int = 10_000) -> str:
    """Paragraphs of prose and fenced code blocks (some long), like a model's long answer."""
    rng = random.Random(seed)
    words = ["Some", "**bold**", "text", "here.", "And", "more", "words!", "`code`", "why?", "_it_"]
    blocks = []
    while sum(map(len, blocks)) < size:
        if rng.random() < 0.3:
            lines = "".join(f"x{i} = compute({i}) * 2  # step {i}\n" for i in range(rng.randint(3, 200)))
            blocks.append(f"```python\n{lines}```")
        else:
            blocks.append(" ".join(rng.choice(words) for _ in range(rng.randint(10, 150))))
    return "\n\n".join(blocks)


@pytest.mark.parametrize("seed", range(6))
def test_split_of_a_10000_character_reply_with_code_blocks(seed: int) -> None:
    markdown = long_reply(seed)
    parts = split_markdown(markdown)
    assert len(parts) >= 3
    for part in parts:
        text, _ = render(part)
        assert 0 < len(text) and utf16_len(text) <= 4096
        assert fences_balanced(part)
    # nothing lost: the parts' text is the whole text, modulo whitespace at the cuts
    assert squash("".join(render(p)[0] for p in parts)) == squash(render(markdown)[0])


def test_a_code_block_cut_across_parts_is_closed_and_reopened_with_its_language() -> None:
    code = "".join(f"line_{i} = {i}\n" for i in range(600))  # 8,780 characters of code
    markdown = f"Intro.\n\n```python\n{code}```\n\nOutro."
    parts = split_markdown(markdown)
    assert len(parts) == 3
    assert all(fences_balanced(p) for p in parts)
    assert parts[1].startswith("```python\n") and parts[2].startswith("```python\n")
    for part in parts:
        text, entities = render(part)
        (pre,) = [e for e in entities if e.type == "pre"]
        assert pre.language == "python"
        code_shown = text[pre.offset : pre.offset + pre.length]
        assert code_shown.startswith("line_") and re.fullmatch(r"line_(\d+) = \1", code_shown.splitlines()[-1])
    assert squash("".join(render(p)[0] for p in parts)) == squash(render(markdown)[0])


def test_split_prefers_a_blank_line_then_a_line_break_then_a_sentence_end() -> None:
    paragraph = "word " * 150  # 750 characters
    by_paragraph = split_markdown("\n\n".join([paragraph.strip()] * 8), limit=2000)
    assert all(render(p)[0].endswith("word") for p in by_paragraph)
    assert len(by_paragraph) == 4  # two paragraphs (1,502 characters) per part

    lines = split_markdown("\n".join(["A line of text that goes on."] * 200), limit=1000)
    assert all(render(p)[0].endswith("goes on.") for p in lines)

    sentences = split_markdown(" ".join(["One sentence ends here."] * 200), limit=1000)
    assert all(render(p)[0].endswith("here.") for p in sentences)


def test_a_text_without_spaces_is_cut_hard_at_the_limit() -> None:
    parts = split_markdown("x" * 5000, limit=2000)
    assert [len(render(p)[0]) for p in parts] == [2000, 2000, 1000]


def test_split_keeps_emoji_text_within_the_limit_in_utf16() -> None:
    parts = split_markdown("😀 " * 3000)
    assert all(utf16_len(render(p)[0]) <= 4096 for p in parts)
    assert sum(render(p)[0].count("😀") for p in parts) == 3000


def test_short_text_is_one_part_and_blank_text_is_none() -> None:
    assert split_markdown("hello **world**") == ["hello **world**"]
    assert cut_markdown("hello") is None
    assert split_markdown(" \n\n ") == []


def test_split_rejects_a_tiny_limit() -> None:
    with pytest.raises(ValueError):
        split_markdown("text", limit=10)


def test_split_text_is_for_plain_text() -> None:
    source = "**not markdown** " * 500
    parts = split_text(source, limit=1000)
    assert all(len(p) <= 1000 for p in parts)
    assert "".join(p + " " for p in parts) == source  # cut at spaces, "**" kept as typed


def test_shorten_cuts_a_caption_on_a_word_boundary() -> None:
    caption = "a sunset over the sea " * 100
    short = shorten(caption, 1024)
    assert len(short) <= 1024 and short.endswith("…")
    kept = short[:-1]
    assert caption.startswith(kept) and caption[len(kept)] == " "  # cut between two words
    assert len(kept) > 900
    assert shorten("  short caption ") == "short caption"


# ---- text the model wrote is shown, never dropped (issue 8, defect 2) ----


@pytest.mark.parametrize(
    "markdown",
    [
        "List<String>",
        "a<b and c>d",
        "line one<br>line two",
        "<br>",
        "Vec<u8>",
        "fn parse(input: &str) -> Result<Vec<u8>, Error>",
        "<div>hi</div>",
        "<!-- only a comment -->",
        '<a href="x_*y*">link</a>',
        "2*3*4",
        "a*b*c = abc",
        "2**10 is 1024",
        "__init__",
        "Edit __init__.py and check __name__ == '__main__'",
        "[note]: https://example.org",
    ],
)
def test_text_is_shown_as_typed(markdown: str) -> None:
    assert render(markdown) == (markdown, [])


def test_an_html_block_is_shown_whole_with_the_markdown_inside_it() -> None:
    markdown = "Before.\n\n<div class=\"x\">\n*not emphasis* and **not bold**\n</div>\n\nAfter."
    assert render(markdown) == (markdown, [])


def test_markdown_around_html_still_renders() -> None:
    text, entities = render("Use **`List<String>`** or a <T> in *Java*.")
    assert text == "Use List<String> or a <T> in Java."
    kinds = {(e.type, text[e.offset : e.offset + e.length]) for e in entities}
    assert kinds == {("bold", "List<String>"), ("code", "List<String>"), ("italic", "Java")}


def test_emphasis_between_spaces_stays_emphasis_and_cjk_bold_stays_bold() -> None:
    text, entities = render("**bold** and *italic*, 2 * 3 = 6")
    assert text == "bold and italic, 2 * 3 = 6"
    assert [(e.type, e.offset, e.length) for e in entities] == [("bold", 0, 4), ("italic", 9, 6)]
    text, entities = render("这是**重要**的")
    assert (text, [(e.type, e.offset, e.length) for e in entities]) == ("这是重要的", [("bold", 2, 2)])


def test_code_math_and_autolinks_are_not_escaped() -> None:
    assert render("`a<b>*c*__d__`")[0] == "a<b>*c*__d__"
    assert render("```html\n<p>2*3</p>\n```")[0] == "<p>2*3</p>"
    text, entities = render("<https://example.org/a*b*c/__x__>")
    assert text == "https://example.org/a*b*c/__x__" and entities[0].url == text


def test_a_text_that_renders_to_nothing_falls_back_to_the_raw_text() -> None:
    assert telegramify_markdown.convert("[](https://example.org)")[0] == ""  # the converter shows nothing
    assert render("  [](https://example.org)\n") == ("[](https://example.org)", [])
    assert render(" \n\t") == ("", [])  # a blank text stays blank: nothing to send
