"""Voice embeddings of speech windows with resemblyzer's GE2E encoder (bundled weights, CPU).

The only module that imports resemblyzer, lazily. Each span of speech is
turned into a mel spectrogram once (10 ms frames); its windows are slices of
it, so overlapping windows cost no second spectrogram; the encoder takes them
in batches.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from stt_studio.audio.vad import Span
from stt_studio.diarize import windows as windowing
from stt_studio.domain import SAMPLE_RATE_HZ
from stt_studio.errors import EngineMissingError

log = logging.getLogger(__name__)

#: 10 ms mel frames: what resemblyzer's encoder was trained on
FRAME_SAMPLES = SAMPLE_RATE_HZ // 100
WINDOW_FRAMES = int(windowing.WINDOW_S * 100)
BATCH = 64
#: speech is brought to this loudness before its spectrogram (resemblyzer's own target)
TARGET_DBFS = -30.0

_LOCK = threading.Lock()
_ENCODER: Any = None


def _encoder(device: str) -> Any:
    """The encoder, loaded once per process (17 MB of weights inside the package)."""
    global _ENCODER
    with _LOCK:
        if _ENCODER is None:
            try:
                from resemblyzer import VoiceEncoder
            except ImportError as exc:
                raise EngineMissingError(
                    "speaker diarization needs the resemblyzer package",
                    detail=str(exc),
                    remedies=("Run `make run` or `bash scripts/setup.sh` again; it installs "
                              "resemblyzer and webrtcvad-wheels (no compiler needed)",),
                ) from exc
            _ENCODER = VoiceEncoder(device=device, verbose=False)
            log.info("voice encoder (resemblyzer GE2E) loaded on %s", device)
        return _ENCODER


#: resemblyzer's mel settings: 25 ms windows every 10 ms, 40 bands
N_FFT = SAMPLE_RATE_HZ * 25 // 1000
MEL_BANDS = 40


def _mel(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """resemblyzer's ``wav_to_mel_spectrogram`` in numpy (the same numbers to 1e-6).

    Theirs goes through ``librosa.feature``, whose import compiles librosa's
    numba functions: 15-20 s on the first diarization in every new cache
    (NUMBA_CACHE_DIR lives there); ``librosa.filters`` compiles nothing.
    """
    import librosa.filters
    import scipy.signal
    from resemblyzer.audio import normalize_volume

    wav = np.asarray(samples, dtype=np.float32)
    if float(np.sqrt(np.mean(wav ** 2))) > 1e-6:
        wav = normalize_volume(wav, TARGET_DBFS, increase_only=True)
    padded = np.pad(wav, N_FFT // 2)  # librosa's centred frames, zero padded
    count = 1 + (len(padded) - N_FFT) // FRAME_SAMPLES
    at = np.arange(N_FFT)[None, :] + FRAME_SAMPLES * np.arange(count)[:, None]
    window = scipy.signal.get_window("hann", N_FFT, fftbins=True).astype(np.float32)
    power = np.abs(np.fft.rfft(padded[at] * window, axis=1)) ** 2
    bands = librosa.filters.mel(sr=SAMPLE_RATE_HZ, n_fft=N_FFT, n_mels=MEL_BANDS)
    return np.asarray(power @ bands.T, dtype=np.float32)


def _fit(frames: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Exactly WINDOW_FRAMES frames: a short window is repeated, a long one cut."""
    if len(frames) >= WINDOW_FRAMES:
        return frames[:WINDOW_FRAMES]
    repeats = int(np.ceil(WINDOW_FRAMES / max(len(frames), 1)))
    return np.tile(frames, (repeats, 1))[:WINDOW_FRAMES]


class VoiceEmbedder:
    """Speech spans of a block -> their windows and one 256-d unit vector per window."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    def embed(self, samples: npt.NDArray[np.float32], speech: tuple[Span, ...],
              ) -> tuple[list[windowing.Window], npt.NDArray[np.float32]]:
        import torch

        planned = windowing.plan(speech)
        if not planned:
            return [], np.zeros((0, 256), dtype=np.float32)
        encoder = _encoder(self.device)
        mels: list[npt.NDArray[np.float32]] = []
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
        out = []
        with torch.no_grad():
            for at in range(0, len(mels), BATCH):
                batch = torch.from_numpy(np.stack(mels[at:at + BATCH])).to(self.device)
                out.append(encoder(batch).cpu().numpy())
        return planned, np.concatenate(out).astype(np.float32)
