"""The conversations the diarization tests hear, built once per session, and how they are scored."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stt_studio.diarize.base import Turn, label
from stt_studio.domain import Transcript
from tests.support import longaudio
from tests.support.conversations import Conversation, RefTurn, build

#: speakers -> pattern (voice, seconds): ~45-55 s each; the 4-speaker one holds the two
#: LibriSpeech readers that sound most alike (ls2412 / ls1221)
PATTERNS: dict[int, tuple[tuple[str, float], ...]] = {
    2: (("mfa", 5.0), ("ls1221", 6.0), ("mfa", 4.0), ("ls1221", 5.0), ("mfa", 6.0),
        ("ls1221", 4.0), ("mfa", 5.0), ("ls1221", 5.0)),
    3: (("lj", 5.0), ("mfa", 5.0), ("ls2412", 5.0), ("lj", 4.0), ("ls2412", 5.0),
        ("mfa", 4.0), ("lj", 6.0), ("mfa", 5.0), ("ls2412", 5.0)),
    4: (("lj", 5.0), ("ls1221", 5.0), ("mfa", 4.0), ("ls2412", 5.0), ("lj", 4.0),
        ("ls2412", 4.0), ("mfa", 5.0), ("ls1221", 5.0), ("lj", 4.0), ("mfa", 4.0)),
}
#: a turn of half a second in the middle of a two-speaker talk
SHORT_TURN = (("lj", 6.0), ("mfa", 5.0), ("lj", 5.0), ("mfa", 0.5), ("lj", 6.0), ("mfa", 5.0))


@functools.cache
def conversation(speakers: int) -> Conversation:
    return build(PATTERNS[speakers], seed=speakers)


@functools.cache
def short_turn() -> Conversation:
    return build(SHORT_TURN, seed=9)


def write_wav(samples: np.ndarray, path: Path) -> Path:
    """``samples`` as a 16-bit WAV at ``path`` (tests.support.longaudio writes it)."""
    longaudio.write_wav(path, [samples])
    return path


def hypothesis(turns: Sequence[Turn]) -> list[tuple[float, float, str]]:
    """Turns as the ``der`` helper takes them."""
    return [(t.start_s, t.end_s, label(t.speaker)) for t in turns]


def reference_at(time_s: float, reference: Sequence[RefTurn]) -> str:
    """Who speaks at ``time_s``: the turn holding it, else the nearest one."""
    return min(reference, key=lambda t: max(t.start_s - time_s, time_s - t.end_s, 0.0)).speaker


def word_agreement(transcript: Transcript, reference: Sequence[RefTurn]) -> tuple[float, int]:
    """Share of words whose speaker is the reference turn's they fall in (best label mapping)."""
    from scipy.optimize import linear_sum_assignment

    pairs = [(reference_at((w.start_s + w.end_s) / 2, reference), w.speaker)
             for s in transcript.segments for w in s.words]
    refs = sorted({r for r, _ in pairs})
    hyps = sorted({str(h) for _, h in pairs})
    counts = np.zeros((len(refs), len(hyps)))
    for r, h in pairs:
        counts[refs.index(r), hyps.index(str(h))] += 1
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum()) / max(len(pairs), 1), len(pairs)


def speakers_of(transcript: Transcript) -> set[str | None]:
    return {s.speaker for s in transcript.segments}
