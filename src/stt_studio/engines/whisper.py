"""Whisper through faster-whisper (CTranslate2). The only module importing it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stt_studio import progress as job_progress
from stt_studio.domain import (
    Audio,
    ModelSpec,
    Segment,
    Stage,
    Task,
    TranscriptionOptions,
    Word,
)
from stt_studio.engines.base import EngineOutput, ModelInfo, cuda_unavailable
from stt_studio.errors import InvalidOptionError
from stt_studio.retry import Retrier

log = logging.getLogger(__name__)


def create_engine(retrier: Retrier, scratch_home: Path) -> WhisperEngine:
    return WhisperEngine(retrier)


@dataclass(slots=True)
class WhisperEngine:
    retrier: Retrier

    def resolve_device(self, requested: str) -> str:
        if requested == "cpu":
            return "cpu"
        import ctranslate2

        has_cuda = ctranslate2.get_cuda_device_count() > 0
        if requested == "cuda" and not has_cuda:
            raise cuda_unavailable("Whisper")
        return "cuda" if has_cuda else "cpu"

    def load(self, spec: ModelSpec, model_dir: Path, device: str) -> WhisperModel:
        from faster_whisper import WhisperModel as _FW

        compute_type = "float16" if device == "cuda" else "int8"
        log.info("loading Whisper %s from %s on %s (%s)", spec.name, model_dir, device,
                 compute_type)
        model = self.retrier.run(
            lambda: _FW(str(model_dir), device=device, compute_type=compute_type),
            f"load {model_dir}",
        )
        languages = tuple(model.supported_languages) if model.model.is_multilingual else ("en",)
        info = ModelInfo(languages=languages, translates=model.model.is_multilingual,
                         timestamps=True, max_window_s=None)
        return WhisperModel(spec=spec, device=device, info=info, model=model)


@dataclass(slots=True)
class WhisperModel:
    spec: ModelSpec
    device: str
    info: ModelInfo
    model: Any = field(repr=False)

    def transcribe(self, audio: Audio, options: TranscriptionOptions) -> EngineOutput:
        language = options.language
        if language and language not in self.info.languages:
            raise InvalidOptionError(
                f"{self.spec.name} does not know the language {language!r}",
                remedies=(f"Use one of: {', '.join(self.info.languages[:30])}",
                          "Or leave --language out to detect it"),
            )
        if options.task is Task.TRANSLATE and options.target_language not in (None, "en"):
            raise InvalidOptionError(
                "Whisper translates into English only",
                remedies=("Leave --target-language out (or set it to en)",
                          "Use a Canary model to translate into de, es or fr"),
            )
        if options.task is Task.TRANSLATE and not self.info.translates:
            raise InvalidOptionError(
                f"{self.spec.name} is English-only and cannot translate",
                remedies=("Use a multilingual Whisper model such as Systran/faster-whisper-small",),
            )
        segments, info = self.model.transcribe(
            audio.samples,
            language=language,
            task=options.task.value,
            beam_size=options.beam_size,
            word_timestamps=options.word_timestamps,
        )
        out = []
        total_s = max(audio.duration_s, 1e-9)
        for raw in segments:  # the generator does the work, segment by segment
            out.append(_segment(raw))
            # also the cancellation checkpoint: a closed page stops the work here
            job_progress.stage(Stage.TRANSCRIBING, f"{raw.end:.0f} of {audio.duration_s:.0f} s",
                               min(raw.end / total_s, 1.0))
        return EngineOutput(segments=tuple(out), language=info.language)

    def close(self) -> None:
        self.model = None


def _segment(raw: Any) -> Segment:
    words = tuple(
        Word(start_s=float(w.start), end_s=float(w.end), text=w.word.strip())
        for w in (raw.words or ())
    )
    return Segment(start_s=float(raw.start), end_s=float(raw.end), text=raw.text.strip(),
                   words=words)
