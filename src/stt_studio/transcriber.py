"""Blocks of a recording -> segments: speech pieces decoded in full batches.

Pieces from successive blocks share batches (a block's last few pieces wait
for the next block's first), so a long recording is decoded in as many
batches as if it were one block; each block is merged (on words) as soon as
all its pieces are back, and its samples are let go.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from stt_studio import progress as job_progress
from stt_studio.audio import chunking, pieces
from stt_studio.audio.blocks import Block
from stt_studio.domain import SAMPLE_RATE_HZ, Audio, Segment, TranscriptionOptions
from stt_studio.engines.base import LoadedModel
from stt_studio.longform import Plan

#: receives the segments of a stretch of audio once they are final (times in the recording)
Heard = Callable[[Sequence[Segment]], None]


@dataclass(slots=True)
class _Open:
    """A block whose pieces are not all back yet (mutable, private)."""

    block: Block
    planned: list[pieces.Piece]
    outputs: list[tuple[Segment, ...]]
    missing: int


@dataclass(slots=True)
class Transcriber:
    loaded: LoadedModel
    options: TranscriptionOptions
    plan: Plan
    total_s: float | None
    segments: list[Segment] = field(default_factory=list)
    language: str | None = None  # of the output, as the engine said
    heard: Heard | None = None
    _queue: deque[tuple[_Open, int]] = field(default_factory=deque)
    _open: deque[_Open] = field(default_factory=deque)

    @property
    def _step(self) -> int:
        return max(self.options.batch_size, 1) if self.plan.batched else 1

    def add(self, block: Block) -> None:
        planned = pieces.plan(block.samples, block.speech, max_piece_s=self.plan.max_piece_s,
                              overlap_s=self.plan.overlap_s)
        entry = _Open(block, planned, [() for _ in planned], len(planned))
        self._open.append(entry)
        self._queue.extend((entry, i) for i in range(len(planned)))
        while len(self._queue) >= self._step or (self.heard is not None and self._queue):
            # someone watches the text come: each block is decoded as it arrives, even in
            # a part-full batch, rather than waiting for the next block to fill it
            self._batch()
        self._collect()

    def finish(self) -> None:
        while self._queue:
            self._batch()
        self._collect()

    def _batch(self) -> None:
        group = [self._queue.popleft() for _ in range(min(self._step, len(self._queue)))]
        first, last = group[0], group[-1]
        start_s = first[0].block.offset_s + first[0].planned[first[1]].source_start_s
        end_s = last[0].block.offset_s + last[0].planned[last[1]].source_end_s
        # pieces that overlap are joined on their words: ask for them (dropped later
        # when not wanted), else a segment heard by both neighbours comes twice
        asked = (replace(self.options, word_timestamps=True)
                 if self.plan.overlap_s > 0 and self.loaded.info.timestamps else self.options)
        with job_progress.covering(start_s, end_s, self.total_s):
            results = self.loaded.transcribe_batch(
                [Audio(entry.planned[i].samples, SAMPLE_RATE_HZ) for entry, i in group], asked,
                local_attention=self.plan.local_attention)
        for (entry, i), result in zip(group, results):
            entry.outputs[i] = result.segments
            entry.missing -= 1
        detected = next((r.language for r in results if r.language), None)
        self.language = self.language or detected
        languages = self.loaded.info.languages
        if self.options.language is None and detected and languages and detected in languages:
            # the language heard first holds for the rest of the recording
            self.options = replace(self.options, language=detected)

    def _collect(self) -> None:
        """Merge the blocks whose pieces are all back, in order."""
        while self._open and self._open[0].missing == 0:
            entry = self._open.popleft()
            merged = pieces.merge(entry.planned, entry.outputs)
            final = [chunking.shift(s, entry.block.offset_s) for s in merged]
            self.segments.extend(final)
            if self.heard is not None and final:
                self.heard(final)
            job_progress.heard(entry.block.offset_s + entry.block.duration_s, self.total_s)
