"""The CUDA test for Whisper, run in a child process: ``python -m stt_studio.engines.cuda_check``.

It loads the bundled tiny.en model on the first CUDA device and encodes 30 s
of silence: the encoder's convolutions and matrix products are where a missing
cuDNN 9 or cuBLAS 12 shows (loading alone does not touch them). A missing
cuDNN DLL ends the process instead of raising, which is why this runs apart
(:func:`stt_studio.engines.device.ctranslate2_view` reads its one line of
answer, or its exit code and last words).
"""

from __future__ import annotations

import sys

import numpy as np

from stt_studio.engines.device import ANSWER_MARK, CTRANSLATE2, CudaView, view_to_json

#: the frames of 30 s of log-mel features, what Whisper's encoder takes
FRAMES = 3000


def check() -> CudaView:
    """One encode on CUDA; what CTranslate2 saw."""
    import ctranslate2

    from stt_studio.models.store import bundled_whisper_dir

    count = int(ctranslate2.get_cuda_device_count())
    if count == 0:
        return CudaView(CTRANSLATE2, 0, False)
    types: tuple[str, ...] = ()
    try:
        types = tuple(sorted(ctranslate2.get_supported_compute_types("cuda")))
        model = ctranslate2.models.Whisper(str(bundled_whisper_dir()), device="cuda",
                                           compute_type="default")
        features = np.zeros((1, model.n_mels, FRAMES), dtype=np.float32)
        model.encode(ctranslate2.StorageView.from_array(features), to_cpu=True)
    except Exception as exc:  # noqa: BLE001 - any failure means Whisper cannot use this GPU
        return CudaView(CTRANSLATE2, count, False, f"{type(exc).__name__}: {exc}", types)
    return CudaView(CTRANSLATE2, count, True, compute_types=types)


def main() -> int:
    print(ANSWER_MARK + view_to_json(check()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
