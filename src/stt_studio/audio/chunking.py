"""Long-audio windows, planned and merged once above the engines (pure code).

Windows overlap so that words cut at a boundary are heard whole in one of the
two; on merge each window keeps only the segments whose midpoint falls in the
part of the timeline it owns, so nothing is doubled and nothing dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from stt_studio.domain import Segment, Word


@dataclass(frozen=True, slots=True)
class Window:
    start_s: float
    end_s: float
    own_start_s: float  # this window's segments count only inside [own_start, own_end)
    own_end_s: float


def plan_windows(duration_s: float, window_s: float, overlap_s: float) -> tuple[Window, ...]:
    """Cover [0, duration_s] with windows of ``window_s`` overlapping by ``overlap_s``."""
    if window_s <= 0 or not 0 <= overlap_s < window_s:
        raise ValueError("need window_s > 0 and 0 <= overlap_s < window_s")
    if duration_s <= window_s:
        return (Window(0.0, duration_s, 0.0, duration_s),)
    step = window_s - overlap_s
    starts: list[float] = []
    start = 0.0
    while True:
        starts.append(start)
        if start + window_s >= duration_s:
            break
        start += step
    windows = []
    for i, s in enumerate(starts):
        end = min(s + window_s, duration_s)
        own_start = 0.0 if i == 0 else s + overlap_s / 2
        own_end = duration_s if i == len(starts) - 1 else starts[i + 1] + overlap_s / 2
        windows.append(Window(s, end, own_start, own_end))
    return tuple(windows)


def shift(segment: Segment, offset_s: float) -> Segment:
    words = tuple(replace(w, start_s=w.start_s + offset_s, end_s=w.end_s + offset_s)
                  for w in segment.words)
    return replace(segment, start_s=segment.start_s + offset_s,
                   end_s=segment.end_s + offset_s, words=words)


def merge(pieces: list[tuple[Window, tuple[Segment, ...]]]) -> tuple[Segment, ...]:
    """Window-relative segments -> one timeline without doubled overlaps."""
    merged: list[Segment] = []
    for window, segments in pieces:
        for seg in segments:
            absolute = shift(seg, window.start_s)
            middle = (absolute.start_s + absolute.end_s) / 2
            if window.own_start_s <= middle < window.own_end_s or (
                window.own_end_s == window.end_s and middle >= window.own_end_s
            ):
                merged.append(absolute)
    merged.sort(key=lambda s: (s.start_s, s.end_s))
    return tuple(merged)


def clamp(segment: Segment, duration_s: float) -> Segment:
    """Keep times inside [0, duration_s] and ordered (engines can overshoot by a frame)."""

    def c(t: float) -> float:
        return min(max(t, 0.0), duration_s)

    words = tuple(Word(c(w.start_s), max(c(w.end_s), c(w.start_s)), w.text) for w in segment.words)
    start = c(segment.start_s)
    return Segment(start, max(c(segment.end_s), start), segment.text, words)
