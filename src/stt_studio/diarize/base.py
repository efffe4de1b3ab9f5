"""The values diarization passes around, and the one interface a diarizer offers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from stt_studio.audio.vad import Span

#: the most speakers found when nobody says how many
MAX_SPEAKERS_AUTO = 8
_LABEL = re.compile(r"^SPEAKER_(\d+)$")


@dataclass(frozen=True, slots=True)
class SpeakerBounds:
    """How many speakers: exactly ``count``, or between ``min_count`` and ``max_count``."""

    count: int | None = None
    min_count: int = 1
    max_count: int = MAX_SPEAKERS_AUTO

    def __post_init__(self) -> None:
        if self.count is not None and not 1 <= self.count <= 32:
            raise ValueError(f"speakers must be between 1 and 32, not {self.count}")
        if not 1 <= self.min_count <= self.max_count <= 32:
            raise ValueError(f"min_speakers ({self.min_count}) and max_speakers "
                             f"({self.max_count}) must satisfy 1 <= min <= max <= 32")

    def clamp(self, found: int) -> int:
        if self.count is not None:
            return self.count
        return max(self.min_count, min(self.max_count, found))


@dataclass(frozen=True, slots=True)
class Turn:
    """``speaker`` (0, 1, … in order of first appearance) spoke from start_s to end_s."""

    start_s: float
    end_s: float
    speaker: int


def label(speaker: int) -> str:
    """The label a speaker carries in transcripts: SPEAKER_1, SPEAKER_2, …"""
    return f"SPEAKER_{speaker + 1}"


def display_name(speaker_label: str) -> str:
    """What people read: "Speaker 1" for SPEAKER_1; a name given by the user as it is."""
    match = _LABEL.match(speaker_label)
    return f"Speaker {match.group(1)}" if match else speaker_label


class SpeakerTracker(Protocol):
    """Hears a recording block by block, then says who spoke when.

    The studio's long-form path never holds a recording whole, so a diarizer
    gets each block (its samples and the VAD's speech spans, in samples
    relative to the block) and keeps only what it needs (embeddings).
    """

    def add(self, offset_s: float, samples: np.ndarray, speech: tuple[Span, ...]) -> None:
        ...

    def turns(self, bounds: SpeakerBounds) -> tuple[Turn, ...]:
        """The turns of the whole recording, in time order, speakers numbered by appearance."""
        ...
