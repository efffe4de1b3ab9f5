"""A CUDA GPU that CTranslate2 counts, in every Python process started with this folder
on PYTHONPATH and ``STT_TEST_FAKE_CUDA`` set (the CLI, the studio's own probe child).

What a Whisper model on "cuda" does then depends on the value:

- ``cublas``: its constructor raises what Windows laptops with PyPI's wheels raise
  (faster-whisper #1276);
- ``cudnn``: its encode prints what a missing cuDNN 9 prints, and the process ends
  (no exception: the studio's probe must survive it);
- ``works``: it runs, on the CPU, so the studio's code after the probe runs for real.
"""

from __future__ import annotations

import os
import sys

MODE = os.environ.get("STT_TEST_FAKE_CUDA", "")
CUBLAS_MESSAGE = "Library cublas64_12.dll is not found or cannot be loaded"
CUDNN_MESSAGE = ("Could not locate cudnn_ops64_9.dll. Please make sure it is in your library "
                 "path!\nInvalid handle. Cannot load symbol cudnnCreateTensorDescriptor")
CUDA_TYPES = {"float32", "float16", "int8", "int8_float16", "int8_float32", "bfloat16",
              "int8_bfloat16"}


class _EndsTheProcess:
    n_mels = 80
    is_multilingual = False

    def encode(self, *_args: object, **_kwargs: object) -> None:
        sys.stderr.write(CUDNN_MESSAGE + "\n")
        sys.stderr.flush()
        os._exit(1)


def _install() -> None:
    import ctranslate2

    real_types = ctranslate2.get_supported_compute_types
    real_whisper = ctranslate2.models.Whisper

    def supported(device: str, device_index: int = 0) -> set[str]:
        return set(CUDA_TYPES) if device == "cuda" else real_types(device, device_index)

    def whisper(model_path: str, device: str = "cpu", **kwargs: object) -> object:
        if device != "cuda":
            return real_whisper(model_path, device, **kwargs)
        if MODE == "cublas":
            raise RuntimeError(CUBLAS_MESSAGE)
        if MODE == "cudnn":
            return _EndsTheProcess()
        kwargs["compute_type"] = "int8"  # the CPU stands in for the GPU
        return real_whisper(model_path, "cpu", **kwargs)

    ctranslate2.get_cuda_device_count = lambda: 1
    ctranslate2.get_supported_compute_types = supported
    ctranslate2.models.Whisper = whisper


if MODE:
    _install()
