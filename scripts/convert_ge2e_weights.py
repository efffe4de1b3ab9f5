"""One-off: resemblyzer's GE2E voice encoder weights (torch) -> the .npz the studio ships.

This is how ``src/stt_studio/diarize/data/ge2e_resemblyzer.npz`` and its
``NOTICE-resemblyzer`` were made; it is kept to show that, not to be run again::

    .venv/bin/python scripts/convert_ge2e_weights.py [PRETRAINED_PT] [--out DIR]

Needs torch and resemblyzer 0.1.4 (``pip install --no-deps resemblyzer==0.1.4``);
the studio itself needs neither. PRETRAINED_PT defaults to the ``pretrained.pt``
inside the installed resemblyzer package; its licence (Apache-2.0, Copyright 2019
Resemble.AI) is read from the package's dist-info.

What changes: nothing in the numbers. The checkpoint's ``model_state`` tensors
the forward pass uses (``lstm.*_l0..l2``, ``linear.*``) are written as float32
arrays under the same names; left out are the optimizer state and GE2E's
``similarity_weight``/``similarity_bias`` (training only, unused by
``VoiceEncoder.forward``). The source file's SHA-256 and resemblyzer's version
are stored beside them (``source_sha256``, ``source``).
"""

from __future__ import annotations

import argparse
import hashlib
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "stt_studio" / "diarize" / "data"
WEIGHTS_NAME = "ge2e_resemblyzer.npz"
NOTICE_NAME = "NOTICE-resemblyzer"
LAYERS = 3
KEYS = tuple(f"lstm.{kind}_l{layer}" for layer in range(LAYERS)
             for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")) + (
    "linear.weight", "linear.bias")

NOTICE_HEAD = """\
The file ge2e_resemblyzer.npz in this folder holds the weights of the GE2E
speaker encoder of Resemblyzer {version} (https://github.com/resemble-ai/Resemblyzer),
the file resemblyzer/pretrained.pt of its wheel (SHA-256 {sha256}),
converted to numpy's .npz format by scripts/convert_ge2e_weights.py: the same
float32 numbers under the same names, without the optimizer state and the two
training-only similarity parameters. The weights are Resemble.AI's, not
stt-studio's, and are redistributed under the Apache License 2.0 below.

stt_studio/diarize/ge2e.py re-implements resemblyzer's VoiceEncoder.forward and
stt_studio/diarize/embedder.py ports its normalize_volume and reproduces its
wav_to_mel_spectrogram in numpy.

Copyright 2019 Resemble.AI

Resemblyzer's LICENSE file follows.

--------------------------------------------------------------------------------

"""


def default_checkpoint() -> Path:
    import resemblyzer

    return Path(resemblyzer.__file__).resolve().parent / "pretrained.pt"


def licence_text() -> str:
    files = metadata.files("resemblyzer") or []
    for file in files:
        if file.name == "LICENSE":
            return Path(str(file.locate())).read_text(encoding="utf-8")
    raise SystemExit("resemblyzer's LICENSE was not found in its dist-info")


def convert(checkpoint: Path, out: Path) -> tuple[Path, Path]:
    import torch

    data = checkpoint.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["model_state"]
    arrays = {key: state[key].detach().numpy().astype(np.float32) for key in KEYS}
    version = metadata.version("resemblyzer")
    out.mkdir(parents=True, exist_ok=True)
    weights = out / WEIGHTS_NAME
    np.savez_compressed(weights, **arrays, source_sha256=np.array(sha256),
                        source=np.array(f"resemblyzer {version} pretrained.pt"))
    notice = out / NOTICE_NAME
    notice.write_text(NOTICE_HEAD.format(version=version, sha256=sha256) + licence_text(),
                      encoding="utf-8")
    with np.load(weights, allow_pickle=False) as check:  # read back: the same numbers
        for key in KEYS:
            assert np.array_equal(check[key], state[key].numpy()), key
    return weights, notice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", type=Path, default=None,
                        help="resemblyzer's pretrained.pt (default: the installed package's)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder (default {OUT})")
    args = parser.parse_args()
    weights, notice = convert(args.checkpoint or default_checkpoint(), args.out)
    print(f"wrote {weights} ({weights.stat().st_size} bytes) and {notice}")


if __name__ == "__main__":
    main()
