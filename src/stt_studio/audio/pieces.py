"""Speech in a block -> pieces an engine takes, and their output -> one timeline.

A piece is the speech of one or more VAD spans placed end to end (the pauses
between them left out, as faster-whisper's own VAD path does), at most
``max_piece`` long. Each piece *owns* the stretch of the block from its first
to its last span. Where two pieces meet without a pause between them (a span
the VAD had to split, or no VAD at all), each also hears ``overlap`` beyond the
seam, so a word cut there is heard whole by one of them.

Merging maps every time back to the block, then keeps each **word** whose
middle lies in the piece that owns it; a segment keeps the words it still has
(no word is doubled or dropped at a seam). Segments without words fall back to
their own middle.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from stt_studio.audio.vad import Span
from stt_studio.domain import SAMPLE_RATE_HZ, Segment, Word


@dataclass(frozen=True, slots=True)
class Stretch:
    """``length`` samples of the block from ``source_start``, placed at ``piece_start``."""

    piece_start: int
    source_start: int
    length: int


@dataclass(frozen=True, slots=True)
class Piece:
    samples: np.ndarray = field(repr=False)
    stretches: tuple[Stretch, ...]
    own_start: int  # block samples [own_start, own_end) belong to this piece
    own_end: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE_HZ

    @property
    def source_start_s(self) -> float:
        return self.stretches[0].source_start / SAMPLE_RATE_HZ if self.stretches else 0.0

    @property
    def source_end_s(self) -> float:
        last = self.stretches[-1] if self.stretches else None
        return (last.source_start + last.length) / SAMPLE_RATE_HZ if last else 0.0

    def stretch_at(self, piece_s: float) -> int:
        """The index of the stretch holding this instant of the piece."""
        starts = [s.piece_start for s in self.stretches]
        return max(bisect.bisect_right(starts, int(piece_s * SAMPLE_RATE_HZ)) - 1, 0)

    def to_block_s(self, piece_s: float, *, anchor_s: float | None = None) -> float:
        """A time in the piece -> the same instant in the block.

        ``anchor_s``: map through the stretch holding this instant instead (a
        word's middle), so a word's start and end land in the same stretch.
        """
        if not self.stretches:
            return piece_s
        rate = SAMPLE_RATE_HZ
        stretch = self.stretches[self.stretch_at(anchor_s if anchor_s is not None else piece_s)]
        offset_s = min(max(piece_s - stretch.piece_start / rate, 0.0), stretch.length / rate)
        return stretch.source_start / rate + offset_s


def plan(samples: np.ndarray, spans: Sequence[Span], *, max_piece_s: float | None,
         overlap_s: float = 0.0) -> list[Piece]:
    """Pieces of at most ``max_piece_s`` (``None``: one piece) covering every span."""
    if not spans:
        return []
    n = len(samples)
    overlap = int(overlap_s * SAMPLE_RATE_HZ)
    limit = (None if max_piece_s is None
             else max(int(max_piece_s * SAMPLE_RATE_HZ) - 2 * overlap, SAMPLE_RATE_HZ))
    groups: list[list[Span]] = []
    size = 0
    for span in _split_long(spans, limit):
        if groups and (limit is None or size + span.length <= limit):
            groups[-1].append(span)
            size += span.length
        else:
            groups.append([span])
            size = span.length
    pieces = []
    for i, group in enumerate(groups):
        own_start, own_end = group[0].start_sample, group[-1].end_sample
        runs = [(s.start_sample, s.end_sample) for s in group]
        if overlap and i > 0 and groups[i - 1][-1].end_sample >= own_start:
            # hear the seam before, but only the speech that meets it (no pause)
            runs[0] = (max(own_start - overlap, groups[i - 1][-1].start_sample, 0), runs[0][1])
        if overlap and i + 1 < len(groups) and groups[i + 1][0].start_sample <= own_end:
            runs[-1] = (runs[-1][0], min(own_end + overlap, groups[i + 1][0].end_sample, n))
        pieces.append(_piece(samples, runs, own_start, own_end))
    return pieces


def _split_long(spans: Sequence[Span], limit: int | None) -> list[Span]:
    """Spans longer than ``limit`` cut into back-to-back parts (their seams overlap later)."""
    if limit is None:
        return list(spans)
    out = []
    for span in spans:
        start = span.start_sample
        while span.end_sample - start > limit:
            out.append(Span(start, start + limit))
            start += limit
        out.append(Span(start, span.end_sample))
    return out


def _piece(samples: np.ndarray, runs: list[tuple[int, int]], own_start: int,
           own_end: int) -> Piece:
    stretches = []
    at = 0
    for start, end in runs:
        stretches.append(Stretch(at, start, end - start))
        at += end - start
    audio = (samples[runs[0][0]:runs[0][1]].copy() if len(runs) == 1
             else np.concatenate([samples[a:b] for a, b in runs]))
    return Piece(audio, tuple(stretches), own_start, own_end)


#: a segment whose words were laid end to end across a left-out pause at least this
#: long is two segments (the engine heard one sentence; the recording has a pause)
SPLIT_GAP_S = 2.0


def _runs(words: Sequence[tuple[Word, int]]) -> list[list[Word]]:
    """Words (with their stretch) cut where a left-out pause of SPLIT_GAP_S or more lies."""
    runs: list[list[Word]] = [[words[0][0]]]
    for (word, stretch), (_, before) in zip(words[1:], words):
        if stretch != before and word.start_s - runs[-1][-1].end_s >= SPLIT_GAP_S:
            runs.append([])
        runs[-1].append(word)
    return runs


def merge(pieces: Sequence[Piece], outputs: Sequence[Sequence[Segment]]) -> list[Segment]:
    """Piece-relative segments -> block-relative segments, each word once, in time order."""
    merged: list[Segment] = []
    for piece, segments in zip(pieces, outputs):
        own_start_s = piece.own_start / SAMPLE_RATE_HZ
        own_end_s = piece.own_end / SAMPLE_RATE_HZ
        last_piece = piece is pieces[-1]

        def owned(middle_s: float, *, _a: float = own_start_s, _b: float = own_end_s,
                  _last: bool = last_piece) -> bool:
            return _a <= middle_s < _b or (_last and middle_s >= _b)

        for seg in segments:
            if seg.words:
                words = []
                for w in seg.words:
                    middle = (w.start_s + w.end_s) / 2
                    start = piece.to_block_s(w.start_s, anchor_s=middle)
                    end = piece.to_block_s(w.end_s, anchor_s=middle)
                    if owned((start + end) / 2):
                        words.append((Word(start, max(end, start), w.text),
                                      piece.stretch_at(middle)))
                if not words:
                    continue
                runs = _runs(words)
                if len(runs) == 1 and len(words) == len(seg.words):
                    merged.append(Segment(runs[0][0].start_s, runs[0][-1].end_s, seg.text,
                                          tuple(runs[0])))
                    continue
                merged.extend(Segment(run[0].start_s, run[-1].end_s,
                                      " ".join(w.text for w in run), tuple(run)) for run in runs)
            else:
                start = piece.to_block_s(seg.start_s)
                end = piece.to_block_s(seg.end_s, anchor_s=max(seg.end_s - 1e-3, seg.start_s))
                if owned((start + end) / 2):
                    merged.append(replace(seg, start_s=start, end_s=max(end, start)))
    merged.sort(key=lambda s: (s.start_s, s.end_s))
    return _in_order(merged)


def _in_order(segments: list[Segment]) -> list[Segment]:
    """Word starts never go back: where two pieces' words overlap at a seam (each side's
    word times differ by a frame or two), a later word's start moves up to the one before."""
    out: list[Segment] = []
    previous_s = 0.0
    for seg in segments:
        if not seg.words:
            out.append(seg)
            continue
        words = []
        for w in seg.words:
            start = max(w.start_s, previous_s)
            words.append(w if start == w.start_s else
                         replace(w, start_s=start, end_s=max(w.end_s, start)))
            previous_s = start
        if words == list(seg.words):
            out.append(seg)
        else:
            out.append(replace(seg, start_s=words[0].start_s,
                               end_s=max(seg.end_s, words[-1].end_s), words=tuple(words)))
    return out
