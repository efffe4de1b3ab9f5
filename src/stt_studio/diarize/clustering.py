"""Voice embeddings -> speakers: NME-SC, spectral clustering that finds its own count.

The count comes from the recording itself, not from a distance tuned on some
voices: Park et al.'s normalised maximum eigengap (NME-SC, "Auto-Tuning Spectral
Clustering for Speaker Diarization Using Normalized Maximum Eigengap", IEEE SPL
2019), the clustering of NeMo's clustering diarizer
(``nemo.collections.asr.parts.utils.offline_clustering.NMESC``):

1. the windows' cosine similarities, min-max scaled over the recording (so a
   noisy or band-limited channel, which moves every similarity, moves nothing);
2. for each ``p`` of a sweep, a graph keeping each window's ``p`` most similar
   windows, its Laplacian's eigenvalues, and the count at the largest gap
   among the first :data:`MAX_SPEAKERS`; the gap normalised by the largest
   eigenvalue, against ``p``, rates how clearly that graph parts the voices;
3. spectral clustering (k-means on the Laplacian's first eigenvectors) of the
   graph, into the count found or the count given.

Two things differ from NeMo's defaults, both measured on conversations of the
shared voices (bench/speaker_count.py, leave-voices-out): windows that overlap in
time (they share audio, and would link a voice's neighbouring windows into a
chain) are not one another's neighbours, and the count is the one most ``p``
of the sweep agree on (NeMo's ``maj_vote_spk_count``), from ``p`` = 1 to
:data:`MAX_NEIGHBOUR_SHARE` of the windows. Clusters too small to be a
speaker (a cough, overlapped words) join the nearest real one; the user's
bounds then decide. A long recording's windows are sampled evenly down to
:data:`MAX_SPECTRAL_WINDOWS` for the eigen-analysis (as NeMo subsamples its
matrix), and every window then takes its nearest speaker.

SciPy (``pip install "stt-studio[speakers]"``) does the maths: eigenvalues,
k-means (``scipy.cluster.vq.kmeans2``, k-means++ seeds) and average linkage;
it is imported lazily, here only, and :func:`require` checks for it before a
long job starts. (scikit-learn's clustering would add 130 MB of resident
memory at import, more than the rest of diarization together.)
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from stt_studio.diarize.base import SpeakerBounds
from stt_studio.errors import EngineMissingError

#: the most speakers counted when no bound is given (NeMo's default is 8 as well)
MAX_SPEAKERS = 8
#: the sweep of p (neighbours kept per window) reaches this share of the windows.
#: Fitted on the "known" voices (bench/speaker_count.py: 0.15 to 0.35 tried) and
#: reported on the voices left out of the fit
MAX_NEIGHBOUR_SHARE = 0.25
#: values of p tried (NeMo's sparse_search_volume)
P_STEPS = 30
#: fewer windows than this (about 5 s of speech) are one speaker unless told otherwise
#: (NeMo's min_samples_for_nmesc)
MIN_WINDOWS_TO_COUNT = 6
#: the eigen-analysis sees at most this many windows (an hour of speech has ~4500)
MAX_SPECTRAL_WINDOWS = 600
#: a cluster with fewer windows than this share (or MIN_CLUSTER_WINDOWS) is not a speaker
#: of its own: a cough, laughter, a noisy stretch, overlapped words
MIN_CLUSTER_SHARE = 0.05
#: about 4 s of speech (windows start HOP_S = 0.8 s apart)
MIN_CLUSTER_WINDOWS = 5
#: a count given: at most this many extra clusters are tried so that small ones are cut away
MAX_SMALL_CLUSTERS = 3

Labels = npt.NDArray[np.int64]
Matrix = npt.NDArray[np.float64]
WindowTimes = Sequence[tuple[float, float]]

INSTALL = 'pip install "stt-studio[speakers]"'


def require() -> None:
    """Raise :class:`EngineMissingError` now if the clustering libraries are missing."""
    with _libraries():
        import scipy.cluster.hierarchy  # noqa: F401
        import scipy.cluster.vq  # noqa: F401
        import scipy.linalg  # noqa: F401


@contextlib.contextmanager
def _libraries() -> Iterator[None]:
    """Imports inside turn a missing SciPy into the studio's error."""
    try:
        yield
    except ImportError as exc:
        raise EngineMissingError(
            "speaker diarization needs scipy, which is not installed",
            detail=str(exc),
            causes=("stt-studio was installed without its `speakers` extra",),
            remedies=(f"Run `{INSTALL}` (prebuilt wheels; no compiler, no torch needed)",),
        ) from exc


def cluster(embeddings: npt.NDArray[np.float32], bounds: SpeakerBounds, *,
            windows_s: WindowTimes | None = None) -> Labels:
    """One speaker index per embedding row (0-based, numbered by first appearance).

    ``windows_s``: each row's window (start, end) in seconds; windows that overlap
    are kept from being one another's neighbours. Without it, rows are taken as apart.
    """
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1 or bounds.count == 1 or bounds.max_count == 1:
        return np.zeros(n, dtype=np.int64)
    unit = _unit(np.asarray(embeddings, dtype=np.float64))
    picked = np.arange(0, n, int(np.ceil(n / MAX_SPECTRAL_WINDOWS)))
    times = None if windows_s is None else np.asarray(windows_s, dtype=np.float64)[picked]
    sample = unit[picked]
    similarity = _affinity(sample, times)
    if similarity is None:  # every window alike: one voice, whatever was asked
        return np.zeros(n, dtype=np.int64)
    # no more speakers than the windows can make, each with the windows of a speaker
    # the count is found unbounded and then clamped: a sweep cut at max_count can agree
    # on one speaker where three speak (the eigengaps of the missing counts are unseen)
    most = min(MAX_SPEAKERS, len(sample) - 1, n // _smallest(n))
    counting = most >= 2 and len(sample) >= MIN_WINDOWS_TO_COUNT
    rated = _sweep(similarity, most) if counting else []
    if bounds.count is not None:
        count = min(bounds.count, n)
        labels = _into(unit, picked, similarity, _p_for(rated, count, len(sample)), count)
        return _by_appearance(labels)
    counted, p = _agreed(rated, len(sample)) if counting else (1, _widest_p(len(sample)))
    labels = _absorb_small(unit, _spread(unit, picked, _spectral(similarity, p, counted)))
    found = len(np.unique(labels))
    wanted = min(bounds.clamp(found), n)
    if wanted != found:
        labels = _into(unit, picked, similarity, _p_for(rated, wanted, len(sample)), wanted)
    return _by_appearance(labels)


def _agreed(rated: list[tuple[float, int, int]], windows: int) -> tuple[int, int]:
    """NME analysis: (speakers, p), the count most p of the sweep agree on and, for it,
    the p whose graph parts the voices most clearly (the smallest p / NME ratio)."""
    counts = [count for _, _, count in rated]
    agreed = max(sorted(set(counts)), key=counts.count)  # ties: the fewer speakers
    return agreed, _p_for(rated, agreed, windows)


def _sweep(similarity: Matrix, max_speakers: int) -> list[tuple[float, int, int]]:
    """(p / NME, p, count) for each p of the sweep."""
    with _libraries():
        from scipy.linalg import eigh

    n = len(similarity)
    top = _widest_p(n)
    # as NeMo's, from p = 1: each window its own only neighbour, a graph without edges,
    # whose vote is for one speaker (no structure): a count of two or more must be agreed on
    sweep = np.unique(np.linspace(1, top, min(top, P_STEPS)).astype(int))
    rated: list[tuple[float, int, int]] = []
    for p in sweep.tolist():
        values = eigh(_laplacian(_graph(similarity, p)), eigvals_only=True)
        gaps = np.diff(values)[:max(max_speakers, 1)]
        count = int(np.argmax(gaps)) + 1
        nme = gaps[count - 1] / (values[-1] + 1e-10)
        rated.append(((p / n) / (nme + 1e-10), p, count))
    return rated


def _p_for(rated: list[tuple[float, int, int]], count: int, windows: int) -> int:
    """The clearest p whose graph shows ``count`` speakers; the sweep's widest (the most
    connected graph) when none does."""
    showing = [r for r in rated if r[2] == count and r[1] >= 2]
    return min(showing)[1] if showing else _widest_p(windows)


def _widest_p(windows: int) -> int:
    """The sweep's largest p, for a graph made without the analysis."""
    return max(int(np.floor(windows * MAX_NEIGHBOUR_SHARE)), 2)


def _unit(rows: Matrix) -> Matrix:
    norms = np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)
    return np.asarray(rows / norms, dtype=np.float64)


def _affinity(unit: Matrix, times: npt.NDArray[np.float64] | None) -> Matrix | None:
    """Cosine similarity min-max scaled to 0..1 (None when all rows are alike), with
    windows that share audio set apart."""
    similarity = unit @ unit.T
    low, high = float(similarity.min()), float(similarity.max())
    if high - low < 1e-6:
        return None
    similarity = (similarity - low) / (high - low)
    if times is not None:
        starts, ends = times[:, 0], times[:, 1]
        overlapping = (starts[:, None] < ends[None, :]) & (starts[None, :] < ends[:, None])
        np.fill_diagonal(overlapping, False)
        similarity[overlapping] = 0.0
    return similarity


def _graph(similarity: Matrix, p: int) -> Matrix:
    """Each row's p most similar rows as 1 (NeMo's binarised affinity), symmetrised."""
    n = len(similarity)
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :p]
    kept = np.zeros_like(similarity)
    kept[nearest, np.arange(n)[:, None]] = 1.0
    return 0.5 * (kept + kept.T)


def _laplacian(graph: Matrix) -> Matrix:
    graph = graph.copy()
    np.fill_diagonal(graph, 0.0)
    return np.diag(graph.sum(axis=1)) - graph


def _spectral(similarity: Matrix, p: int, count: int) -> Labels:
    """k-means on the first ``count`` eigenvectors of the p-neighbour graph's Laplacian."""
    if count <= 1:
        return np.zeros(len(similarity), dtype=np.int64)
    count = min(count, len(similarity))
    with _libraries():
        from scipy.linalg import eigh

    affinity = _graph(similarity, p) if len(similarity) >= MIN_WINDOWS_TO_COUNT else similarity
    _, vectors = eigh(_laplacian(affinity))
    return _kmeans(vectors[:, :count], count)


#: k-means runs from this many k-means++ seeds; the tightest is kept (scikit-learn's n_init)
KMEANS_RUNS = 10


def _kmeans(points: Matrix, count: int) -> Labels:
    """The tightest of KMEANS_RUNS k-means runs (seeded: the same labels every time)."""
    with _libraries():
        from scipy.cluster.vq import kmeans2

    best: tuple[float, Labels] | None = None
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():  # a cluster left empty in a run: it says so, and copes
        warnings.simplefilter("ignore")
        for _ in range(KMEANS_RUNS):
            centroids, labels = kmeans2(points, count, minit="++", seed=rng)
            spread = float(((points - centroids[labels]) ** 2).sum())
            if best is None or spread < best[0]:
                best = (spread, np.asarray(labels, dtype=np.int64))
    assert best is not None
    return best[1]


def _spread(unit: Matrix, picked: npt.NDArray[np.int64], sampled: Labels) -> Labels:
    """Labels of the sampled rows -> every row: the nearest sampled speaker's centroid."""
    if len(picked) == len(unit):
        return sampled
    speakers = np.unique(sampled)
    centroids = _unit(np.stack([unit[picked][sampled == s].mean(axis=0) for s in speakers]))
    return np.asarray(speakers[np.argmax(unit @ centroids.T, axis=1)], dtype=np.int64)


def _into(unit: Matrix, picked: npt.NDArray[np.int64], similarity: Matrix, p: int,
          count: int) -> Labels:
    """``count`` speakers: clustered into that many, or into a few more when some come out
    too small to be speakers (a far-off cough), those joined to the nearest speaker.

    Cut into exactly ``count``, a cough would stay a "speaker" of its own while two
    real voices were merged.
    """
    if count >= len(unit):
        return np.arange(len(unit), dtype=np.int64)
    if len(picked) < 2 * MIN_CLUSTER_WINDOWS:
        return _few(unit, count)
    smallest = _smallest(len(unit))
    first = None
    for clusters in range(count, min(len(picked), count + MAX_SMALL_CLUSTERS) + 1):
        labels = _spread(unit, picked, _spectral(similarity, p, clusters))
        first = labels if first is None else first
        large = int((np.bincount(labels) >= smallest).sum())
        if large == count:
            return _absorb_small(unit, labels)
        if large > count:
            break
    assert first is not None
    return first


def _few(unit: Matrix, count: int) -> Labels:
    """Too few windows for a graph (under two speakers' worth, their overlapping neighbours
    set apart): average-linkage clustering on cosine distance into ``count``, the small
    inputs' fallback of Google's multi-stage clusterer (arXiv:2210.13690)."""
    with _libraries():
        from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(unit, method="average", metric="cosine")
    return np.asarray(fcluster(tree, count, criterion="maxclust"), dtype=np.int64) - 1


def _smallest(windows: int) -> int:
    """The fewest windows a speaker of its own has, in a recording of ``windows``."""
    return max(MIN_CLUSTER_WINDOWS, int(np.ceil(MIN_CLUSTER_SHARE * windows)))


def _absorb_small(unit: Matrix, labels: Labels) -> Labels:
    """Clusters below the share go to the nearest large cluster (by centroid)."""
    counts = np.bincount(labels)
    smallest = _smallest(len(labels))
    big = [c for c in range(len(counts)) if counts[c] >= smallest]
    present = int((counts > 0).sum())
    if not big or len(big) == present:
        return labels
    centroids = _unit(np.stack([unit[labels == c].mean(axis=0) for c in big]))
    out = labels.copy()
    for i in np.flatnonzero(~np.isin(labels, big)):
        out[i] = big[int(np.argmax(centroids @ unit[i]))]
    return out


def _by_appearance(labels: Labels) -> Labels:
    order: dict[int, int] = {}
    for value in labels.tolist():
        order.setdefault(value, len(order))
    return np.array([order[v] for v in labels.tolist()], dtype=np.int64)
