"""Turns from speech scores by server_vad's rules; Silero scoring audio as it arrives."""

from __future__ import annotations

import numpy as np
import pytest

from stt_studio.audio.decode import decode_file
from stt_studio.errors import InvalidOptionError
from stt_studio.live.detector import CHUNK_SAMPLES, SileroScores, TurnDetector, TurnRules

CHUNK_MS = 32


def test_a_turn_opens_with_padding_and_closes_after_the_silence():
    rules = TurnRules(threshold=0.5, prefix_padding_ms=320, silence_duration_ms=320)
    d = TurnDetector(rules)
    edges = d.feed([0.1] * 20 + [0.9] * 10)
    assert len(edges) == 1 and edges[0].started
    assert edges[0].sample == 20 * CHUNK_SAMPLES - 320 * 16  # 10 chunks of padding
    # a score between the low and the high threshold is neither: the silence has not begun
    assert d.feed([0.4] * 30) == []
    edges = d.feed([0.1] * 9)
    assert edges == []  # 9 chunks = 288 ms < 320 ms
    edges = d.feed([0.1])
    assert len(edges) == 1 and not edges[0].started
    assert edges[0].sample == 60 * CHUNK_SAMPLES + 200 * 16  # where the silence began, + tail


def test_a_short_dip_does_not_close_the_turn():
    d = TurnDetector(TurnRules(silence_duration_ms=500))
    d.feed([0.9] * 5)
    assert d.feed([0.0] * 10 + [0.9] * 5) == []
    assert d.open


def test_close_and_bad_rules():
    d = TurnDetector(TurnRules())
    d.feed([0.9] * 3)
    edge = d.close()
    assert edge is not None and edge.sample == 3 * CHUNK_SAMPLES
    assert d.close() is None
    with pytest.raises(InvalidOptionError, match="threshold"):
        TurnRules(threshold=1.5)
    with pytest.raises(InvalidOptionError, match="silence_duration_ms"):
        TurnRules(silence_duration_ms=-1)


def test_streamed_scores_find_the_speech_of_a_real_recording(jfk):
    audio = decode_file(jfk).samples
    silence = np.zeros(16_000, np.float32)
    samples = np.concatenate([silence, audio, silence])
    scorer = SileroScores()
    scores: list[float] = []
    for at in range(0, len(samples), 1_000):  # 62.5 ms at a time, not chunk-aligned
        scores.extend(scorer.feed(samples[at:at + 1_000]))
    assert len(scores) == len(samples) // CHUNK_SAMPLES
    d = TurnDetector(TurnRules())
    edges = d.feed(scores)
    starts = [e.sample for e in edges if e.started]
    assert starts and 0.5 * 16_000 <= starts[0] <= 1.5 * 16_000  # the speech after 1 s
    assert max(scores[: 16_000 // CHUNK_SAMPLES - 2]) < 0.5  # the silence before it
