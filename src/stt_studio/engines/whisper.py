"""Whisper through faster-whisper (CTranslate2). The only module importing it."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stt_studio import progress as job_progress
from stt_studio.domain import (
    SAMPLE_RATE_HZ,
    Audio,
    ComputeType,
    ModelSpec,
    Segment,
    Task,
    TranscriptionOptions,
    Word,
)
from stt_studio.engines import device as placing
from stt_studio.engines.base import DecodeSignals, EngineOutput, ModelInfo
from stt_studio.engines.device import Placement
from stt_studio.errors import InvalidOptionError
from stt_studio.retry import Retrier

log = logging.getLogger(__name__)

#: Whisper hears 30 s at a time; a batched piece is at most that long
BATCH_WINDOW_S = 30.0
#: what ``--compute-type auto`` means, first choice first (the studio's defaults of old)
CUDA_PREFERRED = ("float16", "int8", "float32")
CPU_PREFERRED = ("int8", "float32")


def create_engine(retrier: Retrier, scratch_home: Path) -> WhisperEngine:
    return WhisperEngine(retrier)


@dataclass(slots=True)
class WhisperEngine:
    retrier: Retrier

    def place(self, requested: str, compute_type: ComputeType) -> Placement:
        """``auto``: CUDA once a test encode ran there (:mod:`.device`), else the CPU."""
        import ctranslate2

        view = placing.ctranslate2_view() if requested != "cpu" else None
        if view is not None and view.works:
            return Placement("cuda", placing.choose_compute_type(
                compute_type, engine="Whisper", device="cuda", supported=view.compute_types,
                preferred=CUDA_PREFERRED,
                rule=f"CTranslate2 on this GPU offers {', '.join(view.compute_types)}"))
        if requested == "cuda" and view is not None:
            raise placing.cuda_unusable("Whisper", view, placing.CTRANSLATE2_GPU_HOW)
        note = (placing.fallback_note(view, "Whisper", placing.CTRANSLATE2_GPU_HOW)
                if view is not None else None)
        on_cpu = tuple(sorted(ctranslate2.get_supported_compute_types("cpu")))
        return Placement("cpu", placing.choose_compute_type(
            compute_type, engine="Whisper", device="cpu", supported=on_cpu,
            preferred=CPU_PREFERRED, rule=f"CTranslate2 on this CPU offers {', '.join(on_cpu)}",
            why_cpu=note), note)

    def load(self, spec: ModelSpec, model_dir: Path, placement: Placement) -> WhisperModel:
        from faster_whisper import WhisperModel as _FW

        device, compute_type = placement.device, placement.compute_type
        log.info("loading Whisper %s from %s on %s (%s)", spec.name, model_dir, device,
                 compute_type)
        model = self.retrier.run(
            lambda: _FW(str(model_dir), device=device, compute_type=compute_type),
            f"load {model_dir}",
        )
        languages = tuple(model.supported_languages) if model.model.is_multilingual else ("en",)
        info = ModelInfo(languages=languages, translates=model.model.is_multilingual,
                         timestamps=True, max_window_s=BATCH_WINDOW_S,
                         sequential_long_form=True)
        return WhisperModel(spec=spec, device=device, info=info, model=model,
                            compute_type=compute_type)


@dataclass(slots=True)
class WhisperModel:
    spec: ModelSpec
    device: str
    info: ModelInfo
    model: Any = field(repr=False)
    compute_type: str = "int8"
    _pipeline: Any = field(default=None, repr=False)

    def transcribe(self, audio: Audio, options: TranscriptionOptions) -> EngineOutput:
        return self.transcribe_batch([audio], options)[0]

    def transcribe_batch(self, pieces: Sequence[Audio], options: TranscriptionOptions, *,
                         local_attention: bool = False) -> list[EngineOutput]:
        self._check(options)
        if not pieces:
            return []
        longest_s = max(p.duration_s for p in pieces)
        # faster-whisper's batched pipeline never samples (greedy/beam whatever the
        # temperature): a temperature above 0 needs its sequential decoder
        if options.batch_size == 1 or options.temperature > 0 or longest_s > BATCH_WINDOW_S:
            return [self._sequential(p, options) for p in pieces]
        return self._batched(pieces, options)

    def _check(self, options: TranscriptionOptions) -> None:
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

    def _sequential(self, audio: Audio, options: TranscriptionOptions) -> EngineOutput:
        """faster-whisper's own long-form decoder (30 s windows, previous text as prompt)."""
        segments, info = self.model.transcribe(
            audio.samples,
            language=options.language,
            task=options.task.value,
            beam_size=options.beam_size,
            word_timestamps=options.word_timestamps,
            vad_filter=False,  # the studio's VAD chose this audio already
            **_sampling(options),
        )
        out = []
        total_s = max(audio.duration_s, 1e-9)
        for raw in segments:  # the generator does the work, segment by segment
            if _hallucinated(raw):
                log.info("left out %r at %.1f s: heard in a window judged silent, its words "
                         "improbable", raw.text.strip(), raw.start)
            else:
                out.append(_segment(raw, 0.0))
            job_progress.advance(raw.end / total_s)  # also where a cancelled job stops
        return EngineOutput(segments=tuple(out), language=info.language)

    def _batched(self, pieces: Sequence[Audio],
                 options: TranscriptionOptions) -> list[EngineOutput]:
        """faster-whisper's BatchedInferencePipeline: one piece per 30 s window, decoded together.

        The pieces are laid end to end and handed over as ``clip_timestamps``,
        so the pipeline decodes exactly them, ``batch_size`` at a time.
        """
        if self._pipeline is None:
            from faster_whisper import BatchedInferencePipeline

            self._pipeline = BatchedInferencePipeline(self.model)
        offsets_s = []
        at_s = 0.0
        for piece in pieces:
            offsets_s.append(at_s)
            at_s += len(piece.samples) / SAMPLE_RATE_HZ
        joined = np.concatenate([np.asarray(p.samples, dtype=np.float32) for p in pieces])
        clips = [{"start": o, "end": o + p.duration_s} for o, p in zip(offsets_s, pieces)]
        segments, info = self._pipeline.transcribe(
            joined,
            language=options.language,
            task=options.task.value,
            beam_size=options.beam_size,
            word_timestamps=options.word_timestamps,
            batch_size=options.batch_size,
            vad_filter=False,
            clip_timestamps=clips,
            **_sampling(options),
        )
        per_piece: list[list[Segment]] = [[] for _ in pieces]
        signals: list[DecodeSignals | None] = [None for _ in pieces]
        total_s = max(at_s, 1e-9)
        for raw in segments:
            middle_s = (float(raw.start) + float(raw.end)) / 2  # starts are rounded
            index = max(bisect.bisect_right(offsets_s, middle_s) - 1, 0)
            per_piece[index].extend(_sentences(raw, offsets_s[index]))
            signals[index] = _worst(signals[index], raw)
            job_progress.advance(raw.end / total_s)
        return [EngineOutput(tuple(segs), info.language, signals=signal)
                for segs, signal in zip(per_piece, signals)]

    def close(self) -> None:
        self.model = None


#: faster-whisper's own thresholds: a window it judges silent, a word it finds anomalous
NO_SPEECH_MIN = 0.6
WORD_PROBABILITY_MIN = 0.15
WORD_SHORTEST_S = 0.133


def _hallucinated(raw: Any) -> bool:
    """A segment Whisper made up over the quiet end of the audio ("Thank you very much.").

    Two of faster-whisper's own tests together: the window it came from is
    more likely silent than not (its no-speech probability; faster-whisper
    drops such a window only when its log-probability is also low), and its
    words are anomalous by faster-whisper's hallucination score (improbable,
    or too short to be spoken).
    """
    if float(raw.no_speech_prob) <= NO_SPEECH_MIN or not raw.words:
        return False
    words = [w for w in raw.words if w.word.strip(" .,!?'\"-")][:8]
    if not words:
        return False
    score = 0.0
    for w in words:
        duration_s = float(w.end) - float(w.start)
        score += 1.0 if float(w.probability) < WORD_PROBABILITY_MIN else 0.0
        score += max(WORD_SHORTEST_S - duration_s, 0.0) * 15
        score += max(duration_s - 2.0, 0.0)
    return score >= 3 or score + 0.01 >= len(words)


def _worst(known: DecodeSignals | None, raw: Any) -> DecodeSignals:
    """A window's signals (the pipeline repeats them on each of its segments)."""
    now = DecodeSignals(float(raw.avg_logprob), float(raw.compression_ratio),
                        float(raw.no_speech_prob))
    if known is None:
        return now
    return DecodeSignals(min(known.avg_logprob, now.avg_logprob),
                         max(known.compression_ratio, now.compression_ratio),
                         max(known.no_speech_prob, now.no_speech_prob))


def _sampling(options: TranscriptionOptions) -> dict[str, Any]:
    """The prompt and temperature, as faster-whisper takes them.

    Temperature 0 keeps faster-whisper's own schedule (0, then higher on a
    failed window), which is what OpenAI's API means by 0; above 0 it samples
    at that temperature.
    """
    chosen: dict[str, Any] = {}
    if options.initial_prompt:
        chosen["initial_prompt"] = options.initial_prompt
    if options.temperature > 0:
        chosen["temperature"] = options.temperature
    return chosen


def _segment(raw: Any, offset_s: float) -> Segment:
    words = tuple(
        Word(start_s=float(w.start) - offset_s, end_s=float(w.end) - offset_s,
             text=w.word.strip())
        for w in (raw.words or ())
    )
    return Segment(start_s=float(raw.start) - offset_s, end_s=float(raw.end) - offset_s,
                   text=raw.text.strip(), words=words)


SENTENCE_END = (".", "?", "!", "。", "？", "！")


def _sentences(raw: Any, offset_s: float) -> list[Segment]:
    """A 30 s batched segment -> one segment per sentence (split on its words).

    The pipeline decodes without timestamp tokens (their mode costs accuracy),
    so each piece comes back as one segment; its words say where sentences end.
    """
    words = list(raw.words or ())
    if not words:
        return [_segment(raw, offset_s)]
    out: list[Segment] = []
    start = 0
    for i, word in enumerate(words):
        if i == len(words) - 1 or word.word.strip().endswith(SENTENCE_END):
            part = words[start:i + 1]
            text = "".join(w.word for w in part).strip()
            out.append(Segment(
                start_s=float(part[0].start) - offset_s, end_s=float(part[-1].end) - offset_s,
                text=text,
                words=tuple(Word(float(w.start) - offset_s, float(w.end) - offset_s,
                                 w.word.strip()) for w in part),
            ))
            start = i + 1
    return out
