"""Labelled windows -> speaker turns over the speech (100 ms frames, flickers smoothed)."""

from __future__ import annotations

import numpy as np
import pytest

from stt_studio.diarize.turns import MIN_RUN_S, frame_turns


def labels(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def sliding(start_s: float, end_s: float, size_s: float = 1.6, hop_s: float = 0.8):
    out, at = [], start_s
    while at + size_s <= end_s + 1e-9:
        out.append((at, at + size_s))
        at += hop_s
    return out


def as_tuples(turns):
    return [(round(t.start_s, 2), round(t.end_s, 2), t.speaker) for t in turns]


def test_two_speakers_in_overlapping_windows_change_where_their_windows_do():
    windows = sliding(0.0, 10.0)  # 0-1.6, 0.8-2.4, … 8.0-9.6
    said = labels(*([0] * 5 + [1] * (len(windows) - 5)))
    turns = frame_turns([(0.0, 10.0)], windows, said)
    assert [t.speaker for t in turns] == [0, 1]
    assert turns[0].start_s == 0.0 and turns[-1].end_s == 10.0
    # where the last window of speaker 0 (3.2-4.8) and the first of 1 (4.0-5.6) overlap
    assert turns[0].end_s == turns[1].start_s
    assert 4.0 - 0.01 <= turns[0].end_s <= 4.8 + 0.01


def test_a_flicker_shorter_than_min_run_is_the_surrounding_speakers():
    short = MIN_RUN_S - 0.1
    windows = [(0.0, 2.0), (2.0, 2.0 + short), (2.0 + short, 4.0)]
    assert as_tuples(frame_turns([(0.0, 4.0)], windows, labels(0, 1, 0))) == [(0.0, 4.0, 0)]


def test_a_run_as_long_as_min_run_is_a_turn():
    windows = [(0.0, 2.0), (2.0, 2.0 + MIN_RUN_S), (2.0 + MIN_RUN_S, 4.0)]
    turns = frame_turns([(0.0, 4.0)], windows, labels(0, 1, 0))
    assert [t.speaker for t in turns] == [0, 1, 0]
    assert turns[1].end_s - turns[1].start_s == pytest.approx(MIN_RUN_S, abs=0.01)


def test_a_short_run_between_two_other_speakers_is_not_smoothed_away():
    windows = [(0.0, 2.0), (2.0, 2.2), (2.2, 4.0)]
    turns = frame_turns([(0.0, 4.0)], windows, labels(0, 1, 2))
    assert [t.speaker for t in turns] == [0, 1, 2]


def test_no_turn_bridges_a_pause():
    speech = [(0.0, 2.0), (3.0, 5.0)]
    windows = [(0.0, 1.6), (0.4, 2.0), (3.0, 4.6), (3.4, 5.0)]
    turns = frame_turns(speech, windows, labels(0, 0, 0, 0))
    assert as_tuples(turns) == [(0.0, 2.0, 0), (3.0, 5.0, 0)]
    # the same with a change of speaker across the pause
    turns = frame_turns(speech, windows, labels(0, 0, 1, 1))
    assert as_tuples(turns) == [(0.0, 2.0, 0), (3.0, 5.0, 1)]


def test_speech_without_a_window_of_its_own_follows_the_nearest_window():
    speech = [(0.0, 6.0), (7.0, 7.2)]  # the crumb at 7.0 gets no window (too short)
    windows = [(0.0, 1.6), (4.4, 6.0)]
    turns = frame_turns(speech, windows, labels(0, 1))
    assert [t.speaker for t in turns] == [0, 1, 1]
    assert turns[0].end_s == pytest.approx(3.0, abs=0.11)  # halfway between the windows
    assert (turns[-1].start_s, turns[-1].end_s) == pytest.approx((7.0, 7.2))


@pytest.mark.parametrize("where_s", [0.0, 4.75, 9.5])
def test_a_half_second_turn_survives_or_is_absorbed_but_never_breaks_the_turns(where_s):
    windows = [w for w in sliding(0.0, 10.0) if not (w[0] < where_s + 0.5 and where_s < w[1])]
    said = [0] * len(windows)
    windows.append((where_s, where_s + 0.5))
    said.append(1)
    order = np.argsort([w[0] for w in windows])
    turns = frame_turns([(0.0, 10.0)], [windows[i] for i in order], labels(*np.array(said)[order]))
    assert turns[0].start_s == 0.0 and turns[-1].end_s == 10.0
    for before, after in zip(turns, turns[1:]):
        assert before.end_s == pytest.approx(after.start_s)  # no gap, no overlap
        assert before.speaker != after.speaker
    assert {t.speaker for t in turns} <= {0, 1}
    assert sum(t.end_s - t.start_s for t in turns) == pytest.approx(10.0)


def test_speakers_are_numbered_by_first_appearance():
    windows = [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0)]
    turns = frame_turns([(0.0, 6.0)], windows, labels(2, 0, 2))
    assert [t.speaker for t in turns] == [0, 1, 0]


def test_nothing_to_go_on_gives_no_turns():
    assert frame_turns([], [(0.0, 1.6)], labels(0)) == ()
    assert frame_turns([(0.0, 2.0)], [], labels()) == ()
