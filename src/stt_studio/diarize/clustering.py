"""Voice embeddings -> speakers: average-linkage clustering on cosine distance.

Without a count, the tree is cut where voices stop being alike
(:data:`DISTANCE_THRESHOLD`, calibrated on the shared speech clips); clusters
too small to be a speaker (a cough, overlapped words) join the nearest real
one; the user's bounds then decide. With a count, the tree is cut until that many
clusters are large enough to be speakers (:func:`_cut_into`).

scikit-learn and scipy (``pip install "stt-studio[speakers]"``) are imported
lazily, here only; :func:`require` checks for them before a long job starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from stt_studio.diarize.base import SpeakerBounds
from stt_studio.errors import EngineMissingError

#: average cosine distance between two clusters' windows above which they are two voices
#: (1.6 s windows of one voice: 0.18-0.30 apart on average; of two voices: 0.45-0.67)
DISTANCE_THRESHOLD = 0.4
#: a cluster with fewer windows than this share (or MIN_CLUSTER_WINDOWS) is not a speaker
#: of its own: a cough, laughter, a noisy stretch, overlapped words
MIN_CLUSTER_SHARE = 0.05
#: about 4 s of speech (windows start HOP_S = 0.8 s apart)
MIN_CLUSTER_WINDOWS = 5
#: a count given: at most this many small clusters are cut away to find that many speakers
MAX_SMALL_CLUSTERS = 30

Labels = npt.NDArray[np.int64]

INSTALL = 'pip install "stt-studio[speakers]"'


def require() -> None:
    """Raise :class:`EngineMissingError` now if the clustering libraries are missing."""
    with _libraries():
        import scipy.cluster.hierarchy  # noqa: F401
        import sklearn.cluster  # noqa: F401


@contextlib.contextmanager
def _libraries() -> Iterator[None]:
    """Imports inside turn a missing scikit-learn or scipy into the studio's error."""
    try:
        yield
    except ImportError as exc:
        raise EngineMissingError(
            "speaker diarization needs scikit-learn and scipy, which are not installed",
            detail=str(exc),
            causes=("stt-studio was installed without its `speakers` extra",),
            remedies=(f"Run `{INSTALL}` (prebuilt wheels; no compiler, no torch needed)",),
        ) from exc


def cluster(embeddings: npt.NDArray[np.float32], bounds: SpeakerBounds, *,
            threshold: float = DISTANCE_THRESHOLD) -> Labels:
    """One speaker index per embedding row (0-based, numbered by first appearance)."""
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1 or bounds.count == 1 or bounds.max_count == 1:
        return np.zeros(n, dtype=np.int64)
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-9)
    if bounds.count is not None:
        labels = _cut_into(unit, min(bounds.count, n))
    else:
        labels = _absorb_small(unit, _cut(unit, None, threshold))
        found = len(np.unique(labels))
        wanted = min(bounds.clamp(found), n)
        if wanted != found:
            labels = _cut_into(unit, wanted)
    return _by_appearance(labels)


def _cut(unit: npt.NDArray[np.float32], count: int | None,
         threshold: float = DISTANCE_THRESHOLD) -> Labels:
    with _libraries():
        from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=count, distance_threshold=None if count else threshold,
        metric="cosine", linkage="average")
    return np.asarray(model.fit_predict(unit), dtype=np.int64)


def _cut_into(unit: npt.NDArray[np.float32], count: int) -> Labels:
    """``count`` speakers: the tree cut deeper until ``count`` clusters are large enough
    to be speakers, the small ones (an odd window or two) joined to them; a plain cut
    into ``count`` when the windows never make that many large clusters.

    Cut into exactly ``count``, a far-off cough would stay a "speaker" of its own
    while two real voices were merged.
    """
    with _libraries():
        from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(unit.astype(np.float64), method="average", metric="cosine")
    smallest = _smallest(len(unit))
    for clusters in range(count, min(len(unit), count + MAX_SMALL_CLUSTERS) + 1):
        labels = np.asarray(fcluster(tree, clusters, criterion="maxclust"), dtype=np.int64) - 1
        large = int((np.bincount(labels) >= smallest).sum())
        if large == count:
            return _absorb_small(unit, labels)
        if large > count:  # tied merges split two at once: no cut gives exactly that many
            break
    return _cut(unit, count)


def _smallest(windows: int) -> int:
    """The fewest windows a speaker of its own has, in a recording of ``windows``."""
    return max(MIN_CLUSTER_WINDOWS, int(np.ceil(MIN_CLUSTER_SHARE * windows)))


def _absorb_small(unit: npt.NDArray[np.float32], labels: Labels) -> Labels:
    """Clusters below the share go to the nearest large cluster (by centroid)."""
    counts = np.bincount(labels)
    smallest = _smallest(len(labels))
    big = [c for c in range(len(counts)) if counts[c] >= smallest]
    if not big or len(big) == len(counts):
        return labels
    centroids = np.stack([unit[labels == c].mean(axis=0) for c in big])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
    out = labels.copy()
    for i in np.flatnonzero(~np.isin(labels, big)):
        out[i] = big[int(np.argmax(centroids @ unit[i]))]
    return out


def _by_appearance(labels: Labels) -> Labels:
    order: dict[int, int] = {}
    for value in labels.tolist():
        order.setdefault(value, len(order))
    return np.array([order[v] for v in labels.tolist()], dtype=np.int64)
