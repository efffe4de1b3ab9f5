"""Speech spans -> pieces for an engine, and their words -> one timeline (pure code)."""

from __future__ import annotations

import numpy as np
import pytest

from stt_studio.audio import pieces
from stt_studio.audio.pieces import Piece
from stt_studio.audio.vad import Span
from stt_studio.domain import SAMPLE_RATE_HZ, Segment, Word

RATE = SAMPLE_RATE_HZ


def positions(n: int) -> np.ndarray:
    """Samples whose values are their own positions (exact in float32 below 2**24)."""
    return np.arange(n, dtype=np.float32)


def random_spans(rng: np.random.Generator, n: int, *, touching: float) -> list[Span]:
    """Spans of 0.3-40 s; with probability ``touching`` a span starts where the last ended."""
    spans = []
    at = int(rng.uniform(0, 2) * RATE)
    while at < n - RATE:
        end = min(at + int(rng.uniform(0.3, 40) * RATE), n)
        spans.append(Span(at, end))
        at = end if rng.random() < touching else end + int(rng.uniform(0.2, 3) * RATE)
    return spans


def coverage(plan: list[Piece], n: int) -> np.ndarray:
    counts = np.zeros(n, dtype=np.int32)
    for piece in plan:
        for s in piece.stretches:
            counts[s.source_start:s.source_start + s.length] += 1
    return counts


CASES = [(seed, max_piece_s, overlap_s)
         for seed in range(4) for max_piece_s, overlap_s in ((30.0, 0.0), (30.0, 2.0), (60.0, 2.0))]


@pytest.mark.parametrize(("seed", "max_piece_s", "overlap_s"), CASES)
def test_plan_covers_every_span_once_and_overlaps_only_where_pieces_meet(seed, max_piece_s,
                                                                         overlap_s):
    rng = np.random.default_rng(seed)
    n = int(rng.uniform(200, 400) * RATE)
    samples = positions(n)
    spans = random_spans(rng, n, touching=0.3)
    plan = pieces.plan(samples, spans, max_piece_s=max_piece_s, overlap_s=overlap_s)
    overlap = int(overlap_s * RATE)

    speech = np.zeros(n, dtype=bool)
    for span in spans:
        speech[span.start_sample:span.end_sample] = True
    counts = coverage(plan, n)
    assert np.all(counts[speech] >= 1), "a span was left out"
    assert np.all(counts[~speech] == 0), "a pause reached the engine"

    # the pieces own the recording in order, each span sample by exactly one piece
    owners = np.zeros(n, dtype=np.int32)
    for a, b in zip(plan, plan[1:]):
        assert a.own_end <= b.own_start
    for piece in plan:
        owners[piece.own_start:piece.own_end] += 1
        assert len(piece.samples) <= int(max_piece_s * RATE)
        # the piece's audio is its stretches, laid end to end
        expected = np.concatenate([samples[s.source_start:s.source_start + s.length]
                                   for s in piece.stretches])
        assert np.array_equal(piece.samples, expected)
    assert np.all(owners[speech] == 1)

    # heard twice only within `overlap` of a seam where two pieces meet without a pause
    seams = [a.own_end for a, b in zip(plan, plan[1:]) if a.own_end == b.own_start]
    twice = np.flatnonzero(counts >= 2)  # 3: a piece shorter than 2 overlaps
    if overlap == 0:
        assert twice.size == 0
    else:
        assert seams, "the layout has spans that meet: there must be seams"
        near = np.zeros(n, dtype=bool)
        for seam in seams:
            near[max(seam - overlap, 0):seam + overlap] = True
        assert np.all(near[twice])
        for seam in seams:  # and both sides of each seam really are heard twice
            assert counts[seam - 1] >= 2 and counts[min(seam, n - 1)] >= 2


def test_one_long_span_is_cut_into_pieces_that_hear_past_each_seam():
    n = 100 * RATE
    plan = pieces.plan(positions(n), [Span(0, n)], max_piece_s=30.0, overlap_s=2.0)
    owned = [(p.own_start / RATE, p.own_end / RATE) for p in plan]
    assert owned == [(0.0, 26.0), (26.0, 52.0), (52.0, 78.0), (78.0, 100.0)]
    heard = [(p.source_start_s, p.source_end_s) for p in plan]
    assert heard == [(0.0, 28.0), (24.0, 54.0), (50.0, 80.0), (76.0, 100.0)]
    assert all(p.duration_s <= 30.0 for p in plan)


def test_no_limit_gives_one_piece_of_all_speech():
    n = 50 * RATE
    spans = [Span(RATE, 5 * RATE), Span(20 * RATE, 30 * RATE), Span(40 * RATE, 49 * RATE)]
    plan = pieces.plan(positions(n), spans, max_piece_s=None, overlap_s=2.0)
    assert len(plan) == 1
    assert plan[0].duration_s == pytest.approx(4 + 10 + 9)
    assert pieces.plan(positions(n), [], max_piece_s=30.0) == []


@pytest.mark.parametrize("seed", range(3))
def test_times_map_back_with_the_pauses_restored(seed):
    rng = np.random.default_rng(100 + seed)
    n = 300 * RATE
    samples = positions(n)
    plan = pieces.plan(samples, random_spans(rng, n, touching=0.2), max_piece_s=30.0,
                       overlap_s=2.0)
    for piece in plan:
        for i in rng.integers(0, len(piece.samples), 200):
            block_s = piece.to_block_s(int(i) / RATE)
            assert round(block_s * RATE) == int(piece.samples[i])


def test_a_pause_between_spans_is_put_back():
    n = 30 * RATE
    plan = pieces.plan(positions(n), [Span(RATE, 3 * RATE), Span(10 * RATE, 12 * RATE)],
                       max_piece_s=30.0)
    (piece,) = plan
    assert piece.duration_s == 4.0
    assert piece.to_block_s(0.5) == pytest.approx(1.5)
    assert piece.to_block_s(2.5) == pytest.approx(10.5)  # 7 s of pause restored
    # a word over the join keeps both ends in the stretch holding its middle
    assert piece.to_block_s(2.2, anchor_s=1.95) == pytest.approx(3.0)
    assert piece.to_block_s(1.8, anchor_s=2.05) == pytest.approx(10.0)


# -- merging ------------------------------------------------------------------------------

def heard_by(piece: Piece, words: list[Word]) -> list[Segment]:
    """What an exact engine returns for ``piece``: every word lying whole in one stretch."""
    out = []
    for w in words:
        for s in piece.stretches:
            a, b = s.source_start / RATE, (s.source_start + s.length) / RATE
            if a <= w.start_s and w.end_s <= b:
                shift = s.piece_start / RATE - a
                out.append(Word(w.start_s + shift, w.end_s + shift, w.text))
                break
    # segments of ~5 words, as an engine makes them
    return [Segment(chunk[0].start_s, chunk[-1].end_s, " ".join(x.text for x in chunk),
                    tuple(chunk)) for chunk in (out[i:i + 5] for i in range(0, len(out), 5))]


@pytest.mark.parametrize("overlap_s", [0.0, 2.0])
def test_merge_keeps_each_word_once_even_words_cut_by_a_seam(overlap_s):
    n = 120 * RATE
    words = [Word(t, t + 0.35, f"w{i}") for i, t in enumerate(np.arange(0.1, 119.5, 0.41))]
    plan = pieces.plan(positions(n), [Span(0, n)], max_piece_s=30.0, overlap_s=overlap_s)
    seams_s = [p.own_end / RATE for p in plan[:-1]]
    cut = [w.text for w in words if any(w.start_s < s < w.end_s for s in seams_s)]
    assert cut, "some words must straddle a seam"
    merged = pieces.merge(plan, [heard_by(p, words) for p in plan])
    got = [w for seg in merged for w in seg.words]
    texts = [w.text for w in got]
    assert len(texts) == len(set(texts)), "a word was kept twice"
    if overlap_s:  # every word heard whole by some piece comes back, at its own time
        assert texts == [w.text for w in words]
        for w, original in zip(got, words):
            assert w.start_s == pytest.approx(original.start_s, abs=1e-4)
            assert w.end_s == pytest.approx(original.end_s, abs=1e-4)
    else:  # back to back, a word cut by the seam is heard by neither piece
        assert texts == [w.text for w in words if w.text not in cut]
    for seg in merged:
        assert seg.text == " ".join(w.text for w in seg.words)
        assert seg.start_s == seg.words[0].start_s and seg.end_s == seg.words[-1].end_s


def test_merge_maps_words_back_over_pauses():
    n = 60 * RATE
    spans = [Span(2 * RATE, 4 * RATE), Span(20 * RATE, 22 * RATE), Span(40 * RATE, 43 * RATE)]
    plan = pieces.plan(positions(n), spans, max_piece_s=4.5)
    assert len(plan) == 2  # 2 s + 2 s, then 3 s
    words = [Word(2.5, 3.0, "a"), Word(20.2, 20.9, "b"), Word(41.0, 41.5, "c")]
    merged = pieces.merge(plan, [heard_by(p, words) for p in plan])
    got = [(w.start_s, w.end_s, w.text) for s in merged for w in s.words]
    assert [t for *_, t in got] == ["a", "b", "c"]
    assert np.allclose([(a, b) for a, b, _ in got], [(2.5, 3.0), (20.2, 20.9), (41.0, 41.5)])


def test_segments_without_words_are_kept_by_their_middle():
    n = 100 * RATE
    plan = pieces.plan(positions(n), [Span(0, n)], max_piece_s=30.0, overlap_s=2.0)
    # a segment in the overlap after the first seam (26 s) is heard by pieces 0 and 1
    first = [Segment(25.0, 25.5, "early"), Segment(26.5, 27.5, "late")]
    second = [Segment(1.0, 1.5, "early"), Segment(2.5, 3.5, "late")]  # piece 1 starts at 24 s
    merged = pieces.merge(plan, [first, second, [], []])
    assert [(s.text, s.start_s, s.end_s) for s in merged] == [("early", 25.0, 25.5),
                                                               ("late", 26.5, 27.5)]


def test_a_segment_across_a_left_out_pause_becomes_two():
    """Speech before and after a long pause shares a piece; its segment must not span the pause."""
    n = 120 * RATE
    spans = [Span(54 * RATE, 60 * RATE), Span(114 * RATE, 119 * RATE)]
    plan = pieces.plan(positions(n), spans, max_piece_s=30.0)
    assert len(plan) == 1  # 11 s of speech: one piece, the 54 s pause left out
    words = [Word(55.0, 55.5, "what"), Word(56.5, 57.0, "country."),
             Word(114.5, 115.0, "and"), Word(115.5, 116.0, "not")]
    one_segment = heard_by(plan[0], words)
    assert len(one_segment) == 1  # as Whisper answers: one sentence over the seam
    merged = pieces.merge(plan, [one_segment])
    assert [(s.start_s, s.end_s, s.text) for s in merged] == [
        (55.0, 57.0, "what country."), (114.5, 116.0, "and not")]
    close = [Word(55.0, 55.5, "a"), Word(56.0, 56.5, "b")]  # a short pause stays inside
    assert len(pieces.merge(plan, [heard_by(plan[0], close)])) == 1


def test_word_starts_never_go_back_where_two_pieces_disagree_at_a_seam():
    """Each side of a seam times its own words: the next piece's first word may start
    20 ms before the last word kept from the piece before (seen on B_long, 1 thread)."""
    n = 60 * RATE
    plan = pieces.plan(positions(n), [Span(0, n)], max_piece_s=30.0, overlap_s=2.0)
    seam_s = plan[0].own_end / RATE
    late = Word(seam_s - 0.30, seam_s - 0.02, "late")  # owned by the first piece
    early_end_s = seam_s + 0.4  # its middle lies past the seam: the second piece's word

    def local(piece: Piece, w: Word) -> Word:
        s = next(s for s in piece.stretches
                 if s.source_start / RATE <= (w.start_s + w.end_s) / 2
                 < (s.source_start + s.length) / RATE)
        shift = s.piece_start / RATE - s.source_start / RATE
        return Word(w.start_s + shift, w.end_s + shift, w.text)

    before = Word(seam_s - 1.0, seam_s - 0.7, "before")
    first = [Segment(0.0, 1.0, "before late", (local(plan[0], before), local(plan[0], late)))]
    # the second piece hears "early" starting before "late" did
    skewed = Word(late.start_s - 0.02, early_end_s, "early")
    second = [Segment(0.0, 1.0, "early", (local(plan[1], skewed),))]
    merged = pieces.merge(plan, [first, second])
    got = [w for seg in merged for w in seg.words]
    assert [w.text for w in got] == ["before", "late", "early"]
    assert all(b.start_s >= a.start_s for a, b in zip(got, got[1:])), got
    for seg in merged:
        assert seg.start_s == seg.words[0].start_s and seg.end_s >= seg.start_s
