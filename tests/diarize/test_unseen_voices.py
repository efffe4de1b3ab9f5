"""The speaker count on voices the clustering's constants were never fitted on.

The one constant of the count that was chosen by measurement
(clustering.MAX_NEIGHBOUR_SHARE) was fitted on conversations of the "known" fold
of voices (tests/support/conversations.FOLDS: the six voices the old distance
threshold was calibrated on). Here: conversations of the "unseen" fold only
(seven other readers from groups A, C and D, English, German and Spanish), 2, 3
and 4 speakers, turns of 1.5-5 s cut from their readings, pauses of 0.2-0.9 s,
~50 s each, as read and through a noisy room and a telephone band. A channel
moves every distance between windows, which a tuned distance cannot follow.

The bounds are what was measured here with margin (bench/diarization.py has the
full tables, both folds, 25-40 conversations a channel): a count can still be
missed now and then (two voices as alike as two readers of one audiobook), so
they bound the share of counts right and the median DER, not each conversation.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from stt_studio.audio import vad
from stt_studio.diarize.base import SpeakerBounds, Turn
from stt_studio.diarize.clustering import cluster
from stt_studio.diarize.tracker import ClusteringTracker
from tests.diarize.cases import hypothesis
from tests.support.conversations import FOLDS, Conversation, der, meeting, speech_of, through
from tests.support.longaudio import B_LONG, speech

pytestmark = pytest.mark.slow

SEEDS = range(4)
#: of 12 conversations a channel (measured here: 10-11 clean, 8 noisy, 10 by telephone,
#: median DER 7 %, 22 %, 14 %; the old distance threshold: 11, 7, 7 and 7 %, 22 %, 20 %).
#: A window's embedding moves in its last digits with the BLAS threads, and a count on
#: the edge can move with it: the bounds leave one or two of those.
MIN_COUNTS_RIGHT = {"clean": 9, "noise": 7, "phone": 8}
MAX_MEDIAN_DER = {"clean": 0.15, "noise": 0.30, "phone": 0.25}


def voices_for(speakers: int, seed: int) -> list[str]:
    unseen = FOLDS["unseen"]
    order = np.random.default_rng(1000 * speakers + seed).permutation(len(unseen))
    return [unseen[i] for i in order[:speakers]]


@functools.cache
def conversation(speakers: int, seed: int) -> Conversation:
    return meeting(voices_for(speakers, seed), seed=100 * speakers + seed)


@functools.cache
def heard(samples_key: tuple[int, int, str]) -> ClusteringTracker:
    speakers, seed, channel = samples_key
    samples = through(conversation(speakers, seed).samples, channel, seed=seed)
    tracker = ClusteringTracker()
    tracker.add(0.0, samples, vad.detect_speech(samples, max_span_s=30.0))
    return tracker


def found(turns: tuple[Turn, ...]) -> int:
    return len({t.speaker for t in turns})


@pytest.mark.parametrize("channel", ["clean", "noise", "phone"])
def test_the_count_and_der_on_voices_never_fitted_on(channel):
    results = []
    for speakers in (2, 3, 4):
        for seed in SEEDS:
            conv = conversation(speakers, seed)
            turns = heard((speakers, seed, channel)).turns(SpeakerBounds())
            results.append((speakers, found(turns),
                            der(conv.turns, hypothesis(turns), conv.duration_s)))
    print(channel, [(k, f, round(d, 3)) for k, f, d in results])
    right = sum(k == f for k, f, _ in results)
    assert right >= MIN_COUNTS_RIGHT[channel], results
    assert float(np.median([d for _, _, d in results])) <= MAX_MEDIAN_DER[channel], results


def test_a_count_given_is_kept_on_unseen_voices():
    ders = []
    for speakers in (2, 3, 4):
        for seed in SEEDS:
            conv = conversation(speakers, seed)
            tracker = heard((speakers, seed, "clean"))
            turns = tracker.turns(SpeakerBounds(count=speakers))
            assert found(turns) == speakers
            ders.append(der(conv.turns, hypothesis(turns), conv.duration_s))
            embeddings = np.concatenate(tracker._embeddings)
            for bounds, ok in ((SpeakerBounds(max_count=speakers - 1), range(1, speakers)),
                               (SpeakerBounds(min_count=speakers + 1), range(speakers + 1, 9))):
                labels = cluster(embeddings, bounds, windows_s=tracker._windows_s)
                assert len(set(labels.tolist())) in ok, (speakers, seed, bounds)
    assert float(np.median(ders)) <= 0.15, ders


@pytest.mark.parametrize("voice", ["de", "es", "austen"])
def test_one_unseen_reader_is_one_speaker(voice):
    samples = np.concatenate([np.zeros(8000, np.float32), speech_of(voice)[:60 * 16_000]])
    tracker = ClusteringTracker()
    tracker.add(0.0, samples, vad.detect_speech(samples, max_span_s=30.0))
    assert found(tracker.turns(SpeakerBounds())) == 1


def test_one_long_reading_is_one_speaker():
    """The group B file: 222 s of one reader (LJ), 32 sentences: ~250 windows."""
    samples = speech(B_LONG)
    tracker = ClusteringTracker()
    half = len(samples) // 2
    for offset, part in ((0, samples[:half]), (half, samples[half:])):
        tracker.add(offset / 16_000, part, vad.detect_speech(part, max_span_s=30.0))
    turns = tracker.turns(SpeakerBounds())
    assert found(turns) == 1
    assert sum(t.end_s - t.start_s for t in turns) > 180


def test_a_long_recording_is_sampled_for_the_analysis_and_every_window_labelled(monkeypatch):
    """Past MAX_SPECTRAL_WINDOWS (an hour of speech has ~4500 windows) the eigen-analysis
    sees an even sample and every window takes the nearest speaker's centroid. The same
    conversation with the bound lowered to a third of its windows: the same count, and
    the windows labelled as the whole analysis labels them (2.5 minutes of three unseen
    voices, ~170 windows)."""
    from scipy.optimize import linear_sum_assignment

    from stt_studio.diarize import clustering

    samples = meeting(voices_for(3, 1), seed=31, total_s=150.0).samples
    tracker = ClusteringTracker()
    tracker.add(0.0, samples, vad.detect_speech(samples, max_span_s=30.0))
    embeddings = np.concatenate(tracker._embeddings)
    windows = tracker._windows_s
    whole = cluster(embeddings, SpeakerBounds(), windows_s=windows)
    monkeypatch.setattr(clustering, "MAX_SPECTRAL_WINDOWS", len(embeddings) // 3)
    seen: list[int] = []
    real_sweep = clustering._sweep
    monkeypatch.setattr(clustering, "_sweep", lambda s, m: seen.append(len(s)) or real_sweep(s, m))
    sampled = cluster(embeddings, SpeakerBounds(), windows_s=windows)
    assert seen and seen[0] <= len(embeddings) // 3 + 1
    assert len(sampled) == len(embeddings)
    assert len(set(sampled.tolist())) == len(set(whole.tolist())) == 3
    overlap = np.zeros((3, 3))
    for a, b in zip(whole, sampled):
        overlap[a, b] += 1
    rows, cols = linear_sum_assignment(-overlap)
    assert overlap[rows, cols].sum() / len(whole) >= 0.9
