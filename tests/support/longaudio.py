"""Long recordings assembled at test time from the shared audio (nothing large committed).

Parts are 16 kHz mono float32 arrays (real speech decoded from ../shared/audio,
digital silence, low white noise); :func:`write_wav` streams them into a 16-bit
WAV with the standard library's ``wave``, so a one-hour file never sits in the
test process's memory either.
"""

from __future__ import annotations

import functools
import wave
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stt_studio.domain import SAMPLE_RATE_HZ, Segment, Word

SHARED_AUDIO = Path(__file__).resolve().parents[2].parent / "shared" / "audio"
B_LONG = SHARED_AUDIO / "B_long" / "CONSTRUCTED_ljspeech_LJ001-0001_to_0032_concatenated.wav"
JFK = SHARED_AUDIO / "A_short_en" / "jfk" / "jfk.flac"
DIGIT_SEVEN = SHARED_AUDIO / "D_awkward" / "fsdd_8kHz" / "7_yweweler_0.wav"

#: how much is generated (and written) at a time
_STEP_S = 60.0


@functools.cache
def speech(path: Path) -> np.ndarray:
    """``path`` decoded to 16 kHz mono float32 (read-only: shared between tests)."""
    from stt_studio.audio.decode import decode_file

    samples = decode_file(path).samples
    samples.setflags(write=False)
    return samples


def silence(seconds: float) -> Iterator[np.ndarray]:
    """Digital silence, in steps."""
    yield from _steps(seconds, lambda n: np.zeros(n, dtype=np.float32))


def low_noise(seconds: float, *, dbfs: float = -60.0, seed: int = 0) -> Iterator[np.ndarray]:
    """White noise at ``dbfs`` RMS (full scale = 1.0): a quiet room, nobody speaking."""
    rng = np.random.default_rng(seed)
    rms = 10 ** (dbfs / 20)
    yield from _steps(seconds, lambda n: (rng.standard_normal(n) * rms).astype(np.float32))


def _steps(seconds: float, make: Callable[[int], np.ndarray]) -> Iterator[np.ndarray]:
    total = int(round(seconds * SAMPLE_RATE_HZ))
    step = int(_STEP_S * SAMPLE_RATE_HZ)
    for at in range(0, total, step):
        yield make(min(step, total - at))


def write_wav(path: Path, parts: Iterable[np.ndarray | Iterable[np.ndarray]]) -> float:
    """Write ``parts`` (arrays, or iterables of arrays) end to end; returns the duration in s."""
    written = 0
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE_HZ)
        for part in parts:
            for chunk in ([part] if isinstance(part, np.ndarray) else part):
                pcm = np.clip(np.round(chunk * 32767.0), -32768, 32767).astype("<i2")
                out.writeframes(pcm.tobytes())
                written += len(pcm)
    return written / SAMPLE_RATE_HZ


# -- reading a transcript back ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Timed:
    """A word with its segment's index, for checks across segments."""

    segment: int
    word: Word


def words_of(segments: Iterable[Segment]) -> list[Timed]:
    return [Timed(i, w) for i, seg in enumerate(segments) for w in seg.words]


def assert_monotonic(segments: tuple[Segment, ...], duration_s: float) -> None:
    """Segments and words: start <= end, starts never go back, all inside [0, duration_s]."""
    previous = 0.0
    for seg in segments:
        assert 0.0 <= seg.start_s <= seg.end_s <= duration_s, seg
        assert seg.start_s >= previous, (seg, previous)
        previous = seg.start_s
    previous = 0.0
    for timed in words_of(segments):
        w = timed.word
        assert 0.0 <= w.start_s <= w.end_s <= duration_s, w
        assert w.start_s >= previous - 1e-6, (w, previous)
        previous = w.start_s
