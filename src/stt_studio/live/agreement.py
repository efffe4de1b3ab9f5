"""LocalAgreement-2 (whisper_streaming): settle the words that two successive decodes agree on.

An open turn is decoded again as it grows. Each decode is a *hypothesis* of the
turn's words; a word is settled when the previous hypothesis and this one
agree on it and on every unsettled word before it. Settled words are never
taken back: what a client was sent stays true.

Hypotheses overlap the settled words (each decode hears the turn's window from
its start), so the words already settled are taken off first: by time (words
that end before the last settled word's end, less :data:`TOLERANCE_S`), then the
longest run of up to :data:`MAX_NGRAM` words that repeats the settled tail, as
whisper_streaming's ``HypothesisBuffer.insert`` does. Words without times
(a model with no timestamps) are aligned by count instead.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from stt_studio.domain import Word

#: a hypothesis word ending this little after the last settled word's end is that word
TOLERANCE_S = 0.1
#: the longest repeat of the settled tail taken off a hypothesis's head
MAX_NGRAM = 5


def norm(text: str) -> str:
    """A word as compared: case and punctuation do not count (``Hello,`` = ``hello``)."""
    kept = "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold()
                   if not unicodedata.category(ch).startswith("P"))
    return kept.strip()


def _timed(words: Sequence[Word]) -> bool:
    return any(w.end_s > 0.0 for w in words)


def unsettled(hypothesis: Sequence[Word], settled: Sequence[Word]) -> list[Word]:
    """The words of ``hypothesis`` after the ``settled`` ones (see the module's docstring)."""
    if not settled:
        return list(hypothesis)
    if not _timed(hypothesis) or not _timed(settled):
        return list(hypothesis[len(settled):])
    last_end_s = settled[-1].end_s
    fresh = [w for w in hypothesis if w.end_s > last_end_s + TOLERANCE_S]
    for n in range(min(MAX_NGRAM, len(settled), len(fresh)), 0, -1):
        tail = [norm(w.text) for w in settled[-n:]]
        if [norm(w.text) for w in fresh[:n]] == tail:
            return fresh[n:]
    return fresh


@dataclass(slots=True)
class Agreement:
    """One turn's settled words and its last hypothesis."""

    settled: list[Word]
    _previous: list[Word]
    _window_from: int  # the first settled word the current window hears

    def __init__(self) -> None:
        self.settled = []
        self._previous = []
        self._window_from = 0

    def _in_window(self) -> list[Word]:
        return self.settled[self._window_from:]

    def offer(self, hypothesis: Sequence[Word]) -> list[Word]:
        """A new decode of the turn; returns the words it settles (may be none)."""
        current = unsettled(hypothesis, self._in_window())
        agreed: list[Word] = []
        for before, now in zip(self._previous, current):
            if norm(before.text) != norm(now.text) or not norm(now.text):
                break
            agreed.append(now)
        self.settled.extend(agreed)
        self._previous = current[len(agreed):]
        return agreed

    def pending(self) -> list[Word]:
        """The words still being heard: the last hypothesis after the settled ones."""
        return list(self._previous)

    def finish(self, final: Sequence[Word]) -> list[Word]:
        """The turn's last decode: every word of it after the settled ones settles now."""
        rest = unsettled(final, self._in_window())
        self.settled.extend(rest)
        self._previous = []
        return rest

    def cut(self) -> float | None:
        """Where a window may restart: the end of the last settled word (None: none yet)."""
        return self.settled[-1].end_s if self.settled and _timed(self.settled) else None

    def restart(self) -> None:
        """The window now starts after the settled words: later decodes do not hear them."""
        self._window_from = len(self.settled)
        self._previous = []


def joined(words: Sequence[Word], *, first: bool) -> str:
    """The text a delta carries: words with spaces, a leading space unless ``first``."""
    text = " ".join(w.text.strip() for w in words if w.text.strip())
    return text if first or not text else f" {text}"
