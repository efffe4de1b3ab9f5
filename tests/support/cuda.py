"""A CUDA GPU that CTranslate2 counts, for tests on a machine without one.

:func:`fake_gpu` makes this process count one GPU (so the studio starts its
probe child) and gives the child, and any process a test starts with
:func:`child_env`, the fake in ``fake_cuda/sitecustomize.py``: the library call
fails as it does on Windows laptops, or the process ends as it does without
cuDNN, or it works (on the CPU).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

FAKE_DIR = Path(__file__).parent / "fake_cuda"
CUBLAS_MESSAGE = "Library cublas64_12.dll is not found or cannot be loaded"
CUDNN_DLL = "cudnn_ops64_9.dll"


def child_env(mode: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) for a process that sees the fake GPU."""
    out = dict(os.environ if env is None else env)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(FAKE_DIR), out.get("PYTHONPATH")) if p)
    out["STT_TEST_FAKE_CUDA"] = mode
    return out


def fake_gpu(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """This process counts one CUDA GPU; the probe's child gets ``mode``'s fake."""
    import ctranslate2

    from stt_studio.engines import device

    device.forget()
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    for name, value in child_env(mode).items():
        if os.environ.get(name) != value:
            monkeypatch.setenv(name, value)


@dataclass
class ModelSpy:
    """faster-whisper's WhisperModel, recording how it was asked for; a "cuda" one is
    built on the CPU (in int8), as a GPU that works would build it."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> ModelSpy:
        import faster_whisper

        real = faster_whisper.WhisperModel
        spy = self

        def build(model_size_or_path: str, device: str = "auto", **kwargs: Any) -> Any:
            spy.calls.append({"device": device, **kwargs})
            if device == "cuda":
                device, kwargs = "cpu", {**kwargs, "compute_type": "int8"}
            return real(model_size_or_path, device=device, **kwargs)

        monkeypatch.setattr(faster_whisper, "WhisperModel", build)
        return self

    @property
    def compute_types(self) -> list[str]:
        return [c["compute_type"] for c in self.calls]


def cpu_compute_types() -> list[str]:
    """What CTranslate2 offers on this machine's CPU, as the studio lists it."""
    import ctranslate2

    return sorted(ctranslate2.get_supported_compute_types("cpu"))


def offered_on_cpu() -> str:
    """The studio's compute types this CPU can do, in the order its errors list them."""
    cpu = cpu_compute_types()
    return ", ".join(t for t in ("int8", "int8_float16", "float16", "float32") if t in cpu)


def not_on_this_cpu() -> str:
    """A compute type this machine's CPU cannot do (most CPUs: float16)."""
    cpu = cpu_compute_types()
    missing = [t for t in ("float16", "int8_float16") if t not in cpu]
    if not missing:
        pytest.skip("this CPU does float16 and int8_float16")
    return missing[0]


def _ctranslate2_counts_a_gpu() -> bool:
    import ctranslate2

    try:
        return int(ctranslate2.get_cuda_device_count()) > 0
    except Exception:  # noqa: BLE001 - a broken driver: no GPU to speak of
        return False


def _torch_has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.version.cuda is not None


#: the tests that need this machine to have no GPU of its own (the fakes add one)
without_a_gpu = pytest.mark.skipif(_ctranslate2_counts_a_gpu(),
                                   reason="this machine has a GPU CTranslate2 counts")
#: the tests that need torch's CPU-only build (the one the tests pin)
cpu_only_torch = pytest.mark.skipif(_torch_has_cuda(), reason="this torch is a CUDA build")
