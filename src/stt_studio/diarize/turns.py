"""Labelled windows -> speaker turns over the speech, in 100 ms frames (pure).

Each frame of speech takes the speaker most windows covering it say (the
nearest window's when none covers it); runs shorter than :data:`MIN_RUN_S`
between two runs of one speaker are that speaker's (a flicker, not a turn);
turns never bridge a pause between spans of speech.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from stt_studio.diarize.base import Turn

FRAME_S = 0.1
#: a run of another speaker shorter than this, inside one speaker's talk, is a flicker
MIN_RUN_S = 0.3


def frame_turns(speech_s: Sequence[tuple[float, float]], windows_s: Sequence[tuple[float, float]],
                labels: npt.NDArray[np.int64]) -> tuple[Turn, ...]:
    """Turns over ``speech_s`` (absolute seconds) from windows and their speaker labels."""
    if not len(windows_s) or not speech_s:
        return ()
    starts = np.array([a for a, _ in windows_s])
    ends = np.array([b for _, b in windows_s])
    middles = (starts + ends) / 2
    speakers = int(labels.max()) + 1
    turns: list[Turn] = []
    for span_start, span_end in speech_s:
        count = max(1, int(round((span_end - span_start) / FRAME_S)))
        centres = span_start + (np.arange(count) + 0.5) * (span_end - span_start) / count
        frame_labels = np.empty(count, dtype=np.int64)
        for i, t in enumerate(centres):
            covering = (starts <= t) & (t < ends)
            if covering.any():
                votes = np.bincount(labels[covering], minlength=speakers)
                frame_labels[i] = int(np.argmax(votes))
            else:
                frame_labels[i] = int(labels[int(np.argmin(np.abs(middles - t)))])
        frame_labels = _smooth(frame_labels, max(1, int(round(MIN_RUN_S / FRAME_S))))
        edges = np.linspace(span_start, span_end, count + 1)
        run_start = 0
        for i in range(1, count + 1):
            if i == count or frame_labels[i] != frame_labels[run_start]:
                turns.append(Turn(float(edges[run_start]), float(edges[i]),
                                  int(frame_labels[run_start])))
                run_start = i
    return _merged(turns)


def _smooth(frames: npt.NDArray[np.int64], shortest: int) -> npt.NDArray[np.int64]:
    """Runs shorter than ``shortest`` frames with one speaker on both sides become theirs."""
    out = frames.copy()
    runs = _runs(out)
    for index, (start, end) in enumerate(runs):
        if 0 < index < len(runs) - 1 and end - start < shortest:
            before, after = out[runs[index - 1][0]], out[runs[index + 1][0]]
            if before == after:
                out[start:end] = before
    return out


def _runs(frames: npt.NDArray[np.int64]) -> list[tuple[int, int]]:
    runs = []
    start = 0
    for i in range(1, len(frames) + 1):
        if i == len(frames) or frames[i] != frames[start]:
            runs.append((start, i))
            start = i
    return runs


def _merged(turns: list[Turn]) -> tuple[Turn, ...]:
    """Touching turns of one speaker as one; speakers renumbered by first appearance."""
    turns.sort(key=lambda t: t.start_s)
    order: dict[int, int] = {}
    out: list[Turn] = []
    for turn in turns:
        speaker = order.setdefault(turn.speaker, len(order))
        if out and out[-1].speaker == speaker and turn.start_s - out[-1].end_s < 1e-6:
            out[-1] = Turn(out[-1].start_s, turn.end_s, speaker)
        else:
            out.append(Turn(turn.start_s, turn.end_s, speaker))
    return tuple(out)
