"""How a recording is cut up for a model: one decision, made once per file.

- Whisper, ``batch_size`` > 1: VAD speech in pieces of at most 30 s, decoded
  ``batch_size`` at a time by faster-whisper's BatchedInferencePipeline.
- Whisper, ``batch_size`` 1: all speech of a block in one piece, for
  faster-whisper's sequential long-form decoder.
- NeMo, windows: speech pieces of at most ``long_audio_window_s`` (and the
  model's limit), cut at pauses, decoded in batches, merged on words.
- NeMo, local attention: all speech of a block in one pass, with NeMo's
  limited-context attention (chosen by ``auto`` above 480 s).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from stt_studio.audio import vad
from stt_studio.domain import LOCAL_ATTENTION_ABOVE_S, LongAudio, ModelSpec, TranscriptionOptions
from stt_studio.engines.base import ModelInfo
from stt_studio.errors import InvalidOptionError
from stt_studio.settings import Settings

#: pieces cut through speech (no pause to cut at) hear this much past the seam
SEAM_OVERLAP_S = 2.0


@dataclass(frozen=True, slots=True)
class Plan:
    block_s: float
    max_piece_s: float | None  # None: all speech of a block in one piece
    overlap_s: float
    batched: bool
    local_attention: bool
    speech: Callable[[np.ndarray], tuple[vad.Span, ...]]
    vad_span_s: float  # the longest speech region the VAD reports

    @property
    def mode(self) -> str:
        """For logs and summaries."""
        if self.local_attention:
            return "local attention"
        if self.max_piece_s is None:
            return "sequential"
        return f"pieces of <= {self.max_piece_s:.0f} s, batched" if self.batched else "pieces"


def choose(info: ModelInfo, spec: ModelSpec, options: TranscriptionOptions,
           total_s: float | None, settings: Settings) -> Plan:
    local = _local_attention(info, spec, options, total_s)
    if info.sequential_long_form and options.batch_size == 1:
        max_piece_s: float | None = None
    elif local:
        max_piece_s = None
    elif info.sequential_long_form:  # Whisper, batched: its 30 s window
        max_piece_s = info.max_window_s
    else:
        max_piece_s = min(info.max_window_s or settings.long_audio_window_s,
                          settings.long_audio_window_s)
    if max_piece_s is None:
        overlap_s = 0.0
    elif not info.timestamps:
        overlap_s = 0.0  # nothing to merge on: pieces meet back to back
    elif options.vad and info.sequential_long_form:
        overlap_s = 0.0  # as faster-whisper's pipeline: VAD cuts at its last pause
    else:
        overlap_s = SEAM_OVERLAP_S
    # speech regions no longer than a piece's own part, so only continuous speech is cut
    span_s = (max_piece_s - 2 * overlap_s if max_piece_s is not None
              else info.max_window_s or settings.long_audio_window_s)
    speech = partial(vad.detect_speech, max_span_s=span_s) if options.vad else vad.whole
    return Plan(block_s=settings.block_s, max_piece_s=max_piece_s, overlap_s=overlap_s,
                batched=max_piece_s is not None, local_attention=local, speech=speech,
                vad_span_s=span_s)


def _local_attention(info: ModelInfo, spec: ModelSpec, options: TranscriptionOptions,
                     total_s: float | None) -> bool:
    if info.sequential_long_form:  # Whisper: not a NeMo option
        return False
    if options.long_audio is LongAudio.LOCAL_ATTENTION:
        if not info.local_attention:
            raise InvalidOptionError(
                f"{spec.name} has no local-attention mode (its encoder is not a "
                "Conformer with relative positions)",
                remedies=("Use --long-audio windows (or auto)",),
            )
        return True
    if options.long_audio is LongAudio.AUTO:
        return info.local_attention and total_s is not None and total_s > LOCAL_ATTENTION_ABOVE_S
    return False
