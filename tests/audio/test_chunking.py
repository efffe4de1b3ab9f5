"""Segments moved and clamped on a recording's timeline."""

from __future__ import annotations

from stt_studio.audio.chunking import clamp, shift
from stt_studio.domain import Segment, Word


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
