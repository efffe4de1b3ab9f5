"""A loaded model as a live session's :class:`~stt_studio.live.session.Decoder`.

A partial decode is quick (greedy, one pass): its words only settle when the
next one agrees. A turn's final decode is the careful one, the model's own
options, and passes the same completeness check as a file's piece
(:func:`stt_studio.completeness.complete`): speech its words do not cover is
decoded again before the turn is completed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace

import numpy as np

from stt_studio import completeness
from stt_studio.domain import SAMPLE_RATE_HZ, Audio, Segment, TranscriptionOptions
from stt_studio.engines.base import LoadedModel


class ModelDecoder:
    """``turn``: held around each call to the model (it is shared with file jobs)."""

    def __init__(self, loaded: LoadedModel, options: TranscriptionOptions,
                 turn: Callable[[], AbstractContextManager[object]] | None = None) -> None:
        self.loaded = loaded
        self._final = replace(options, batch_size=1,
                              word_timestamps=loaded.info.timestamps)
        self._partial = replace(self._final, beam_size=1, temperature=0.0)
        self._turn = turn or contextlib.nullcontext

    def decode(self, samples: np.ndarray, *, prompt: str | None,
               final: bool) -> tuple[Segment, ...]:
        audio = Audio(np.asarray(samples, dtype=np.float32), SAMPLE_RATE_HZ)
        if audio.duration_s <= 0:
            return ()
        options = replace(self._final if final else self._partial, initial_prompt=prompt)
        with self._turn():
            output = self.loaded.transcribe_batch([audio], options)[0]
            if final:
                output = completeness.complete(self.loaded, [audio], [output], options,
                                               context="")[0].output  # the prompt holds the context
        return tuple(s for s in output.segments if s.text.strip())
