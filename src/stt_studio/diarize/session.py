"""One recording's diarization, run beside its transcription block by block."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from stt_studio import progress as job_progress
from stt_studio.audio import vad
from stt_studio.audio.blocks import Block
from stt_studio.diarize.assign import assign
from stt_studio.diarize.base import MAX_SPEAKERS_AUTO, SpeakerBounds, SpeakerTracker
from stt_studio.domain import Segment, Stage, TranscriptionOptions

log = logging.getLogger(__name__)


def bounds_of(options: TranscriptionOptions) -> SpeakerBounds:
    return SpeakerBounds(count=options.speakers, min_count=options.min_speakers or 1,
                         max_count=options.max_speakers or max(MAX_SPEAKERS_AUTO,
                                                               options.min_speakers or 1))


class Diarization:
    """Feeds each block's speech to a tracker; labels the final segments with speakers.

    With the VAD off for transcription, the speakers are still looked for in
    speech only: silence has no voice to cluster.
    """

    def __init__(self, options: TranscriptionOptions, tracker: SpeakerTracker,
                 vad_span_s: float) -> None:
        self.bounds = bounds_of(options)
        self.tracker = tracker
        self.uses_vad = options.vad
        self.vad_span_s = vad_span_s

    def add(self, block: Block) -> None:
        speech = (block.speech if self.uses_vad else
                  vad.detect_speech(block.samples, max_span_s=self.vad_span_s))
        self.tracker.add(block.offset_s, block.samples, speech)

    def label(self, segments: Sequence[Segment]) -> tuple[Segment, ...]:
        job_progress.stage(Stage.DIARIZING)
        turns = self.tracker.turns(self.bounds)
        job_progress.check_cancelled()  # cancelled while the voices were clustered
        return assign(segments, turns)


def tracker(device: str = "cpu") -> SpeakerTracker:
    """The studio's diarizer (GE2E embeddings in numpy, clustered).

    Checks for the clustering libraries first: a missing one is said before the
    transcription starts, not after it.
    """
    from stt_studio.diarize import clustering
    from stt_studio.diarize.embedder import VoiceEmbedder
    from stt_studio.diarize.tracker import ClusteringTracker

    clustering.require()
    return ClusteringTracker(VoiceEmbedder(device))
