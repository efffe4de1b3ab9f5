"""Where a recording's voices are sampled: short overlapping windows over its speech (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stt_studio.audio.vad import Span
from stt_studio.domain import SAMPLE_RATE_HZ

#: one window: what the GE2E encoder (resemblyzer's) hears at once (160 frames of 10 ms)
WINDOW_S = 1.6
#: windows start this far apart inside a stretch of speech
HOP_S = 0.8
#: speech shorter than this gives no window of its own (its frames follow their neighbours)
MIN_SPEECH_S = 0.25


@dataclass(frozen=True, slots=True)
class Window:
    """Samples ``start_sample:end_sample`` of a block (at most WINDOW_S long)."""

    start_sample: int
    end_sample: int


def plan(speech: tuple[Span, ...], *, window_s: float = WINDOW_S,
         hop_s: float = HOP_S) -> list[Window]:
    """Windows covering every span of speech; a span shorter than a window is one window."""
    size = int(window_s * SAMPLE_RATE_HZ)
    hop = int(hop_s * SAMPLE_RATE_HZ)
    shortest = int(MIN_SPEECH_S * SAMPLE_RATE_HZ)
    out: list[Window] = []
    for span in speech:
        length = span.end_sample - span.start_sample
        if length < shortest:
            continue
        if length <= size:
            out.append(Window(span.start_sample, span.end_sample))
            continue
        starts = list(range(span.start_sample, span.end_sample - size + 1, hop))
        if starts[-1] + size < span.end_sample:  # the span's end gets a window too
            starts.append(span.end_sample - size)
        out.extend(Window(start, start + size) for start in starts)
    return out


#: 10 ms frames for finding the voiced part of a span
_FRAME = SAMPLE_RATE_HZ // 100
#: a frame this far (in amplitude) under the span's loud frames is a pause (-30 dB)
QUIET_RATIO = 0.03
#: a pause inside a span at least this long splits it (the VAD's padding bridges short ones)
SPLIT_PAUSE_S = 0.3


def voiced(samples: np.ndarray, speech: tuple[Span, ...]) -> tuple[Span, ...]:
    """The VAD's spans without their quiet edges, split at quiet stretches inside.

    The VAD pads its spans (400 ms) for the engines' sake and bridges pauses
    shorter than twice that; who speaks is decided on the voice itself, so a
    turn does not spill into the pause before the next speaker.
    """
    out: list[Span] = []
    split = int(SPLIT_PAUSE_S * 100)
    for span in speech:
        part = np.asarray(samples[span.start_sample:span.end_sample], dtype=np.float32)
        frames = len(part) // _FRAME
        if frames < 3:
            out.append(span)
            continue
        rms = np.sqrt(np.mean(part[:frames * _FRAME].reshape(frames, _FRAME) ** 2, axis=1))
        floor = max(float(np.percentile(rms, 95)) * QUIET_RATIO, 1e-4)
        loud = rms >= floor
        if not loud.any():
            continue
        start = None
        quiet_run = 0
        for i, is_loud in enumerate(loud):
            if is_loud:
                if start is None:
                    start = i
                quiet_run = 0
            elif start is not None:
                quiet_run += 1
                if quiet_run == split:
                    out.append(Span(span.start_sample + start * _FRAME,
                                    span.start_sample + (i - split + 1) * _FRAME))
                    start = None
        if start is not None:
            last = int(np.flatnonzero(loud)[-1])
            out.append(Span(span.start_sample + start * _FRAME,
                            min(span.start_sample + (last + 1) * _FRAME, span.end_sample)))
    return tuple(s for s in out if s.end_sample > s.start_sample)
