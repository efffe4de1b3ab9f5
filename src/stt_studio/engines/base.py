"""The one small interface every speech engine implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from stt_studio.domain import Audio, ComputeType, ModelSpec, Segment, TranscriptionOptions
from stt_studio.engines.device import Placement


@dataclass(frozen=True, slots=True)
class DecodeSignals:
    """How a decoder judged its own output for a piece (Whisper's retry signals).

    faster-whisper's sequential decoder decodes a window again at a higher
    temperature when these cross its thresholds; its batched pipeline reports
    them and moves on, so the studio checks them itself
    (:mod:`stt_studio.completeness`).
    """

    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


@dataclass(frozen=True, slots=True)
class EngineOutput:
    """What an engine returns for one piece of audio (times relative to it).

    ``signals``: the decoder's own view of the piece, where it has one and did
    not already act on it (a batched Whisper window); ``None`` otherwise.
    """

    segments: tuple[Segment, ...]
    language: str | None
    has_timestamps: bool = True
    signals: DecodeSignals | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a loaded model can do, as the engine found it."""

    languages: tuple[str, ...]
    translates: bool
    timestamps: bool
    max_window_s: float | None  # the longest piece a batch takes (None: any length)
    sequential_long_form: bool = False  # batch_size 1 hears a whole block in one pass
    local_attention: bool = False  # NeMo's limited-context attention is available


class LoadedModel(Protocol):
    spec: ModelSpec
    device: str
    info: ModelInfo
    compute_type: str

    def transcribe(self, audio: Audio, options: TranscriptionOptions) -> EngineOutput:
        """One piece; times relative to ``audio``."""
        ...

    def transcribe_batch(self, pieces: Sequence[Audio], options: TranscriptionOptions, *,
                         local_attention: bool = False) -> list[EngineOutput]:
        """Several pieces decoded together (``options.batch_size`` at a time).

        One output per piece, times relative to its piece. Engines report how
        far they are with :func:`stt_studio.progress.advance` (which is also
        where a cancelled job stops) as they go. ``local_attention``: NeMo's
        long-form mode for this call (only when ``info.local_attention``).
        """
        ...

    def close(self) -> None: ...


class Engine(Protocol):
    def load(self, spec: ModelSpec, model_dir: Path, placement: Placement) -> LoadedModel: ...

    def place(self, requested: str, compute_type: ComputeType) -> Placement:
        """The device (``auto``/``cpu``/``cuda`` asked) and compute type a model gets.

        InvalidOptionError when ``cuda`` does not work or the device cannot do
        ``compute_type`` (:mod:`stt_studio.engines.device`).
        """
        ...
