"""The numpy GE2E encoder against resemblyzer's torch one: the same windows, timed in one process.

    .venv/bin/python bench/ge2e_speed.py [--windows 3000] [--repeats 3]

Needs torch and resemblyzer (dev only; the studio needs neither). The windows
are 160-frame (1.6 s) mel windows of real speech (the shared LJ Speech
concatenation, through the studio's own mel), hopped 0.8 s and cycled up to
``--windows``. Each encoder embeds all of them, in the batches each path uses
(torch: 64 windows as the old embedder did, and 256; numpy: all at once, as the
embedder hands them over, which shares them out in ``ge2e.BATCH``-window batches among
its threads; and with no worker threads, BLAS as it is), ``--repeats`` times, interleaved; the best time of each is printed with
the ratio numpy / torch and the largest difference between their embeddings.
Nothing else CPU-heavy should run meanwhile: both use every core (BLAS threads).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT.parent / "shared" / "audio" / "B_long" / (
    "CONSTRUCTED_ljspeech_LJ001-0001_to_0032_concatenated.wav")


def windows(count: int) -> np.ndarray:
    from stt_studio.audio.decode import decode_file
    from stt_studio.diarize import embedder

    samples = decode_file(SPEECH).samples
    mel = embedder._mel(samples)
    starts = range(0, len(mel) - embedder.WINDOW_FRAMES, embedder.WINDOW_FRAMES // 2)
    pool = [mel[s:s + embedder.WINDOW_FRAMES] for s in starts]
    return np.stack([pool[i % len(pool)] for i in range(count)])


def batched(embed: Callable[[np.ndarray], np.ndarray], mels: np.ndarray,
            batch: int) -> np.ndarray:
    return np.concatenate([embed(mels[at:at + batch]) for at in range(0, len(mels), batch)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch
    from resemblyzer import VoiceEncoder

    from stt_studio.diarize import ge2e

    mels = windows(args.windows)
    theirs = VoiceEncoder("cpu", verbose=False)
    ours = ge2e.encoder()

    def torch_embed(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return theirs(torch.from_numpy(batch)).numpy()

    runs: dict[str, tuple[Callable[[np.ndarray], np.ndarray], int]] = {
        "torch, batch 64": (torch_embed, 64),
        "torch, batch 256": (torch_embed, 256),
        "numpy": (ours.embed, len(mels)),
        "numpy, no workers": (lambda m: ours.embed(m, workers=1), len(mels)),
    }
    best = {name: float("inf") for name in runs}
    out: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for name, (embed, batch) in runs.items():
            started = time.perf_counter()
            out[name] = batched(embed, mels, batch)
            best[name] = min(best[name], time.perf_counter() - started)
    print(f"{len(mels)} windows of {mels.shape[1]} frames; {os.cpu_count()} CPUs, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}; "
          f"best of {args.repeats}")
    for name, seconds in best.items():
        print(f"  {name:20s} {seconds:7.2f} s  ({len(mels) / seconds:6.0f} windows/s)")
    torch_s = min(s for name, s in best.items() if name.startswith("torch"))
    numpy_name = "numpy"
    print(f"  numpy / fastest torch: {best[numpy_name] / torch_s:.2f}x")
    gap = np.abs(out[numpy_name] - out["torch, batch 64"]).max()
    print(f"  largest |numpy - torch| in an embedding: {gap:.2e}")


if __name__ == "__main__":
    main()
