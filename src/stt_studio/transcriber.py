"""Blocks of a recording -> segments: speech pieces decoded in full batches.

Pieces from successive blocks share batches (a block's last few pieces wait
for the next block's first), so a long recording is decoded in as many
batches as if it were one block; each block is merged (on words) as soon as
all its pieces are back, and its samples are let go.

Every batch's output is checked against the speech it was given
(:mod:`stt_studio.completeness`) before it is kept: what came back short is
decoded again, and what still has no text is kept in :attr:`Transcriber.unheard`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from stt_studio import completeness
from stt_studio import progress as job_progress
from stt_studio.audio import chunking, pieces
from stt_studio.audio.blocks import Block
from stt_studio.domain import SAMPLE_RATE_HZ, Audio, Segment, TranscriptionOptions, Unheard
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
    unheard: list[Unheard] = field(default_factory=list)


@dataclass(slots=True)
class Transcriber:
    loaded: LoadedModel
    options: TranscriptionOptions
    plan: Plan
    total_s: float | None
    segments: list[Segment] = field(default_factory=list)
    language: str | None = None  # of the output, as the engine said
    heard: Heard | None = None
    unheard: list[Unheard] = field(default_factory=list)  # speech that gave no text
    redone: int = 0  # stretches decoded again
    _context: str = ""  # the text heard last: the prompt of a stretch decoded again
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
        # words are how the output is checked against its speech, and how pieces that
        # overlap are joined: ask for them (the service drops them when not wanted)
        asked = (replace(self.options, word_timestamps=True)
                 if self.loaded.info.timestamps else self.options)
        audios = [Audio(entry.planned[i].samples, SAMPLE_RATE_HZ) for entry, i in group]
        with job_progress.covering(start_s, end_s, self.total_s):
            results = self.loaded.transcribe_batch(audios, asked,
                                                   local_attention=self.plan.local_attention)
        with job_progress.covering(end_s, end_s, self.total_s):  # the bar stays put
            checked = completeness.complete(self.loaded, audios, results, asked,
                                            context=self._context,
                                            local_attention=self.plan.local_attention)
        self._context = completeness.last_text(checked) or self._context
        for (entry, i), result in zip(group, checked):
            entry.outputs[i] = result.output.segments
            entry.unheard.extend(unheard_in(entry.planned[i], result.missing,
                                            entry.block.offset_s))
            self.redone += len(result.redone)
            entry.missing -= 1
        detected = next((r.output.language for r in checked if r.output.language), None)
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
            self.unheard.extend(sorted(entry.unheard, key=lambda u: u.start_s))
            if self.heard is not None and final:
                self.heard(final)
            job_progress.heard(entry.block.offset_s + entry.block.duration_s, self.total_s)


def unheard_in(piece: pieces.Piece, missing: Sequence[completeness.Gap],
               offset_s: float = 0.0) -> list[Unheard]:
    """Stretches of a piece without text -> the same, in the recording's time.

    Only what the piece owns counts (a neighbour that overlaps it answers for
    the rest), and only what is still :data:`completeness.GAP_S` of speech then.
    """
    own_start_s = piece.own_start / SAMPLE_RATE_HZ
    own_end_s = piece.own_end / SAMPLE_RATE_HZ
    out = []
    for gap in missing:
        speech_s = 0.0
        first: float | None = None
        last = 0.0
        for stretch in piece.stretches:
            a_s = stretch.piece_start / SAMPLE_RATE_HZ
            b_s = a_s + stretch.length / SAMPLE_RATE_HZ
            lo, hi = max(a_s, gap.start_s), min(b_s, gap.end_s)
            if hi <= lo:
                continue
            source_s = stretch.source_start / SAMPLE_RATE_HZ - a_s
            lo_s, hi_s = max(lo + source_s, own_start_s), min(hi + source_s, own_end_s)
            if hi_s <= lo_s:
                continue
            speech_s += hi_s - lo_s
            first = lo_s if first is None else first
            last = hi_s
        if first is not None and speech_s >= completeness.GAP_S - 1e-6:
            out.append(Unheard(first + offset_s, last + offset_s, speech_s))
    return out
