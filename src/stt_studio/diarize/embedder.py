"""Voice embeddings of speech windows: resemblyzer's GE2E encoder, in numpy (CPU).

No torch, resemblyzer, librosa or scipy: the encoder is :mod:`.ge2e` (its
weights ship in the package); the mel spectrogram is resemblyzer's
``wav_to_mel_spectrogram`` (librosa's ``melspectrogram`` defaults: periodic
Hann, centred zero-padded frames, power 2, Slaney mel bands) and its
``normalize_volume`` (Apache-2.0, Copyright 2019 Resemble.AI), written here in
numpy. Each span of speech is turned into a mel spectrogram once (10 ms
frames); its windows are slices of it, so overlapping windows cost no second
spectrogram; the encoder takes all of a block's windows at once (and shares
them out among its threads).
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import numpy.typing as npt

from stt_studio.audio.vad import Span
from stt_studio.diarize import ge2e
from stt_studio.diarize import windows as windowing
from stt_studio.domain import SAMPLE_RATE_HZ

log = logging.getLogger(__name__)

Floats = npt.NDArray[np.float32]

#: 10 ms mel frames: what resemblyzer's encoder was trained on
FRAME_SAMPLES = SAMPLE_RATE_HZ // 100
WINDOW_FRAMES = int(windowing.WINDOW_S * 100)
#: speech is brought to this loudness before its spectrogram (resemblyzer's own target)
TARGET_DBFS = -30.0
#: resemblyzer's mel settings: 25 ms windows every 10 ms, 40 bands
N_FFT = SAMPLE_RATE_HZ * 25 // 1000
MEL_BANDS = ge2e.MEL_BANDS
_INT16_MAX = (2 ** 15) - 1


def normalize_volume(wav: Floats, target_dbfs: float, *, increase_only: bool = False,
                     decrease_only: bool = False) -> Floats:
    """resemblyzer's ``audio.normalize_volume``, ported (Apache-2.0, Resemble.AI): ``wav``
    scaled to ``target_dbfs`` of RMS, counted as 16-bit PCM's full scale."""
    if increase_only and decrease_only:
        raise ValueError("Both increase only and decrease only are set")
    rms = np.sqrt(np.mean((wav * _INT16_MAX) ** 2))
    wave_dbfs = 20 * np.log10(rms / _INT16_MAX)
    change_db = target_dbfs - wave_dbfs
    if change_db < 0 and increase_only or change_db > 0 and decrease_only:
        return wav
    return np.asarray(wav * (10 ** (change_db / 20)), dtype=np.float32)


@functools.cache
def hann_window(length: int) -> npt.NDArray[np.float64]:
    """The periodic Hann window (``scipy.signal.get_window("hann", length)``, as librosa's STFT)."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)


def _hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Slaney's mel scale (librosa ``htk=False``): linear to 1 kHz, logarithmic above."""
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    logstep = np.log(6.4) / 27.0
    mels = hz / f_sp
    above = hz >= min_log_hz
    mels[above] = min_log_hz / f_sp + np.log(hz[above] / min_log_hz) / logstep
    return mels


def _mel_to_hz(mels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    f_sp = 200.0 / 3
    min_log_mel = 1000.0 / f_sp
    logstep = np.log(6.4) / 27.0
    hz = f_sp * mels
    above = mels >= min_log_mel
    hz[above] = 1000.0 * np.exp(logstep * (mels[above] - min_log_mel))
    return hz


@functools.cache
def mel_filterbank(rate_hz: int, n_fft: int, bands: int) -> Floats:
    """``librosa.filters.mel(sr=rate_hz, n_fft=n_fft, n_mels=bands)`` with its defaults
    (0 Hz to Nyquist, ``htk=False``, ``norm="slaney"``): ``(bands, n_fft // 2 + 1)``."""
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / rate_hz)
    edges = np.array([0.0, rate_hz / 2.0])
    mel_edges = _hz_to_mel(edges)
    centres_hz = _mel_to_hz(np.linspace(mel_edges[0], mel_edges[1], bands + 2))
    gaps = np.diff(centres_hz)
    ramps = centres_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / gaps[:-1, None]
    upper = ramps[2:] / gaps[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (centres_hz[2:bands + 2] - centres_hz[:bands]))[:, None]  # Slaney: equal area
    return weights.astype(np.float32)


def _mel(samples: Floats) -> Floats:
    """resemblyzer's ``wav_to_mel_spectrogram(normalize_volume(wav, -30, increase_only=True))``
    in numpy: ``(frames, MEL_BANDS)`` of mel power (not log), one frame every 10 ms.

    A silent stretch is left as it is (normalising it would divide by zero).
    """
    wav = np.asarray(samples, dtype=np.float32)
    if float(np.sqrt(np.mean(wav ** 2))) > 1e-6:
        wav = normalize_volume(wav, TARGET_DBFS, increase_only=True)
    padded = np.pad(wav, N_FFT // 2)  # librosa's centred frames, zero padded
    count = 1 + (len(padded) - N_FFT) // FRAME_SAMPLES
    at = np.arange(N_FFT)[None, :] + FRAME_SAMPLES * np.arange(count)[:, None]
    # as librosa: the float64 window makes the FFT float64; its result is kept as complex64
    spectrum = np.fft.rfft(padded[at] * hann_window(N_FFT), axis=1).astype(np.complex64)
    power = np.abs(spectrum) ** 2
    return np.asarray(power @ mel_filterbank(SAMPLE_RATE_HZ, N_FFT, MEL_BANDS).T,
                      dtype=np.float32)


def _fit(frames: Floats) -> Floats:
    """Exactly WINDOW_FRAMES frames: a short window is repeated, a long one cut."""
    if len(frames) >= WINDOW_FRAMES:
        return frames[:WINDOW_FRAMES]
    repeats = int(np.ceil(WINDOW_FRAMES / max(len(frames), 1)))
    return np.tile(frames, (repeats, 1))[:WINDOW_FRAMES]


class VoiceEmbedder:
    """Speech spans of a block -> their windows and one 256-d unit vector per window."""

    def __init__(self, device: str = "cpu") -> None:
        # accepted for the callers' sake: the numpy encoder runs on the CPU whatever is asked
        self.device = device

    def embed(self, samples: Floats, speech: tuple[Span, ...],
              ) -> tuple[list[windowing.Window], Floats]:
        planned = windowing.plan(speech)
        if not planned:
            return [], np.zeros((0, ge2e.EMBEDDING_SIZE), dtype=np.float32)
        encoder = ge2e.encoder()
        mels: list[Floats] = []
        for span in speech:
            inside = [w for w in planned
                      if span.start_sample <= w.start_sample and w.end_sample <= span.end_sample]
            if not inside:
                continue
            spectrogram = _mel(samples[span.start_sample:span.end_sample])
            for window in inside:
                first = (window.start_sample - span.start_sample) // FRAME_SAMPLES
                count = max(1, (window.end_sample - window.start_sample) // FRAME_SAMPLES)
                mels.append(_fit(spectrogram[first:first + count]))
        return planned, encoder.embed(np.stack(mels))
