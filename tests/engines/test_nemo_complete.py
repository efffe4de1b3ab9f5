"""NeMo windows that come back short are decoded again, alone (issue 15).

The tiny CTC model (random weights, made talkative as in test_nemo_long.py)
says a word every few hundred milliseconds all through JFK. At the engine
boundary its batched windows are cut after their first seconds, as a decoder
that stops early would leave them; the check must hear the rest again,
through the real model, one stretch at a time.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from stt_studio.completeness import GAP_S
from stt_studio.domain import SAMPLE_RATE_HZ, Audio, TranscriptionOptions
from stt_studio.engines.nemo import NemoModel
from tests.conftest import make_studio
from tests.engines.test_nemo_long import WINDOW_S, make_talkative, words_of

pytestmark = pytest.mark.slow

RATE = SAMPLE_RATE_HZ
KEEP_S = 8.0


def cut_after(keep_s: float, careful: list[float]):
    real = NemoModel.transcribe_batch

    def transcribe_batch(self, batch, options, **kwargs):
        outputs = real(self, batch, options, **kwargs)
        if options.batch_size == 1 and len(batch) == 1:  # the careful second decode
            careful.append(batch[0].duration_s)
            return outputs
        return [replace(o, segments=tuple(
            replace(s, words=tuple(w for w in s.words if w.end_s <= keep_s),
                    text=" ".join(w.text for w in s.words if w.end_s <= keep_s))
            for s in o.segments)) for o in outputs]

    return transcribe_batch


def test_windows_cut_short_are_heard_again_and_nothing_is_missing(
        tiny_nemo, session_layout, jfk, monkeypatch):
    from stt_studio.audio.decode import decode_file

    samples = decode_file(jfk).samples
    studio = make_studio(session_layout, long_audio_window_s=WINDOW_S)
    loaded = studio.load(str(tiny_nemo["ctc"]))
    make_talkative(loaded, samples)
    long = Audio(np.concatenate([samples] * 7), RATE)  # 77 s, three windows, no VAD
    options = TranscriptionOptions(vad=False)
    whole = words_of(studio.transcribe_audio(long, loaded, options).segments)

    careful: list[float] = []
    monkeypatch.setattr(NemoModel, "transcribe_batch", cut_after(KEEP_S, careful))
    transcript = studio.transcribe_audio(long, loaded, options)
    got = words_of(transcript.segments)

    assert len(careful) >= 3  # each window's lost part, through the real model
    assert all(seconds > GAP_S for seconds in careful)
    assert transcript.unheard == ()
    assert got[-1].end_s > long.duration_s - 3.0
    gaps = [b.start_s - a.end_s for a, b in zip(got, got[1:])]
    assert max(gaps) < GAP_S
    assert len(got) >= 0.9 * len(whole)
    starts = [w.start_s for w in got]
    assert starts == sorted(starts)
