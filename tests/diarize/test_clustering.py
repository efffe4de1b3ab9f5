"""Voice embeddings -> speakers, on synthetic embeddings whose distances are known."""

from __future__ import annotations

import numpy as np
import pytest

from stt_studio.diarize.base import SpeakerBounds
from stt_studio.diarize.clustering import MIN_CLUSTER_WINDOWS, cluster

DIM = 256


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def voices(sizes: list[int], *, spread: float = 0.35, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows around random (nearly orthogonal) centres: ``sizes[i]`` rows of voice i, in blocks."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((len(sizes), DIM)))
    rows, truth = [], []
    for voice, size in enumerate(sizes):
        noise = rng.standard_normal((size, DIM)) * spread / np.sqrt(DIM)
        rows.append(unit(centres[voice] + noise))
        truth += [voice] * size
    return np.concatenate(rows).astype(np.float32), np.array(truth)


def mean_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(1 - (unit(a) @ unit(b).T).mean())


def same_partition(labels: np.ndarray, truth: np.ndarray) -> bool:
    pairs = set(zip(labels.tolist(), truth.tolist()))
    return len(pairs) == len(set(labels.tolist())) == len(set(truth.tolist()))


@pytest.mark.parametrize("sizes", [[20, 20], [30, 12, 18], [15, 25, 10, 20]])
def test_well_separated_voices_are_found_without_a_count(sizes):
    embeddings, truth = voices(sizes, seed=len(sizes))
    labels = cluster(embeddings, SpeakerBounds())
    assert len(set(labels.tolist())) == len(sizes)
    assert same_partition(labels, truth)


def test_a_count_cuts_the_tree_into_that_many():
    embeddings, _ = voices([20, 20, 20])
    assert len(set(cluster(embeddings, SpeakerBounds(count=2)).tolist())) == 2
    assert len(set(cluster(embeddings, SpeakerBounds(count=5)).tolist())) == 5
    assert set(cluster(embeddings, SpeakerBounds(count=1)).tolist()) == {0}


def test_min_and_max_clamp_what_is_found():
    embeddings, _ = voices([20, 20, 20])
    assert len(set(cluster(embeddings, SpeakerBounds(min_count=4)).tolist())) == 4
    assert len(set(cluster(embeddings, SpeakerBounds(max_count=2)).tolist())) == 2
    assert set(cluster(embeddings, SpeakerBounds(max_count=1)).tolist()) == {0}
    # inside the bounds: what was found stands
    assert len(set(cluster(embeddings, SpeakerBounds(min_count=2, max_count=4)).tolist())) == 3


def test_more_speakers_asked_than_rows_gives_one_per_row():
    embeddings, _ = voices([2, 1])
    assert sorted(cluster(embeddings, SpeakerBounds(count=5)).tolist()) == [0, 1, 2]


def test_one_row_none_and_identical_rows():
    one, _ = voices([1])
    assert cluster(one, SpeakerBounds()).tolist() == [0]
    assert cluster(one, SpeakerBounds(count=3)).tolist() == [0]
    assert cluster(np.zeros((0, DIM), np.float32), SpeakerBounds()).tolist() == []
    same = np.repeat(one, 30, axis=0)
    assert set(cluster(same, SpeakerBounds()).tolist()) == {0}


def test_labels_are_numbered_by_first_appearance():
    embeddings, truth = voices([10, 10, 10], seed=3)
    order = np.r_[20:30, 0:10, 10:20]  # voice 2 speaks first, then 0, then 1
    labels = cluster(embeddings[order], SpeakerBounds())
    assert labels[0] == 0 and labels[10] == 1 and labels[20] == 2
    assert labels.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    forced = cluster(embeddings[order], SpeakerBounds(count=3))
    assert forced[0] == 0 and sorted(set(forced.tolist())) == [0, 1, 2]


def test_a_few_odd_windows_are_no_speaker_of_their_own():
    """A cough or a laugh: fewer windows than MIN_CLUSTER_WINDOWS join the nearest voice."""
    few = MIN_CLUSTER_WINDOWS - 1
    embeddings, truth = voices([40, few], seed=5)
    labels = cluster(embeddings, SpeakerBounds())
    assert set(labels.tolist()) == {0}
    enough, _ = voices([40, MIN_CLUSTER_WINDOWS], seed=5)
    assert len(set(cluster(enough, SpeakerBounds()).tolist())) == 2
    # a count given by the user keeps them apart all the same
    assert len(set(cluster(embeddings, SpeakerBounds(count=2)).tolist())) == 2


def pair(distance: float, spread: float, seed: int) -> np.ndarray:
    """Two voices of 20 windows each whose centres are ``distance`` (cosine) apart."""
    rng = np.random.default_rng(seed)
    e1, e2 = np.eye(DIM)[0], np.eye(DIM)[1]
    angle = np.arccos(1 - distance)
    centres = [e1, np.cos(angle) * e1 + np.sin(angle) * e2]
    rows = [unit(c + rng.standard_normal((20, DIM)) * spread / np.sqrt(DIM)) for c in centres]
    return np.concatenate(rows).astype(np.float32)


def channel(rows: np.ndarray, shared: float, seed: int) -> np.ndarray:
    """What a noisy or band-limited channel does to the windows: a part common to all of
    them, which brings every pair closer (one voice's and two voices' alike)."""
    common = unit(np.random.default_rng(seed).standard_normal(DIM))
    return unit(rows + shared * common).astype(np.float32)


@pytest.mark.parametrize("shared", [0.0, 0.8, 1.5, 3.0])
def test_the_count_does_not_depend_on_how_close_the_channel_brings_every_window(shared):
    """Two voices as close as the closest pair measured on the shared clips (0.45 apart on
    average), then a common part added: at 3.0 they are ~0.05 apart, far under any
    distance one could tune (the old threshold was 0.4). One voice, its windows spread
    around one centre, stays one."""
    close = channel(pair(0.28, 0.6, seed=1), shared, seed=3)
    a, b = close[:20], close[20:]
    if shared == 0.0:
        assert 0.43 <= mean_distance(a, b) <= 0.47
    if shared == 3.0:
        assert mean_distance(a, b) < 0.06
    labels = cluster(close, SpeakerBounds())
    assert labels.tolist() == [0] * 20 + [1] * 20
    one = channel(voices([40], spread=0.6, seed=2)[0], shared, seed=4)
    assert set(cluster(one, SpeakerBounds()).tolist()) == {0}


def test_windows_that_share_audio_are_not_neighbours():
    """Overlapping windows (hop 0.8 s, 1.6 s long) are alike because they hold the same
    audio: given their times, their similarity is set to the least, and only theirs."""
    from stt_studio.diarize.clustering import _affinity, _unit

    embeddings, _ = voices([6], seed=11)
    rows = _unit(embeddings.astype(np.float64))
    times = np.array([(0.8 * i, 0.8 * i + 1.6) for i in range(6)])
    plain, apart = _affinity(rows, None), _affinity(rows, times)
    assert plain is not None and apart is not None
    neighbours = [(i, j) for i in range(6) for j in range(6) if abs(i - j) == 1]
    assert all(apart[i, j] == 0.0 for i, j in neighbours)
    assert any(plain[i, j] > 0.0 for i, j in neighbours)  # so the rule did something
    for i in range(6):
        for j in range(6):
            if abs(i - j) != 1:
                assert apart[i, j] == plain[i, j]


def related_voices(sizes: list[int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Voices ~0.5 apart (as real ones are) and, last, one odd window ~1 from all of them."""
    rng = np.random.default_rng(seed)
    shared = unit(rng.standard_normal(DIM))
    rows, truth = [], []
    for voice, size in enumerate(sizes):
        centre = unit(shared + unit(rng.standard_normal(DIM)))
        rows.append(unit(centre + rng.standard_normal((size, DIM)) * 0.35 / np.sqrt(DIM)))
        truth += [voice] * size
    cough = rng.standard_normal(DIM)
    cough -= (cough @ shared) * shared
    rows.append(unit(cough)[None, :])
    truth.append(len(sizes))
    return np.concatenate(rows).astype(np.float32), np.array(truth)


def test_a_count_given_is_that_many_voices_not_a_cough_and_two_merged_voices():
    """An odd window far from every voice is no speaker, even when the count is given."""
    embeddings, truth = related_voices([20, 20, 20], seed=8)
    assert mean_distance(embeddings[:20], embeddings[20:40]) < 0.6
    assert mean_distance(embeddings[:60], embeddings[60:]) > 0.9
    labels = cluster(embeddings, SpeakerBounds(count=3))
    assert len(set(labels.tolist())) == 3
    assert same_partition(labels[:60], truth[:60])
    # the same when the bounds (not a count) make the cut
    many, many_truth = related_voices([20, 20, 20, 20], seed=9)
    capped = cluster(many, SpeakerBounds(max_count=3))
    assert len(set(capped.tolist())) == 3
    at_least = cluster(many, SpeakerBounds(min_count=5))
    assert len(set(at_least.tolist())) == 5


def test_a_count_the_windows_cannot_make_falls_back_to_a_plain_cut():
    embeddings, _ = voices([3, 3])  # six windows: no cluster is large enough
    assert len(set(cluster(embeddings, SpeakerBounds(count=4)).tolist())) == 4


@pytest.mark.parametrize("library", ["scipy.cluster.vq", "scipy.linalg"])
def test_a_missing_clustering_library_names_the_install_command(monkeypatch, library):
    """Said before the transcription starts (the tracker is built first), and again where
    the clustering imports it; the command is pip's, with no compiler or torch involved."""
    import sys

    from stt_studio.diarize.session import tracker
    from stt_studio.errors import EngineMissingError

    monkeypatch.setitem(sys.modules, library, None)  # "import ..." now raises ImportError
    with pytest.raises(EngineMissingError) as early:
        tracker()
    embeddings, _ = voices([6, 6])
    bounds = SpeakerBounds() if library == "scipy.linalg" else SpeakerBounds(count=2)
    with pytest.raises(EngineMissingError) as late:
        cluster(embeddings, bounds)
    for caught in (early, late):
        text = caught.value.render()
        assert 'pip install "stt-studio[speakers]"' in text
        assert "needs scipy" in text and library in text
        assert "make run" not in text and "setup.sh" not in text
