"""Long-audio windows: the plan covers the timeline, the merge keeps each segment once."""

from __future__ import annotations

import random

import pytest

from stt_studio.audio.chunking import Window, clamp, merge, plan_windows, shift
from stt_studio.domain import Segment, Word

CASES = [
    # duration, window, overlap
    (1000.0, 300.0, 10.0),
    (301.0, 300.0, 10.0),
    (600.0, 300.0, 10.0),  # exactly two windows' worth
    (590.0, 300.0, 10.0),  # the second window ends exactly at the end
    (3 * 3600.0 + 7.25, 300.0, 10.0),
    (95.5, 30.0, 0.0),  # no overlap (models without timestamps)
    (100.0, 30.0, 29.0),  # extreme overlap
]


def _check_plan(duration: float, window_s: float, overlap_s: float) -> tuple[Window, ...]:
    windows = plan_windows(duration, window_s, overlap_s)
    assert windows[0].start_s == 0.0
    assert windows[-1].end_s == pytest.approx(duration)
    for w in windows:
        assert 0.0 <= w.start_s < w.end_s <= duration + 1e-9
        assert w.end_s - w.start_s <= window_s + 1e-9
        # the owned part lies inside the window
        assert w.start_s <= w.own_start_s < w.own_end_s <= w.end_s + 1e-9
    for a, b in zip(windows, windows[1:]):
        assert b.start_s > a.start_s
        assert a.end_s - b.start_s == pytest.approx(overlap_s)  # consecutive windows overlap
        assert a.own_end_s == pytest.approx(b.own_start_s)  # owned parts tile, no gap/overlap
        assert a.end_s == pytest.approx(a.start_s + window_s)  # only the last one is short
    assert windows[0].own_start_s == 0.0
    assert windows[-1].own_end_s == pytest.approx(duration)
    return windows


@pytest.mark.parametrize(("duration", "window_s", "overlap_s"), CASES)
def test_plan_covers_and_partitions_the_timeline(duration, window_s, overlap_s):
    windows = _check_plan(duration, window_s, overlap_s)
    # every instant belongs to exactly one owned region
    rng = random.Random(duration)
    for t in [0.0, duration - 1e-6] + [rng.uniform(0, duration) for _ in range(500)]:
        owners = [w for w in windows if w.own_start_s <= t < w.own_end_s]
        assert len(owners) == 1, t


def test_plan_window_count():
    assert len(plan_windows(1000.0, 300.0, 10.0)) == 4  # starts 0, 290, 580, 870
    assert len(plan_windows(590.0, 300.0, 10.0)) == 2
    assert len(plan_windows(590.5, 300.0, 10.0)) == 3


@pytest.mark.parametrize("duration", [0.0, 12.5, 300.0])
def test_short_audio_is_one_window(duration):
    assert plan_windows(duration, 300.0, 10.0) == (Window(0.0, duration, 0.0, duration),)


@pytest.mark.parametrize(("window_s", "overlap_s"), [(0, 0), (-5, 0), (30, 30), (30, -1),
                                                     (30, 40)])
def test_plan_rejects_bad_parameters(window_s, overlap_s):
    with pytest.raises(ValueError):
        plan_windows(100.0, window_s, overlap_s)


def test_plan_random_cases_hold_the_invariants():
    rng = random.Random(1234)
    for _ in range(300):
        window_s = rng.uniform(30, 600)
        overlap_s = rng.uniform(0, window_s / 2)
        duration = rng.uniform(window_s, 20 * window_s)
        _check_plan(duration, window_s, overlap_s)


# -- merging -----------------------------------------------------------------------------

def _timeline(duration: float, seed: int, max_len: float) -> list[Segment]:
    """Back-to-back segments with small gaps, each with two words."""
    rng = random.Random(seed)
    segments = []
    t = rng.uniform(0, 1)
    i = 0
    while True:
        length = rng.uniform(0.5, max_len)
        if t + length > duration:
            break
        mid = t + length / 2
        words = (Word(t, mid, f"w{i}a"), Word(mid, t + length, f"w{i}b"))
        segments.append(Segment(t, t + length, f"segment {i}", words))
        t += length + rng.uniform(0.0, 0.8)
        i += 1
    return segments


def _transcribe_windows(windows, segments):
    """What an engine reports per window: whole segments, plus a cut-off piece at each edge,
    all in window-relative time."""
    pieces = []
    for w in windows:
        seen = []
        for seg in segments:
            if seg.start_s >= w.start_s and seg.end_s <= w.end_s:
                seen.append(shift(seg, -w.start_s))
            elif seg.start_s < w.end_s <= seg.end_s or seg.start_s < w.start_s < seg.end_s:
                cut = Segment(max(seg.start_s, w.start_s), min(seg.end_s, w.end_s),
                              seg.text + " (cut)")
                seen.append(shift(cut, -w.start_s))
        pieces.append((w, tuple(seen)))
    return pieces


@pytest.mark.parametrize(("duration", "window_s", "overlap_s"),
                         [c for c in CASES if c[2] >= 5.0])
def test_merge_keeps_each_segment_exactly_once(duration, window_s, overlap_s):
    windows = plan_windows(duration, window_s, overlap_s)
    original = _timeline(duration, seed=int(duration), max_len=min(overlap_s, 5.0))
    pieces = _transcribe_windows(windows, original)
    # the overlaps really produce doubles for merge to remove
    assert sum(len(segs) for _, segs in pieces) > len(original)
    merged = merge(pieces)
    assert [s.text for s in merged] == [s.text for s in original]
    for got, want in zip(merged, original):
        assert got.start_s == pytest.approx(want.start_s)
        assert got.end_s == pytest.approx(want.end_s)
        assert [w.text for w in got.words] == [w.text for w in want.words]
        for gw, ww in zip(got.words, want.words):
            assert gw.start_s == pytest.approx(ww.start_s)
            assert gw.end_s == pytest.approx(ww.end_s)


def test_merge_orders_by_time_whatever_the_piece_order():
    windows = plan_windows(1000.0, 300.0, 10.0)
    original = _timeline(1000.0, seed=7, max_len=5.0)
    pieces = _transcribe_windows(windows, original)
    assert merge(list(reversed(pieces))) == merge(pieces)


def test_merge_keeps_a_segment_that_overshoots_the_end():
    windows = plan_windows(400.0, 300.0, 10.0)
    last = windows[-1]
    overshoot = Segment(399.0 - last.start_s, 401.0 - last.start_s, "tail")
    merged = merge([(windows[0], ()), (last, (overshoot,))])
    assert [s.text for s in merged] == ["tail"]
    assert merged[0].start_s == pytest.approx(399.0)


def test_merge_of_nothing():
    assert merge([]) == ()
    windows = plan_windows(1000.0, 300.0, 10.0)
    assert merge([(w, ()) for w in windows]) == ()


def test_shift_moves_words_too():
    seg = Segment(1.0, 2.0, "hi there", (Word(1.0, 1.4, "hi"), Word(1.5, 2.0, "there")))
    moved = shift(seg, 100.0)
    assert (moved.start_s, moved.end_s) == (101.0, 102.0)
    assert [(w.start_s, w.end_s) for w in moved.words] == [(101.0, 101.4), (101.5, 102.0)]
    assert moved.text == seg.text


# -- clamping ----------------------------------------------------------------------------

def test_clamp_pulls_times_inside_the_audio():
    seg = Segment(-0.02, 10.3, "edge", (Word(-0.02, 0.5, "a"), Word(9.9, 10.3, "b")))
    out = clamp(seg, 10.0)
    assert (out.start_s, out.end_s) == (0.0, 10.0)
    assert [(w.start_s, w.end_s) for w in out.words] == [(0.0, 0.5), (9.9, 10.0)]
    assert out.text == "edge"


def test_clamp_never_lets_end_precede_start():
    seg = Segment(10.5, 10.2, "late", (Word(10.4, 10.1, "x"),))
    out = clamp(seg, 10.0)
    assert out.start_s == out.end_s == 10.0
    assert out.words[0].start_s <= out.words[0].end_s
    reversed_inside = clamp(Segment(5.0, 4.0, "r"), 10.0)
    assert reversed_inside.end_s >= reversed_inside.start_s


def test_clamp_leaves_good_segments_alone():
    seg = Segment(1.0, 2.0, "fine", (Word(1.0, 2.0, "fine"),))
    assert clamp(seg, 10.0) == seg
