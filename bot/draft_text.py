"""The text of a reply being written (the *draft*), kept so that no step grows with its length.

A reply arrives as chunks; the streamer needs the whole text now and then (to save it, and at
the end) and, for every write, the part the current message shows: from ``base`` (where the
messages already rolled over end) on, at most a window of it. :class:`DraftText` keeps both:
appending a chunk is O(1), reading or freezing a window is O(window), and only the whole text
costs O(length) (joined once per change, when asked).
"""

from __future__ import annotations

from collections import deque

__all__ = ["DraftText"]


class DraftText:
    """The draft: ``size`` characters received, ``base`` of them frozen in earlier messages."""

    def __init__(self) -> None:
        self.size = 0  # characters received
        self.base = 0  # characters frozen: the current message starts there
        self._chunks: list[str] = []
        self._joined = ""
        self._tail: deque[str] = deque()  # the chunks from `base` on
        self._skip = 0  # characters of the first tail chunk before `base`

    def append(self, chunk: str) -> None:
        self._chunks.append(chunk)
        self._tail.append(chunk)
        self.size += len(chunk)

    @property
    def whole(self) -> str:
        """All the text received (joined when it changed: O(size))."""
        if len(self._joined) != self.size:
            self._joined = "".join(self._chunks)
        return self._joined

    def peek(self, size: int) -> str:
        """``whole[base : base + size]`` in O(size)."""
        parts, need = [], size
        for index, chunk in enumerate(self._tail):
            piece = chunk[self._skip :] if index == 0 else chunk
            parts.append(piece[:need])
            need -= len(parts[-1])
            if need <= 0:
                break
        return "".join(parts)

    def freeze(self, end: int) -> None:
        """Move ``base`` forward to ``end`` (characters from the start): that text is shown for
        good."""
        drop, self.base = end - self.base, max(end, self.base)
        while drop > 0 and self._tail:
            left = len(self._tail[0]) - self._skip
            if drop < left:
                self._skip += drop
                return
            drop -= left
            self._tail.popleft()
            self._skip = 0
