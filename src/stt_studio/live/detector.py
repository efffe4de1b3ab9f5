"""Turns from the stream's speech probabilities, by the rules of OpenAI's ``server_vad``.

Silero VAD (as faster-whisper ships it) scores each 32 ms chunk. A turn opens
at the first chunk scoring ``threshold`` or more, ``prefix_padding_ms`` before
it (the audio a client gets in ``audio_start_ms``); it closes once the score
stays under ``threshold - 0.15`` (Silero's own hysteresis) for
``silence_duration_ms``. :class:`TurnDetector` is the pure rule over scores;
:class:`SileroScores` scores audio as it arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stt_studio.domain import SAMPLE_RATE_HZ

#: Silero scores chunks of this many samples at 16 kHz (32 ms)
CHUNK_SAMPLES = 512
#: the score must fall this far under the threshold to count as silence (Silero's rule)
HYSTERESIS = 0.15
#: scored again with each call, so the model hears the audio before a call's first chunk
CONTEXT_CHUNKS = 32
#: speech kept after the last chunk that scored as speech (the tail of a word)
TAIL_PAD_MS = 200


@dataclass(frozen=True, slots=True)
class TurnRules:
    """``server_vad``: OpenAI's names and defaults."""

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500

    def __post_init__(self) -> None:
        from stt_studio.errors import InvalidOptionError

        if not 0.0 < self.threshold < 1.0:
            raise InvalidOptionError(f"turn_detection.threshold must be between 0 and 1, "
                                     f"not {self.threshold}")
        for name in ("prefix_padding_ms", "silence_duration_ms"):
            value = getattr(self, name)
            if not 0 <= value <= 10_000:
                raise InvalidOptionError(f"turn_detection.{name} must be 0 to 10000 ms, "
                                         f"not {value}")


@dataclass(frozen=True, slots=True)
class Edge:
    """A turn opened (``started``) or closed at ``sample`` of the session's audio."""

    started: bool
    sample: int


class TurnDetector:
    """Scores in, edges out; remembers only the open turn."""

    def __init__(self, rules: TurnRules) -> None:
        self.rules = rules
        self._at = 0  # chunks scored so far
        self._open = False
        self._quiet_from: int | None = None  # the chunk where the current silence began
        self._last_end = 0  # the sample where the last turn closed

    @property
    def open(self) -> bool:
        return self._open

    def feed(self, scores: Sequence[float]) -> list[Edge]:
        edges: list[Edge] = []
        rules = self.rules
        low = max(rules.threshold - HYSTERESIS, 0.01)
        silence_chunks = max(1, round(rules.silence_duration_ms * SAMPLE_RATE_HZ / 1000
                                      / CHUNK_SAMPLES))
        for score in scores:
            chunk = self._at
            self._at += 1
            if not self._open:
                if score >= rules.threshold:
                    pad = rules.prefix_padding_ms * SAMPLE_RATE_HZ // 1000
                    start = max(chunk * CHUNK_SAMPLES - pad, self._last_end, 0)
                    edges.append(Edge(True, start))
                    self._open, self._quiet_from = True, None
                continue
            if score >= rules.threshold:
                self._quiet_from = None
            elif score < low and self._quiet_from is None:
                self._quiet_from = chunk
            if self._quiet_from is not None and chunk + 1 - self._quiet_from >= silence_chunks:
                edges.append(Edge(False, self._close_at(self._quiet_from)))
        return edges

    def _close_at(self, quiet_from: int) -> int:
        end = min(quiet_from * CHUNK_SAMPLES + TAIL_PAD_MS * SAMPLE_RATE_HZ // 1000,
                  self._at * CHUNK_SAMPLES)
        self._open, self._quiet_from, self._last_end = False, None, end
        return end

    def close(self) -> Edge | None:
        """The stream ended (or was committed) with a turn open: it closes where heard."""
        if not self._open:
            return None
        end = self._at * CHUNK_SAMPLES
        self._open, self._quiet_from, self._last_end = False, None, end
        return Edge(False, end)

    def reset(self) -> None:
        """A manual commit or clear: whatever was open is gone; scores go on counting."""
        self._open, self._quiet_from = False, None
        self._last_end = self._at * CHUNK_SAMPLES


class SileroScores:
    """Silero's speech probability for each whole chunk of the audio given so far."""

    def __init__(self) -> None:
        from faster_whisper.vad import get_vad_model

        self._model = get_vad_model()
        self._pending = np.zeros(0, dtype=np.float32)
        self._context = np.zeros(0, dtype=np.float32)

    def feed(self, samples: np.ndarray) -> list[float]:
        """Scores of the chunks that ``samples`` completes (a partial chunk waits)."""
        audio = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32)])
        whole = len(audio) // CHUNK_SAMPLES * CHUNK_SAMPLES
        self._pending = audio[whole:]
        if whole == 0:
            return []
        fresh = audio[:whole]
        heard = np.concatenate([self._context, fresh])
        scores = np.asarray(self._model(heard), dtype=np.float64).reshape(-1)
        self._context = heard[-CONTEXT_CHUNKS * CHUNK_SAMPLES:]
        return [float(x) for x in scores[-(whole // CHUNK_SAMPLES):]]
