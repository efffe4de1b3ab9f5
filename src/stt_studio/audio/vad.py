"""Where people speak: Silero VAD as faster-whisper ships it (no download).

Only speech reaches an engine, so silence and pauses produce no words, and the
pauses found here are where long recordings are cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stt_studio.domain import SAMPLE_RATE_HZ

#: faster-whisper's batched-pipeline defaults: pauses from 160 ms, 400 ms of padding
MIN_SILENCE_MS = 160
SPEECH_PAD_MS = 400
#: Silero's speech probability that counts as speech
THRESHOLD = 0.5
#: a second listen when a recording seems to hold no speech at all: a whisper peaks at
#: 0.4, white noise from -70 to -30 dBFS under 0.2
QUIET_THRESHOLD = 0.3
#: silence put before and after the audio while the VAD listens (16 windows of 512)
LEAD_SAMPLES = 16 * 512
#: a pause the VAD found this long or longer is listened to again on its own. Silero
#: carries what it heard before: after a loud reader, a quiet or hoarse voice can score
#: under the threshold for 10 s and more (a whole turn) that it scores as speech when
#: heard afresh. Fitted with bench/completeness.py (even conversations; odd held out)
RELISTEN_S = 2.0


@dataclass(frozen=True, slots=True)
class Span:
    """Samples [start_sample, end_sample) of one recording or block."""

    start_sample: int
    end_sample: int

    @property
    def length(self) -> int:
        return self.end_sample - self.start_sample


def detect_speech(samples: np.ndarray, *, max_span_s: float, threshold: float = THRESHOLD,
                  rate_hz: int = SAMPLE_RATE_HZ) -> tuple[Span, ...]:
    """Speech regions of ``samples`` (16 kHz mono), each at most ``max_span_s`` long.

    A region longer than that is split at its last pause of 100 ms or more, or
    (continuous speech) where it reaches the limit.
    """
    spans = _listen(samples, max_span_s=max_span_s, threshold=threshold, rate_hz=rate_hz)
    out: list[Span] = []
    at = 0
    for span in (*spans, Span(len(samples), len(samples))):
        if span.start_sample - at >= RELISTEN_S * rate_hz:  # a long pause: heard afresh
            again = _listen(samples[at:span.start_sample], max_span_s=max_span_s,
                            threshold=threshold, rate_hz=rate_hz)
            out.extend(Span(at + s.start_sample, at + s.end_sample) for s in again)
        if span.end_sample > span.start_sample:
            out.append(span)
        at = max(at, span.end_sample)
    return tuple(out)


def _listen(samples: np.ndarray, *, max_span_s: float, threshold: float,
            rate_hz: int) -> tuple[Span, ...]:
    """One pass of Silero over ``samples``, from a fresh state."""
    if samples.size == 0:
        return ()
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(threshold=threshold, max_speech_duration_s=max_span_s,
                         min_silence_duration_ms=MIN_SILENCE_MS, speech_pad_ms=SPEECH_PAD_MS)
    # Silero needs a moment of context: a word at the very start of a file
    # (a 0.4 s spoken digit) scores 0.46 bare and 0.94 after half a second of silence
    lead = np.zeros(LEAD_SAMPLES, dtype=np.float32)
    padded = np.concatenate([lead, np.asarray(samples, dtype=np.float32), lead])
    found = get_speech_timestamps(padded, options, sampling_rate=rate_hz)
    n = len(samples)
    spans = (Span(min(max(int(s["start"]) - LEAD_SAMPLES, 0), n),
                  min(max(int(s["end"]) - LEAD_SAMPLES, 0), n)) for s in found)
    return tuple(s for s in spans if s.end_sample > s.start_sample)


def whole(samples: np.ndarray) -> tuple[Span, ...]:
    """No VAD: everything is speech."""
    return (Span(0, len(samples)),) if samples.size else ()
