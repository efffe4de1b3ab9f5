"""A stream of samples -> blocks of bounded length, cut where nobody speaks.

Memory then depends on the block length, not on the recording's: a block is
transcribed, its segments kept, its samples dropped. The cut is the middle of
the last pause in the block's second half (found by the VAD that gates the
engines anyway), so no word is cut in two; without VAD it is the quietest
100 ms near the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from stt_studio.audio.vad import Span
from stt_studio.domain import SAMPLE_RATE_HZ

FRAME = SAMPLE_RATE_HZ // 10  # 100 ms, for the quietest-point search


@dataclass(frozen=True, slots=True)
class Block:
    """``samples`` start at ``offset_sample`` of the recording; ``speech`` is block-relative."""

    offset_sample: int
    samples: np.ndarray = field(repr=False)
    speech: tuple[Span, ...]

    @property
    def offset_s(self) -> float:
        return self.offset_sample / SAMPLE_RATE_HZ

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE_HZ


def blocks(chunks: Iterable[np.ndarray], *, block_s: float,
           speech: Callable[[np.ndarray], tuple[Span, ...]]) -> Iterator[Block]:
    """Group ``chunks`` into blocks of about ``block_s`` (at most that), cut at pauses.

    ``speech(samples)`` finds the speech in a block (the VAD, or everything).
    """
    limit = max(int(block_s * SAMPLE_RATE_HZ), 2 * FRAME)
    buffer: list[np.ndarray] = []
    buffered = 0
    offset = 0
    for chunk in chunks:
        buffer.append(chunk)
        buffered += len(chunk)
        while buffered >= limit:
            audio = np.concatenate(buffer)
            spans = speech(audio[:limit])
            cut = cut_point(audio[:limit], spans)
            yield Block(offset, audio[:cut].copy(), _before(spans, cut))
            rest = audio[cut:].copy()  # a copy: the block's big array can be freed
            del audio
            buffer, buffered, offset = [rest], len(rest), offset + cut
    if buffered:
        audio = np.concatenate(buffer)
        yield Block(offset, audio, speech(audio))


def cut_point(samples: np.ndarray, spans: tuple[Span, ...]) -> int:
    """Where to end a full block: in its last pause past the middle."""
    n = len(samples)
    half = n // 2
    if spans:
        edges = [(a.end_sample, b.start_sample) for a, b in zip(spans, spans[1:])]
        edges.append((spans[-1].end_sample, n))
        pauses = [(a, b) for a, b in edges if b > a and (a + b) // 2 >= half]
        if pauses:
            a, b = pauses[-1]
            return (a + b) // 2 if b < n else min(a + FRAME, n)
        # (the block's silent end, if any, is the last pause: cut 100 ms into it)
        touching = [a for a, b in edges[:-1] if a == b and a >= half]
        if touching:  # spans that meet: a short pause the VAD split in two
            return touching[-1]
    return _quietest(samples, half)


def _quietest(samples: np.ndarray, start: int) -> int:
    """The middle of the quietest 100 ms frame in ``samples[start:]``."""
    tail = samples[start:]
    frames = len(tail) // FRAME
    if frames < 1:
        return len(samples)
    energy = np.square(tail[: frames * FRAME].reshape(frames, FRAME)).mean(axis=1)
    latest = frames - 1 - int(np.argmin(energy[::-1]))  # the last of equally quiet frames
    return start + latest * FRAME + FRAME // 2


def _before(spans: tuple[Span, ...], cut: int) -> tuple[Span, ...]:
    return tuple(Span(s.start_sample, min(s.end_sample, cut)) for s in spans
                 if s.start_sample < cut)
