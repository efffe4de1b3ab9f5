"""Where voices are sampled: windows over the speech, and the voiced part of the VAD's spans."""

from __future__ import annotations

import numpy as np
import pytest

from stt_studio.audio.vad import Span
from stt_studio.diarize.windows import HOP_S, MIN_SPEECH_S, SPLIT_PAUSE_S, WINDOW_S, plan, voiced

RATE = 16_000
SIZE = int(WINDOW_S * RATE)
HOP = int(HOP_S * RATE)


def span_s(start_s: float, end_s: float) -> Span:
    return Span(int(round(start_s * RATE)), int(round(end_s * RATE)))


def covered(windows, span: Span) -> bool:
    """Every sample of ``span`` lies in a window that lies inside ``span``."""
    mask = np.zeros(span.end_sample - span.start_sample, dtype=bool)
    for w in windows:
        if span.start_sample <= w.start_sample and w.end_sample <= span.end_sample:
            mask[w.start_sample - span.start_sample:w.end_sample - span.start_sample] = True
    return bool(mask.all())


def test_a_long_span_gets_full_windows_a_hop_apart_and_one_at_its_end():
    span = span_s(2.0, 6.3)
    windows = plan((span,))
    starts = [w.start_sample for w in windows]
    assert all(w.end_sample - w.start_sample == SIZE for w in windows)
    assert starts[:4] == [span.start_sample + k * HOP for k in range(4)]
    assert windows[-1].end_sample == span.end_sample  # the tail is heard too
    assert covered(windows, span)


def test_a_span_of_whole_hops_gets_no_extra_window():
    span = Span(0, SIZE + 2 * HOP)
    assert [w.start_sample for w in plan((span,))] == [0, HOP, 2 * HOP]


@pytest.mark.parametrize("seed", range(5))
def test_every_span_is_covered_and_no_window_crosses_a_pause(seed):
    rng = np.random.default_rng(seed)
    at, spans = 0.0, []
    for _ in range(12):
        at += float(rng.uniform(0.1, 2.0))
        length = float(rng.uniform(MIN_SPEECH_S + 0.01, 9.0))
        spans.append(span_s(at, at + length))
        at += length
    windows = plan(tuple(spans))
    for span in spans:
        assert covered(windows, span), span
    for w in windows:
        assert sum(s.start_sample <= w.start_sample and w.end_sample <= s.end_sample
                   for s in spans) == 1
        assert 0 < w.end_sample - w.start_sample <= SIZE


def test_short_spans_one_window_each_and_crumbs_none():
    exact, short, crumb = Span(0, SIZE), span_s(3.0, 3.7), span_s(5.0, 5.0 + MIN_SPEECH_S / 2)
    windows = plan((exact, short, crumb))
    assert [(w.start_sample, w.end_sample) for w in windows] == [
        (exact.start_sample, exact.end_sample), (short.start_sample, short.end_sample)]
    assert plan(()) == []


def test_the_hop_is_the_callers():
    windows = plan((span_s(0.0, 4.0),), window_s=1.0, hop_s=0.5)
    assert [w.start_sample for w in windows] == [k * RATE // 2 for k in range(7)]
    assert windows[-1].end_sample == 4 * RATE


# -- voiced -----------------------------------------------------------------------------
def talk(total_s: float, parts: list[tuple[float, float]], *, level: float = 0.3,
         floor: float = 0.0, seed: int = 0) -> np.ndarray:
    """Noise bursts (a stand-in for a voice) at ``parts``, over a ``floor`` of quiet noise."""
    rng = np.random.default_rng(seed)
    samples = (rng.standard_normal(int(total_s * RATE)) * floor).astype(np.float32)
    for start, end in parts:
        a, b = int(start * RATE), int(end * RATE)
        samples[a:b] = (rng.standard_normal(b - a) * level).astype(np.float32)
    return samples


def seconds(spans) -> list[tuple[float, float]]:
    return [(s.start_sample / RATE, s.end_sample / RATE) for s in spans]


@pytest.mark.parametrize("floor", [0.0, 0.003])  # digital silence; a -40 dB room
def test_quiet_edges_are_trimmed_and_a_long_pause_splits(floor):
    samples = talk(5.0, [(1.0, 2.0), (2.5, 3.5)], floor=floor)
    out = seconds(voiced(samples, (span_s(0.5, 4.0),)))
    assert len(out) == 2
    for (start, end), (want_start, want_end) in zip(out, [(1.0, 2.0), (2.5, 3.5)]):
        assert start == pytest.approx(want_start, abs=0.011)
        assert end == pytest.approx(want_end, abs=0.011)


def test_a_pause_shorter_than_the_split_does_not_split():
    gap_s = SPLIT_PAUSE_S - 0.1
    samples = talk(4.0, [(0.5, 1.5), (1.5 + gap_s, 3.0)])
    out = seconds(voiced(samples, (span_s(0.2, 3.5),)))
    assert len(out) == 1
    assert out[0][0] == pytest.approx(0.5, abs=0.011)
    assert out[0][1] == pytest.approx(3.0, abs=0.011)


def test_spans_are_handled_one_by_one_in_their_block():
    samples = talk(8.0, [(1.0, 2.0), (5.0, 6.5)])
    out = seconds(voiced(samples, (span_s(0.6, 2.4), span_s(4.6, 7.0))))
    assert [round(a, 1) for a, _ in out] == [1.0, 5.0]
    assert [round(b, 1) for _, b in out] == [2.0, 6.5]


def test_steady_noise_is_kept_whole_and_silence_is_dropped():
    noise = talk(3.0, [(0.0, 3.0)], level=0.01)
    span = span_s(0.5, 2.5)
    assert voiced(noise, (span,)) == (span,)  # nothing quieter inside: one span, untouched
    assert voiced(np.zeros(3 * RATE, np.float32), (span,)) == ()


def test_spans_too_short_to_judge_are_kept_as_they_are():
    samples = talk(1.0, [(0.0, 1.0)])
    tiny = Span(100, 100 + 2 * RATE // 100)  # two 10 ms frames
    assert voiced(samples, (tiny,)) == (tiny,)
    assert voiced(samples, (Span(50, 50),)) == ()
