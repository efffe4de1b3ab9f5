"""Frozen domain values that cross module boundaries. Times are float seconds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np
import numpy.typing as npt

SAMPLE_RATE_HZ = 16_000

class Stage(str, Enum):
    """Where a job stands; the value is what a person reads."""

    STARTING = "starting"
    LOADING = "loading model"
    DOWNLOADING = "downloading"
    PREPARING = "preparing the model files"
    DECODING = "decoding audio"
    TRANSCRIBING = "transcribing"
    DIARIZING = "finding the speakers"
    WRITING = "writing the outputs"
    CHECKING = "checking the set-up"

    @property
    def label(self) -> str:
        return f"{self.value}…"


class NoteKind(str, Enum):
    LOCK_RETRY = "lock_retry"  # a locked file was waited out (or is being)
    WAITING = "waiting"  # another process holds the model entry, a model is busy
    SKIPPED_AUDIO = "skipped_audio"  # undecodable parts of a recording were skipped
    LEFT_BEHIND = "left_behind"  # a temp folder could not be deleted (doctor --clean)
    IGNORED = "ignored"  # an option the model cannot use (a prompt for a NeMo model)
    NO_TEXT = "no_text"  # speech the VAD found gave no text, even decoded again
    DEVICE = "device"  # a GPU is there but does not work: the CPU did the job (and why)
    WARNING = "warning"  # any other warning the work logged


@dataclass(frozen=True, slots=True)
class Note:
    kind: NoteKind
    text: str


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One piece of news from a job.

    stage: the stage it is in (``None``: unchanged, the event only carries a note).
    detail: what exactly, for people ("tiny.en on cpu", "42 of 300 s").
    fraction: how far through the stage, 0..1, when known.
    """

    stage: Stage | None
    detail: str = ""
    fraction: float | None = None
    note: Note | None = None

    @property
    def text(self) -> str:
        """While it runs: ``transcribing… 42 of 300 s``."""
        label = self.stage.label if self.stage else ""
        return f"{label} {self.detail}".strip()

    @property
    def plain_text(self) -> str:
        """After a failure: ``loading model tiny.en on cpu``."""
        label = self.stage.value if self.stage else ""
        return f"{label} {self.detail}".strip()


#: receives :class:`ProgressEvent` values while work is under way
Progress = Callable[[ProgressEvent], None]


class EngineKind(str, Enum):
    NEMO = "nemo"
    WHISPER = "whisper"


class Task(str, Enum):
    TRANSCRIBE = "transcribe"
    TRANSLATE = "translate"


class LongAudio(str, Enum):
    """How a NeMo model hears audio longer than one window.

    WINDOWS: speech windows cut at pauses, transcribed in batches, merged on words.
    LOCAL_ATTENTION: NeMo's own long-form mode (limited-context attention), one pass a block.
    AUTO: local attention above :data:`LOCAL_ATTENTION_ABOVE_S` where the model has it, else windows.
    """

    AUTO = "auto"
    WINDOWS = "windows"
    LOCAL_ATTENTION = "local-attention"


class ComputeType(str, Enum):
    """How a model's weights are stored and its arithmetic done (CTranslate2's names).

    AUTO: Whisper in float16 on a CUDA GPU and int8 on the CPU; NeMo in float32.
    Which others a device can do is checked when the model is placed
    (:mod:`stt_studio.engines.device`); NeMo does float32, and float16 on a GPU.
    """

    AUTO = "auto"
    INT8 = "int8"
    INT8_FLOAT16 = "int8_float16"
    FLOAT16 = "float16"
    FLOAT32 = "float32"


#: NVIDIA's Parakeet demo switches to local attention above this length
LOCAL_ATTENTION_ABOVE_S = 480.0


@dataclass(frozen=True, slots=True)
class Word:
    start_s: float
    end_s: float
    text: str
    speaker: str | None = None  # SPEAKER_1, … (or the name a user gave) when diarized


@dataclass(frozen=True, slots=True)
class Segment:
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()
    speaker: str | None = None  # SPEAKER_1, … (or the name a user gave) when diarized


def clock_s(seconds: float) -> str:
    """``46.0`` under a minute, ``12:03.5`` and ``1:02:33.5`` beyond, for people."""
    if seconds < 60:
        return f"{seconds:.1f}"
    tenths = int(round(seconds * 10))
    minutes, rest = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    secs = f"{rest // 10:02d}.{rest % 10}"
    return f"{hours}:{minutes:02d}:{secs}" if hours else f"{minutes}:{secs}"


@dataclass(frozen=True, slots=True)
class Unheard:
    """Speech the VAD found that gave no text, even decoded again (times in the recording).

    ``speech_s``: how much speech that is (the pauses between, which the VAD
    left out, not counted), so it can be less than ``end_s - start_s``.
    """

    start_s: float
    end_s: float
    speech_s: float

    @property
    def text(self) -> str:
        unit = " s" if self.end_s < 60 else ""
        return (f"{self.speech_s:.1f} s of speech at {clock_s(self.start_s)}–"
                f"{clock_s(self.end_s)}{unit} gave no text")


@dataclass(frozen=True, slots=True)
class Transcript:
    """``unheard``: stretches of speech without text (each is also a note of the job)."""

    text: str
    language: str | None
    duration_s: float
    model: str
    segments: tuple[Segment, ...]
    unheard: tuple[Unheard, ...] = ()

    @property
    def notes(self) -> tuple[str, ...]:
        """What a reader of the transcript must know about it, for people."""
        return tuple(u.text for u in self.unheard)

    @property
    def unheard_summary(self) -> str:
        """``12.4 s of speech gave no text (at 33.5–46.0)``, for a summary line; "" if none."""
        if not self.unheard:
            return ""
        speech_s = sum(u.speech_s for u in self.unheard)
        where = ", ".join(f"{clock_s(u.start_s)}–{clock_s(u.end_s)}" for u in self.unheard[:3])
        more = f" and {len(self.unheard) - 3} more" if len(self.unheard) > 3 else ""
        return f"{speech_s:.1f} s of speech gave no text (at {where}{more})"


@dataclass(frozen=True, slots=True)
class TranscriptionOptions:
    """What the user asked for; validated against the model by the engine."""

    language: str | None = None
    task: Task = Task.TRANSCRIBE
    target_language: str | None = None
    word_timestamps: bool = True
    beam_size: int = 5
    batch_size: int = 8  # pieces decoded together (1: sequential)
    vad: bool = True  # only speech reaches the engine
    long_audio: LongAudio = LongAudio.AUTO
    initial_prompt: str | None = None  # Whisper: words and style to expect (names, jargon)
    temperature: float = 0.0  # Whisper: 0 = greedy/beam, raised on failure (OpenAI's rule)
    diarize: bool = False  # label who speaks (SPEAKER_1, …) on every segment and word
    speakers: int | None = None  # exactly this many speakers (None: found automatically)
    min_speakers: int | None = None
    max_speakers: int | None = None
    #: how the model computes (None: the studio's setting, --compute-type or
    #: STT_STUDIO_COMPUTE_TYPE); a model loads once per device and compute type
    compute_type: ComputeType | None = None

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise ValueError("beam_size must be >= 1")
        if not 0.0 <= self.temperature <= 1.0:
            raise ValueError(f"temperature must be between 0 and 1, not {self.temperature:g}")
        if not 1 <= self.batch_size <= 256:
            raise ValueError("batch_size must be between 1 and 256")
        counts = (self.speakers, self.min_speakers, self.max_speakers)
        if any(c is not None for c in counts) and not self.diarize:
            raise ValueError("speakers (and min/max speakers) need diarize")
        if any(c is not None and not 1 <= c <= 32 for c in counts):
            raise ValueError("speakers must be between 1 and 32")
        if (self.min_speakers or 1) > (self.max_speakers or 32):
            raise ValueError("min_speakers must not be above max_speakers")
        if self.speakers is not None and (self.min_speakers or self.max_speakers):
            raise ValueError("speakers gives the exact count: leave min/max speakers out")
        if self.language is not None and not self.language.isalpha():
            raise ValueError(f"language must be a code such as 'en', not {self.language!r}")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model the studio knows how to get and load.

    name: what the user types (registry name or local path).
    source: hub repo id (``org/name``) or a local path.
    nemo_filename: the ``.nemo`` file inside a hub repo (NeMo models only).
    size_mb: approximate download size, for listings.
    languages: codes the model understands; empty means many / unknown.
    """

    name: str
    engine: EngineKind
    source: str
    description: str = ""
    size_mb: int | None = None
    languages: tuple[str, ...] = ()
    translates: bool = False
    bundled: bool = False
    local: bool = False
    nemo_filename: str | None = None

    @property
    def multilingual(self) -> bool:
        return len(self.languages) != 1


@dataclass(frozen=True, slots=True)
class Audio:
    """Decoded audio: mono float32 at :data:`SAMPLE_RATE_HZ`."""

    samples: npt.NDArray[np.float32] = field(repr=False)
    sample_rate_hz: int
    source: Path | None = None

    @property
    def duration_s(self) -> float:
        return float(len(self.samples)) / self.sample_rate_hz
