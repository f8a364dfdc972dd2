"""How a reply shows the model's reasoning: a "Thinking…" line while only reasoning has come,
and, when the chat wants it (``/reasoning``), the reasoning above the answer in a collapsed
expandable blockquote (Bot API MessageEntity ``expandable_blockquote``).

The reasoning is shown as plain text (what the model thought, not formatted), headed by how
long the model thought. It goes in the reply's first message only. Telegram's 4,096-character
limit keeps the answer whole: the first message leaves room for at most
:data:`REASONING_ROOM` characters of reasoning (its answer part is cut that much shorter when
the answer is long, the rest going on in the next messages as usual), and the reasoning is
trimmed to the room the answer leaves, keeping its end (the conclusion) after an ellipsis.
"""

from __future__ import annotations

from telegram import MessageEntity
from telegram.constants import MessageEntityType

from bot.formatting import moved, tail, utf16_len
from bot.i18n import _, ngettext

__all__ = ["REASONING_ROOM", "Thinking"]

#: Characters (UTF-16 code units) of a first message the answer leaves for the reasoning at
#: least, when the chat shows it: the caption limit, a screenful once expanded.
REASONING_ROOM = 1024
#: A reasoning block shorter than this (characters) is left out rather than cut to nothing.
MIN_BLOCK = 16


class Thinking:
    """The reasoning of one reply and when it began and ended (seconds of the streamer's clock,
    from ``started``: the reply's start). ``shown``: whether the chat sees the reasoning."""

    def __init__(self, started: float, shown: bool) -> None:
        self.started, self.shown = started, shown
        self.chunks: list[str] = []
        self.began = False  # non-blank reasoning came
        self.ended: float | None = None  # when the answer began (or the reply ended)

    def add(self, text: str) -> None:
        self.chunks.append(text)
        self.began = self.began or not text.isspace()

    @property
    def text(self) -> str:
        """All the reasoning so far, stripped."""
        return "".join(self.chunks).strip()

    def seconds(self, now: float) -> int:
        """Whole seconds thought: until the answer began, or until ``now``."""
        return int((self.ended if self.ended is not None else now) - self.started)

    def status(self, now: float, done: bool) -> str:
        """The line a reply shows while only reasoning has come (``done``: and no answer came)."""
        if done and self.shown:  # under the reasoning block, which says how long
            return _("No answer came after the reasoning.")
        if done:
            return ngettext("💭 Thought for {n} second, without an answer.",
                            "💭 Thought for {n} seconds, without an answer.", self.seconds(now))
        return _("💭 Thinking… {seconds} s", seconds=self.seconds(now))

    def reserve(self) -> int:
        """Characters of the first message kept for the reasoning block (0: none shown)."""
        if not (self.shown and self.began):
            return 0
        return min(utf16_len(self.text) + 64, REASONING_ROOM)  # 64: the heading line, about

    def above(self, text: str, entities: list[MessageEntity], limit: int, now: float
              ) -> tuple[str, list[MessageEntity]]:
        """``text`` (with its ``entities``) under the reasoning block, all within ``limit``
        UTF-16 code units; ``text`` unchanged when the reasoning is not shown or has no room."""
        if not (self.shown and self.began):
            return text, entities
        heading = ngettext("💭 Thought for {n} second", "💭 Thought for {n} seconds",
                           self.seconds(now))
        room = limit - utf16_len(text) - utf16_len(heading) - 2  # two line breaks
        thought = tail(self.text, room)
        if utf16_len(thought) < min(MIN_BLOCK, utf16_len(self.text)) or not thought:
            return text, entities
        block = f"{heading}\n{thought}"
        size = utf16_len(block)
        quote = MessageEntity(MessageEntityType.EXPANDABLE_BLOCKQUOTE, 0, size)
        shifted = [moved(entity, entity.offset + size + 1, entity.length) for entity in entities]
        return f"{block}\n{text}", [quote, *shifted]
