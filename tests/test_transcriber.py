"""Pieces of successive blocks share full batches; each block is merged once, in order."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from stt_studio import longform
from stt_studio.audio.blocks import Block
from stt_studio.audio.vad import Span
from stt_studio.domain import (
    SAMPLE_RATE_HZ,
    Audio,
    EngineKind,
    ModelSpec,
    Segment,
    TranscriptionOptions,
    Word,
)
from stt_studio.engines.base import EngineOutput, ModelInfo
from stt_studio.settings import Settings
from stt_studio.transcriber import Transcriber

RATE = SAMPLE_RATE_HZ


@dataclass
class CountingModel:
    """Says a word every half second of each piece, all named by its length in whole seconds."""

    spec: ModelSpec = field(default_factory=lambda: ModelSpec("fake", EngineKind.NEMO, "x"))
    device: str = "cpu"
    info: ModelInfo = field(default_factory=lambda: ModelInfo(("en",), False, True, 30.0))
    batches: list[int] = field(default_factory=list)

    def transcribe_batch(self, pieces, options, *, local_attention=False):
        self.batches.append(len(pieces))
        out = []
        for piece in pieces:
            name = f"w{round(piece.duration_s)}"
            words = tuple(Word(at / 2 + 0.1, at / 2 + 0.4, name)
                          for at in range(int(piece.duration_s * 2)))
            out.append(EngineOutput((Segment(words[0].start_s, words[-1].end_s,
                                             " ".join(w.text for w in words), words),), "en"))
        return out

    def transcribe(self, audio: Audio, options):  # pragma: no cover - not used here
        return self.transcribe_batch([audio], options)[0]

    def close(self) -> None:
        return None


def block(offset_s: float, spans_s: list[tuple[float, float]], length_s: float) -> Block:
    samples = np.zeros(int(length_s * RATE), dtype=np.float32)
    return Block(int(offset_s * RATE), samples,
                 tuple(Span(int(a * RATE), int(b * RATE)) for a, b in spans_s))


def plan_for(model: CountingModel, options: TranscriptionOptions) -> longform.Plan:
    return longform.choose(model.info, model.spec, options, None,
                           Settings(long_audio_window_s=30.0))


@pytest.mark.parametrize(("batch_size", "expected"), [(4, [4, 4, 1]), (1, [1] * 9),
                                                      (16, [9])])
def test_batches_fill_across_blocks(batch_size, expected):
    model = CountingModel()
    options = TranscriptionOptions(batch_size=batch_size)
    run = Transcriber(model, options, plan_for(model, options), total_s=300.0)
    spans = [(0.0, 20.0), (40.0, 60.0), (75.0, 95.0)]  # three 20 s pieces a block (window 30)
    for offset_s in (0.0, 100.0, 200.0):
        run.add(block(offset_s, spans, 100.0))
    run.finish()
    assert model.batches == expected  # block by block would be [3, 3, 3]
    starts = [seg.start_s for seg in run.segments]
    # each piece's first word, in the block's time, shifted by the block's offset
    assert starts == pytest.approx([o + a + 0.1 for o in (0.0, 100.0, 200.0)
                                    for a, _ in spans], abs=1e-3)


def test_a_block_without_speech_waits_its_turn():
    model = CountingModel()
    options = TranscriptionOptions(batch_size=4)
    run = Transcriber(model, options, plan_for(model, options), total_s=300.0)
    run.add(block(0.0, [(0.0, 20.0)], 100.0))
    run.add(block(100.0, [], 100.0))  # silence only
    run.add(block(200.0, [(0.0, 20.0)], 100.0))
    run.finish()
    assert model.batches == [2]
    assert [round(s.start_s, 1) for s in run.segments] == [0.1, 200.1]
