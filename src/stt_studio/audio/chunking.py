"""Moving and clamping segments on a recording's timeline (pure code).

Cutting a recording into pieces and merging their output is
:mod:`stt_studio.audio.pieces`.
"""

from __future__ import annotations

from dataclasses import replace

from stt_studio.domain import Segment, Word


def shift(segment: Segment, offset_s: float) -> Segment:
    words = tuple(replace(w, start_s=w.start_s + offset_s, end_s=w.end_s + offset_s)
                  for w in segment.words)
    return replace(segment, start_s=segment.start_s + offset_s,
                   end_s=segment.end_s + offset_s, words=words)


def clamp(segment: Segment, duration_s: float) -> Segment:
    """Keep times inside [0, duration_s] and ordered (engines can overshoot by a frame)."""

    def c(t: float) -> float:
        return min(max(t, 0.0), duration_s)

    words = tuple(Word(c(w.start_s), max(c(w.end_s), c(w.start_s)), w.text) for w in segment.words)
    start = c(segment.start_s)
    return Segment(start, max(c(segment.end_s), start), segment.text, words)
