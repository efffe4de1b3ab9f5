"""Conversations built from the shared clips of different speakers, with known turns, and DER.

Used by the diarization tests and bench/diarization.py. Each speaker's clips
are cut into turns of a few seconds and laid one after another with short
pauses, in a pattern of speakers; the reference says who speaks when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stt_studio.domain import SAMPLE_RATE_HZ

SHARED = Path(__file__).resolve().parents[3] / "shared" / "audio"
RATE = SAMPLE_RATE_HZ

#: speakers with enough speech in ../shared/audio group A (name -> clips)
VOICES: dict[str, tuple[str, ...]] = {
    "lj": tuple(f"A_short_en/ljspeech/LJ001-{n:04d}.wav" for n in (1, 3, 4, 5, 6, 7, 9, 10)),
    "mfa": ("A_short_en/mfa_spontaneous/acoustic_corpus.wav",),
    "ls2412": ("A_short_en/librispeech/2412-153948-0000.flac",
               "A_short_en/librispeech/2412-153948-0001.flac"),
    "ls1221": ("A_short_en/librispeech/1221-135766-0001.wav",
               "A_short_en/librispeech/1221-135766-0002.wav"),
    "jfk": ("A_short_en/jfk/jfk.flac",),
    "ls1088": ("A_short_en/librispeech/1088-134315-0000.wav",),
    # the other voices with 6 s of speech or more (groups A, C and D), never used to tune
    # anything before issue 17
    "austen": tuple(f"A_short_en/librivox_pocketsphinx/sense_and_sensibility_01_austen_64kb-"
                    f"{n:04d}.wav" for n in (870, 880, 890, 920, 930)),
    "ls1995": ("A_short_en/librispeech/1995-1837-0001.wav",),
    "ls1089": ("A_short_en/librispeech/1089-134686-0002.wav",),
    "de": ("C_non_en/aeneas_librivox_de.mp3",),
    "es": ("C_non_en/aeneas_librivox_es.mp3",),
    "mls13697": ("C_non_en/mls_es_13697_11991_000000.opus",),
    "sonnet": ("D_awkward/formats/p001.flac",),
}

#: the two folds of voices for leave-voices-out calibration: every constant of the speaker
#: count is fitted on one and reported on the other (a voice's language does not matter)
FOLDS: dict[str, tuple[str, ...]] = {
    "known": ("lj", "mfa", "ls2412", "ls1221", "jfk", "ls1088"),
    "unseen": ("austen", "ls1995", "ls1089", "de", "es", "mls13697", "sonnet"),
}


@dataclass(frozen=True, slots=True)
class RefTurn:
    start_s: float
    end_s: float
    speaker: str


@dataclass(frozen=True, slots=True)
class Conversation:
    samples: np.ndarray
    turns: tuple[RefTurn, ...]

    @property
    def duration_s(self) -> float:
        return len(self.samples) / RATE

    @property
    def speakers(self) -> set[str]:
        return {t.speaker for t in self.turns}


def speech_of(voice: str) -> np.ndarray:
    """All of a voice's clips, decoded and joined, silences at the edges trimmed."""
    from stt_studio.audio.decode import decode_file

    parts = [decode_file(SHARED / clip).samples for clip in VOICES[voice]]
    return np.concatenate([trimmed(p) for p in parts])


def trimmed(samples: np.ndarray, floor: float = 0.01, pad: int = 0) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > floor)
    if not loud.size:
        return samples[:0]
    return samples[max(loud[0] - pad, 0):loud[-1] + 1 + pad]


def build(pattern: Sequence[tuple[str, float]], *, pause_s: float = 0.6,
          seed: int = 0) -> Conversation:
    """Turns in ``pattern`` order: (voice, seconds); each voice's speech is used in order."""
    rng = np.random.default_rng(seed)
    voices = {voice: speech_of(voice) for voice in {v for v, _ in pattern}}
    used = dict.fromkeys(voices, 0)
    out: list[np.ndarray] = [np.zeros(int(0.5 * RATE), np.float32)]
    at = 0.5
    turns = []
    for voice, seconds in pattern:
        source = voices[voice]
        n = int(seconds * RATE)
        start = used[voice] % max(len(source) - n, 1)
        piece = source[start:start + n]
        used[voice] = start + n
        out.append(piece)
        turns.append(RefTurn(at, at + len(piece) / RATE, voice))
        at += len(piece) / RATE
        gap = pause_s * float(rng.uniform(0.7, 1.3))
        out.append(np.zeros(int(gap * RATE), np.float32))
        at += int(gap * RATE) / RATE
    return Conversation(np.concatenate(out).astype(np.float32), tuple(turns))


def meeting(voices: Sequence[str], seed: int, *, total_s: float = 50.0,
            turn_s: tuple[float, float] = (1.5, 5.0),
            gap_s: tuple[float, float] = (0.2, 0.9)) -> Conversation:
    """A conversation of ``voices``, turns of ``turn_s`` seconds cut from their readings,
    pauses of ``gap_s``, about ``total_s`` long; each voice speaks at least twice and never
    twice in a row (two turns of one voice would be one). The same for the same seed."""
    rng = np.random.default_rng(seed)
    names = list(voices)
    pattern: list[tuple[str, float]] = []
    spoken_s = 0.0
    while spoken_s < total_s or min(sum(1 for v, _ in pattern if v == n) for n in names) < 2:
        choices = [n for n in names if not pattern or n != pattern[-1][0]]
        voice = choices[int(rng.integers(len(choices)))]
        seconds = round(float(rng.uniform(*turn_s)), 2)
        pattern.append((voice, seconds))
        spoken_s += seconds
    return _laid_out(pattern, rng, gap_s)


def _laid_out(pattern: Sequence[tuple[str, float]], rng: np.random.Generator,
              gap_s: tuple[float, float]) -> Conversation:
    voices = {voice: speech_of(voice) for voice in {v for v, _ in pattern}}
    used = {voice: int(rng.integers(max(len(s) - RATE, 1))) for voice, s in voices.items()}
    out: list[np.ndarray] = [np.zeros(RATE // 2, np.float32)]
    at = 0.5
    turns = []
    for voice, seconds in pattern:
        source = voices[voice]
        n = min(int(seconds * RATE), len(source))
        start = used[voice] if used[voice] + n <= len(source) else 0
        piece = source[start:start + n]
        used[voice] = start + n
        out.append(piece)
        turns.append(RefTurn(at, at + len(piece) / RATE, voice))
        at += len(piece) / RATE
        gap = int(float(rng.uniform(*gap_s)) * RATE)
        out.append(np.zeros(gap, np.float32))
        at += gap / RATE
    return Conversation(np.concatenate(out).astype(np.float32), tuple(turns))


#: the channels a recording may come through: as read, with a noisy room (white noise
#: 15 dB under the speech), through a telephone band (300-3400 Hz, 6 dB quieter)
CHANNELS = ("clean", "noise", "phone")


def through(samples: np.ndarray, channel: str, seed: int = 0) -> np.ndarray:
    """``samples`` as ``channel`` (one of :data:`CHANNELS`) would deliver them."""
    if channel == "clean":
        return samples
    if channel == "noise":
        power = float(np.mean(samples[np.abs(samples) > 0.01] ** 2))
        noise = np.random.default_rng(seed).standard_normal(len(samples)) * np.sqrt(power / 10 ** 1.5)
        return (samples + noise).astype(np.float32)
    if channel == "phone":
        from scipy.signal import butter, sosfilt

        band = butter(4, [300, 3400], btype="band", fs=RATE, output="sos")
        return (0.5 * sosfilt(band, samples)).astype(np.float32)
    raise ValueError(f"no channel {channel!r}")


def der(reference: Sequence[RefTurn], hypothesis: Sequence[tuple[float, float, str]],
        duration_s: float, frame_s: float = 0.01) -> float:
    """Frame-level diarization error rate: (missed + false alarm + confusion) / reference speech.

    The hypothesis's speakers are mapped to the reference's by the assignment
    that overlaps most (Hungarian); no collar; overlapping speech is not scored.
    """
    from scipy.optimize import linear_sum_assignment

    frames = int(np.ceil(duration_s / frame_s)) + 1
    ref_names = sorted({t.speaker for t in reference})
    hyp_names = sorted({s for _, _, s in hypothesis})
    ref = np.full(frames, -1)
    hyp = np.full(frames, -1)
    for turn in reference:
        ref[int(turn.start_s / frame_s):int(turn.end_s / frame_s)] = ref_names.index(turn.speaker)
    for start, end, speaker in hypothesis:
        hyp[int(start / frame_s):int(end / frame_s)] = hyp_names.index(speaker)
    speech = int((ref >= 0).sum())
    missed = int(((ref >= 0) & (hyp < 0)).sum())
    false_alarm = int(((ref < 0) & (hyp >= 0)).sum())
    both = (ref >= 0) & (hyp >= 0)
    overlap = np.zeros((len(ref_names), max(len(hyp_names), 1)))
    for r, h in zip(ref[both], hyp[both]):
        overlap[r, h] += 1
    rows, cols = linear_sum_assignment(-overlap)
    matched = int(overlap[rows, cols].sum())
    confusion = int(both.sum()) - matched
    return (missed + false_alarm + confusion) / max(speech, 1)


# -- conversations of whole clips, with what was said ------------------------------------

@dataclass(frozen=True, slots=True)
class SpokenTurn:
    start_s: float
    end_s: float
    speaker: str
    text: str  # the clip's reference transcript


@dataclass(frozen=True, slots=True)
class Spoken:
    """A conversation of whole group A clips, so every turn's words are known."""

    samples: np.ndarray
    turns: tuple[SpokenTurn, ...]

    @property
    def duration_s(self) -> float:
        return len(self.samples) / RATE

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.turns)


def _group_a() -> dict[str, list[tuple[str, str]]]:
    """Speaker -> their group A clips (path, reference text), in the manifest's order."""
    import json

    voices: dict[str, list[tuple[str, str]]] = {}
    for line in (SHARED / "manifest.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        if row["group"] == "A" and row["text"]:
            voices.setdefault(row["speaker"], []).append((row["audio"], row["text"]))
    return voices


def spoken(seed: int, *, target_s: float = 95.0) -> Spoken:
    """Whole clips of the group A speakers, a change of speaker at every clip (3-27 s),
    pauses of 0.3-1.2 s, no clip twice, until ``target_s``; the same for the same seed."""
    from stt_studio.audio.decode import decode_file

    rng = np.random.default_rng(seed)
    voices = _group_a()
    names = sorted(voices)
    used: set[str] = set()
    out: list[np.ndarray] = [np.zeros(RATE // 2, np.float32)]
    at_s = 0.5
    turns: list[SpokenTurn] = []
    last = None
    while at_s < target_s:
        free = [v for v in names if v != last and any(c not in used for c, _ in voices[v])]
        if not free:
            break
        voice = free[int(rng.integers(len(free)))]
        clips = [(c, t) for c, t in voices[voice] if c not in used]
        clip, text = clips[int(rng.integers(len(clips)))]
        used.add(clip)
        last = voice
        speech = trimmed(decode_file(SHARED / clip).samples, pad=RATE // 10)
        out.append(speech)
        turns.append(SpokenTurn(at_s, at_s + len(speech) / RATE, voice, text))
        at_s += len(speech) / RATE
        gap = int(float(rng.uniform(0.3, 1.2)) * RATE)
        out.append(np.zeros(gap, np.float32))
        at_s += gap / RATE
    return Spoken(np.concatenate(out).astype(np.float32), tuple(turns))


def turns_without_text(conversation: Spoken, words: Sequence[tuple[float, float]], *,
                       share: float = 0.5) -> list[SpokenTurn]:
    """The turns of which fewer than ``share`` of their words were heard in their time."""
    lost = []
    for turn in conversation.turns:
        heard = sum(1 for start, end in words
                    if turn.start_s - 0.3 <= (start + end) / 2 <= turn.end_s + 0.3)
        if heard < share * len(turn.text.split()):
            lost.append(turn)
    return lost
