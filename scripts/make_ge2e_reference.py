"""One-off: reference values from resemblyzer itself for tests/diarize/test_ge2e.py.

    .venv/bin/python scripts/make_ge2e_reference.py [--out tests/diarize/data/ge2e_reference.npz]

Needs torch, resemblyzer 0.1.4, librosa and scipy (the tests then need only
numpy) and the shared real speech (../shared/audio). Writes one ``.npz``:

- ``filterbank``, ``hann``: ``librosa.filters.mel(sr=16000, n_fft=400, n_mels=40)``
  and ``scipy.signal.get_window("hann", 400)``;
- ``volume_scales``, ``volume_gains``: the gain resemblyzer's
  ``normalize_volume(wav, -30, increase_only=True)`` applies to clip A scaled
  by each factor (louder than -30 dBFS: 1.0);
- ``mel``: resemblyzer's ``wav_to_mel_spectrogram(normalize_volume(...))`` of
  ``mel_scale`` x clip A's samples ``mel_span`` (quieter than -30 dBFS, so the
  gain is applied); ``mel_sha256`` identifies those samples as decoded;
- ``encoder_starts``, ``encoder_embeddings``: resemblyzer's ``VoiceEncoder`` on
  160-frame windows of that ``mel`` starting at those frames;
- ``embedder_spans``, ``embedder_windows``, ``embedder_embeddings``: clip B's
  speech spans (the studio's VAD and energy trim, plus one 0.5 s span so a
  short window is repeated to 160 frames) and what the studio's torch
  embedder gave for them before the numpy one replaced it: resemblyzer's mel
  and ``VoiceEncoder`` on the windows of ``stt_studio.diarize.windows.plan``,
  64 at a time (the old ``embedder.py``, with resemblyzer's own
  ``wav_to_mel_spectrogram`` in place of its numpy copy).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT.parent / "shared" / "audio"
OUT = ROOT / "tests" / "diarize" / "data" / "ge2e_reference.npz"
#: LibriSpeech 1221 (F), 16 kHz PCM: the mel and the encoder
CLIP_A = "A_short_en/librispeech/1221-135766-0001.wav"
#: the MFA developer (M), spontaneous, 16 kHz PCM: the whole embedder
CLIP_B = "A_short_en/mfa_spontaneous/acoustic_corpus.wav"
MEL_SPAN = (2 * 16_000, 8 * 16_000)
MEL_SCALE = 0.1
VOLUME_SCALES = (0.01, 0.1, 1.0, 3.0)
WINDOW_FRAMES = 160
ENCODER_HOP_FRAMES = 40
OLD_BATCH = 64


def samples(clip: str) -> np.ndarray:
    from stt_studio.audio.decode import decode_file

    return np.asarray(decode_file(AUDIO / clip).samples, dtype=np.float32)


def sha256(wav: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(wav, dtype=np.float32).tobytes()).hexdigest()


def old_embedder(wav: np.ndarray, spans: list[tuple[int, int]], encoder: Any,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The studio's embedder as it was with torch (resemblyzer's mel and encoder)."""
    import torch
    from resemblyzer import audio

    from stt_studio.audio.vad import Span
    from stt_studio.diarize import windows as windowing

    speech = tuple(Span(a, b) for a, b in spans)
    planned = windowing.plan(speech)
    mels = []
    for span in speech:
        inside = [w for w in planned
                  if span.start_sample <= w.start_sample and w.end_sample <= span.end_sample]
        if not inside:
            continue
        part = wav[span.start_sample:span.end_sample]
        spectrogram = audio.wav_to_mel_spectrogram(
            audio.normalize_volume(part, -30, increase_only=True))
        for window in inside:
            first = (window.start_sample - span.start_sample) // 160
            count = max(1, (window.end_sample - window.start_sample) // 160)
            frames = spectrogram[first:first + count]
            repeats = int(np.ceil(WINDOW_FRAMES / len(frames)))
            mels.append(np.tile(frames, (repeats, 1))[:WINDOW_FRAMES])
    with torch.no_grad():
        out = [encoder(torch.from_numpy(np.stack(mels[at:at + OLD_BATCH]))).numpy()
               for at in range(0, len(mels), OLD_BATCH)]
    windows = np.array([(w.start_sample, w.end_sample) for w in planned], dtype=np.int64)
    return windows, np.concatenate(out).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    import librosa.filters
    import scipy.signal
    import torch
    from resemblyzer import VoiceEncoder, audio

    from stt_studio.audio import vad
    from stt_studio.diarize.windows import voiced

    encoder = VoiceEncoder("cpu", verbose=False)
    clip_a = samples(CLIP_A)
    gains = []
    for scale in VOLUME_SCALES:
        wav = (clip_a * np.float32(scale)).astype(np.float32)
        done = audio.normalize_volume(wav, -30, increase_only=True)
        gains.append(float(np.dot(done.astype(np.float64), wav) / np.dot(wav, wav.astype(np.float64))))
    part = (clip_a[MEL_SPAN[0]:MEL_SPAN[1]] * np.float32(MEL_SCALE)).astype(np.float32)
    mel = audio.wav_to_mel_spectrogram(audio.normalize_volume(part, -30, increase_only=True))
    starts = np.arange(0, len(mel) - WINDOW_FRAMES + 1, ENCODER_HOP_FRAMES)
    with torch.no_grad():
        encoded = encoder(torch.from_numpy(np.stack([mel[s:s + WINDOW_FRAMES] for s in starts])))

    clip_b = samples(CLIP_B)
    speech = voiced(clip_b, vad.detect_speech(clip_b, max_span_s=30.0))
    spans = [(s.start_sample, s.end_sample) for s in speech]
    last = spans[-1][1]
    if last + 8_000 <= len(clip_b):
        spans.append((last, last + 8_000))  # 0.5 s: one window, its 50 frames repeated
    windows, embeddings = old_embedder(clip_b, spans, encoder)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        filterbank=librosa.filters.mel(sr=16_000, n_fft=400, n_mels=40),
        hann=scipy.signal.get_window("hann", 400, fftbins=True),
        volume_clip=np.array(CLIP_A), volume_scales=np.array(VOLUME_SCALES),
        volume_gains=np.array(gains),
        mel_clip=np.array(CLIP_A), mel_span=np.array(MEL_SPAN), mel_scale=np.array(MEL_SCALE),
        mel_sha256=np.array(sha256(clip_a[MEL_SPAN[0]:MEL_SPAN[1]])), mel=mel,
        encoder_starts=starts, encoder_embeddings=encoded.numpy(),
        embedder_clip=np.array(CLIP_B), embedder_sha256=np.array(sha256(clip_b)),
        embedder_spans=np.array(spans, dtype=np.int64), embedder_windows=windows,
        embedder_embeddings=embeddings)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes): {len(starts)} encoder windows, "
          f"{len(spans)} spans and {len(windows)} windows of {CLIP_B}")


if __name__ == "__main__":
    main()
