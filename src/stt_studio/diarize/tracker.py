"""The studio's own diarizer: embeddings block by block, clustering at the end."""

from __future__ import annotations

import logging

import numpy as np

from stt_studio import progress as job_progress
from stt_studio.audio.vad import Span
from stt_studio.diarize.base import SpeakerBounds, Turn
from stt_studio.diarize.clustering import cluster
from stt_studio.diarize.embedder import VoiceEmbedder
from stt_studio.diarize.turns import frame_turns
from stt_studio.diarize.windows import voiced
from stt_studio.domain import SAMPLE_RATE_HZ

log = logging.getLogger(__name__)


class ClusteringTracker:
    """:class:`~stt_studio.diarize.base.SpeakerTracker` with GE2E embeddings and clustering.

    Keeps per block only the windows' times and embeddings (1 KB a window,
    about 5 MB for an hour), never the audio.
    """

    def __init__(self, embedder: VoiceEmbedder | None = None) -> None:
        self.embedder = embedder or VoiceEmbedder()
        self._windows_s: list[tuple[float, float]] = []
        self._embeddings: list[np.ndarray] = []
        self._speech_s: list[tuple[float, float]] = []

    def add(self, offset_s: float, samples: np.ndarray, speech: tuple[Span, ...]) -> None:
        job_progress.check_cancelled()
        speech = voiced(samples, speech)
        windows, embeddings = self.embedder.embed(samples, speech)
        rate = SAMPLE_RATE_HZ
        self._speech_s += [(offset_s + s.start_sample / rate, offset_s + s.end_sample / rate)
                           for s in speech if s.end_sample > s.start_sample]
        self._windows_s += [(offset_s + w.start_sample / rate, offset_s + w.end_sample / rate)
                            for w in windows]
        if len(embeddings):
            self._embeddings.append(embeddings)

    def turns(self, bounds: SpeakerBounds) -> tuple[Turn, ...]:
        if not self._embeddings:
            return ()
        embeddings = np.concatenate(self._embeddings)
        labels = cluster(embeddings, bounds, windows_s=self._windows_s)
        turns = frame_turns(_joined(self._speech_s), self._windows_s, labels)
        log.info("diarization: %d windows, %d speaker(s), %d turns", len(labels),
                 len({t.speaker for t in turns}), len(turns))
        return turns


def _joined(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Speech spans in order, touching or overlapping ones (block seams) as one."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1] + 1e-3:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
