"""The studio's diarizer (resemblyzer GE2E + clustering) on conversations with known turns.

Frame-level DER (missed + false alarm + confusion over the reference speech,
best speaker mapping, no collar) with the VAD's speech as the studio finds it.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from stt_studio.audio import vad
from stt_studio.diarize.base import SpeakerBounds, Turn
from stt_studio.diarize.tracker import ClusteringTracker
from tests.diarize.cases import conversation, hypothesis, short_turn
from tests.support.conversations import build, der

pytestmark = pytest.mark.slow

MAX_DER = 0.15


@functools.cache
def heard(key: str) -> ClusteringTracker:
    """A tracker that heard the conversation (embeddings kept: turns() for any bounds)."""
    from stt_studio.diarize.session import tracker

    samples = {"2": lambda: conversation(2), "3": lambda: conversation(3),
               "4": lambda: conversation(4), "short": short_turn,
               "lj": lambda: build([("lj", 9.0)] * 5, seed=1)}[key]().samples
    found = tracker()
    assert isinstance(found, ClusteringTracker)
    half = len(samples) // 2  # two blocks, as the studio's block loop hands them on
    for offset, part in ((0, samples[:half]), (half, samples[half:])):
        found.add(offset / 16_000, part, vad.detect_speech(part, max_span_s=30.0))
    return found


def sane(turns: tuple[Turn, ...], duration_s: float) -> None:
    assert turns
    for turn in turns:
        assert 0.0 <= turn.start_s < turn.end_s <= duration_s + 1e-6
    for before, after in zip(turns, turns[1:]):
        assert before.end_s <= after.start_s + 1e-6
    seen: list[int] = []
    for turn in turns:
        if turn.speaker not in seen:
            seen.append(turn.speaker)
    assert seen == list(range(len(seen)))  # numbered by first appearance


@pytest.mark.parametrize("speakers", [2, 3, 4])
def test_der_and_the_speaker_count_found(speakers):
    conv = conversation(speakers)
    turns = heard(str(speakers)).turns(SpeakerBounds())
    sane(turns, conv.duration_s)
    error = der(conv.turns, hypothesis(turns), conv.duration_s)
    print(f"{speakers} speakers, {conv.duration_s:.1f} s: DER {error:.3f}, "
          f"found {len({t.speaker for t in turns})}")
    assert len({t.speaker for t in turns}) == speakers
    assert error <= MAX_DER


@pytest.mark.parametrize(("speakers", "asked"), [(2, 2), (3, 3), (4, 4), (3, 2), (2, 3)])
def test_a_count_given_is_the_count_found(speakers, asked):
    conv = conversation(speakers)
    turns = heard(str(speakers)).turns(SpeakerBounds(count=asked))
    sane(turns, conv.duration_s)
    assert len({t.speaker for t in turns}) == asked
    if asked == speakers:
        assert der(conv.turns, hypothesis(turns), conv.duration_s) <= MAX_DER


def test_bounds_that_exclude_the_true_count_are_obeyed():
    turns = heard("4").turns(SpeakerBounds(max_count=3))
    assert len({t.speaker for t in turns}) == 3
    turns = heard("2").turns(SpeakerBounds(min_count=3))
    assert len({t.speaker for t in turns}) == 3


def test_one_reader_is_one_speaker():
    tracker = heard("lj")
    turns = tracker.turns(SpeakerBounds())
    assert {t.speaker for t in turns} == {0}
    assert sum(t.end_s - t.start_s for t in turns) > 35.0


def test_a_half_second_turn_does_not_break_the_turns():
    conv = short_turn()
    turns = heard("short").turns(SpeakerBounds())
    sane(turns, conv.duration_s)
    assert len({t.speaker for t in turns}) == 2
    error = der(conv.turns, hypothesis(turns), conv.duration_s)
    print(f"short turn: DER {error:.3f}, turns {[(round(t.start_s, 1), t.speaker) for t in turns]}")
    assert error <= MAX_DER
    # its own turns (exactly two speakers asked) are as sane
    sane(heard("short").turns(SpeakerBounds(count=2)), conv.duration_s)


def test_silence_and_crumbs_give_no_turns_and_no_error():
    from stt_studio.diarize.session import tracker

    quiet = tracker()
    quiet.add(0.0, np.zeros(16_000 * 5, np.float32), ())
    assert quiet.turns(SpeakerBounds()) == ()
    crumb = tracker()
    samples = conversation(2).samples[:16_000 * 3]
    crumb.add(0.0, samples, vad.detect_speech(samples[:16_000], max_span_s=30.0)[:1])
    turns = crumb.turns(SpeakerBounds(count=3))
    assert len({t.speaker for t in turns}) <= 3
