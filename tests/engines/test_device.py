"""Where a model runs: ``auto`` uses a GPU only once a test on it worked, else the CPU
with a note that says why and how to enable the GPU; ``cuda`` that cannot work and a
compute type the device cannot do are readable errors.

There is no GPU here: CTranslate2 is made to count one, and the probe's child
process gets the failure Windows laptops see (cuBLAS missing: an exception;
cuDNN missing: the process ends), or a GPU that works (run on the CPU).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from stt_studio.domain import ComputeType
from stt_studio.engines import cuda_check, device
from stt_studio.engines.device import CudaView, Placement
from stt_studio.engines.nemo import NemoEngine
from stt_studio.engines.whisper import WhisperEngine
from stt_studio.errors import InvalidOptionError
from stt_studio.retry import Retrier
from tests.support.cuda import (
    CUBLAS_MESSAGE,
    CUDNN_DLL,
    cpu_compute_types,
    cpu_only_torch,
    fake_gpu,
    not_on_this_cpu,
    offered_on_cpu,
    without_a_gpu,
)

AUTO = ComputeType.AUTO


@pytest.fixture(autouse=True)
def fresh_probes():
    device.forget()
    yield
    device.forget()


@pytest.fixture()
def whisper() -> WhisperEngine:
    return WhisperEngine(Retrier())


@pytest.fixture()
def nemo(tmp_path) -> NemoEngine:
    return NemoEngine(Retrier(), tmp_path)


@pytest.fixture()
def children(monkeypatch) -> list[list[str]]:
    """The commands of the child processes the studio starts (they still run)."""
    started: list[list[str]] = []
    real = subprocess.run

    def spy(command, *args, **kwargs):
        started.append(list(command))
        return real(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    return started


# -- the check itself, in this process -------------------------------------------------
def test_the_check_encodes_on_cuda_and_a_library_error_fails_it(monkeypatch):
    import ctranslate2

    asked: list[tuple[str, str]] = []

    def no_cublas(path, device="cpu", **kwargs):
        asked.append((device, kwargs.get("compute_type")))
        raise RuntimeError(CUBLAS_MESSAGE)

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    monkeypatch.setattr(ctranslate2, "get_supported_compute_types",
                        lambda d, i=0: {"float16", "int8"} if d == "cuda" else {"int8"})
    monkeypatch.setattr(ctranslate2.models, "Whisper", no_cublas)
    view = cuda_check.check()
    assert asked == [("cuda", "default")]
    assert view == CudaView("CTranslate2", 1, False, f"RuntimeError: {CUBLAS_MESSAGE}",
                            ("float16", "int8"))


def test_the_check_runs_a_real_encode(monkeypatch):
    """Loading is not enough (cuDNN is first needed by the encoder): it encodes 30 s."""
    import ctranslate2

    real = ctranslate2.models.Whisper
    encoded: list[tuple[int, ...]] = []

    class OnTheCpu:
        def __init__(self, path, device="cpu", **kwargs):
            assert device == "cuda"
            self.model = real(path, device="cpu")
            self.n_mels = self.model.n_mels

        def encode(self, features, to_cpu=False):
            encoded.append(tuple(np.asarray(features).shape))
            return self.model.encode(features, to_cpu=to_cpu)

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 2)
    monkeypatch.setattr(ctranslate2, "get_supported_compute_types", lambda d, i=0: {"float16"})
    monkeypatch.setattr(ctranslate2.models, "Whisper", OnTheCpu)
    assert cuda_check.check() == CudaView("CTranslate2", 2, True, None, ("float16",))
    assert encoded == [(1, 80, cuda_check.FRAMES)]


# -- the probe: a child process, once per process --------------------------------------
@without_a_gpu
def test_no_gpu_counted_no_child_no_note(whisper, children):
    assert whisper.place("auto", AUTO) == Placement("cpu", "int8", None)
    assert children == []


@pytest.mark.parametrize("mode, words", [
    ("cublas", f"RuntimeError: {CUBLAS_MESSAGE}"),
    ("cudnn", f"the test encode ended the process (exit code 1): Could not locate {CUDNN_DLL}"),
])
def test_a_gpu_whose_encode_fails_gives_the_cpu_and_a_note(monkeypatch, whisper, children,
                                                            mode, words):
    fake_gpu(monkeypatch, mode)
    placed = whisper.place("auto", AUTO)
    assert (placed.device, placed.compute_type) == ("cpu", "int8")
    assert placed.note is not None and words in placed.note
    assert placed.note.startswith("CTranslate2 sees 1 CUDA device, but a test on it failed (")
    assert "so Whisper runs on the CPU. To use the GPU: install NVIDIA's cuBLAS 12 and " \
           'cuDNN 9 (pip install nvidia-cublas-cu12 "nvidia-cudnn-cu12==9.*")' in placed.note
    assert "PATH" in placed.note and "faster-whisper's README" in placed.note
    assert whisper.place("auto", AUTO) == placed  # asked again: the answer of before
    assert children == [[sys.executable, "-m", "stt_studio.engines.cuda_check"]]


def test_cuda_asked_for_a_gpu_that_fails_is_a_readable_error(monkeypatch, whisper):
    fake_gpu(monkeypatch, "cublas")
    with pytest.raises(InvalidOptionError) as info:
        whisper.place("cuda", AUTO)
    text = info.value.render()
    assert text.startswith("Invalid option: --device cuda was asked for, but the Whisper "
                           "engine cannot use the GPU CTranslate2 sees")
    assert f"Details: RuntimeError: {CUBLAS_MESSAGE}" in text
    assert 'pip install nvidia-cublas-cu12 "nvidia-cudnn-cu12==9.*"' in text
    assert "--device cpu" in text


@without_a_gpu
def test_cuda_asked_without_any_gpu_is_a_readable_error(whisper):
    with pytest.raises(InvalidOptionError) as info:
        whisper.place("cuda", AUTO)
    assert "finds no usable CUDA GPU (CTranslate2 sees none)" in info.value.render()


def test_a_working_gpu_is_used(monkeypatch, whisper):
    fake_gpu(monkeypatch, "works")
    assert whisper.place("auto", AUTO) == Placement("cuda", "float16")
    assert whisper.place("cuda", ComputeType.INT8_FLOAT16) == Placement("cuda", "int8_float16")
    assert whisper.place("cpu", AUTO) == Placement("cpu", "int8")  # asked: no GPU, no note


# -- compute types ---------------------------------------------------------------------
@without_a_gpu
def test_a_compute_type_the_cpu_cannot_do_is_a_readable_error(whisper):
    assert whisper.place("cpu", ComputeType.FLOAT32) == Placement("cpu", "float32")
    cannot = not_on_this_cpu()
    with pytest.raises(InvalidOptionError) as info:
        whisper.place("cpu", ComputeType(cannot))
    assert info.value.option == "compute_type"
    text = info.value.render()
    assert f"the Whisper engine cannot compute in {cannot} on the CPU" in text
    assert f"CTranslate2 on this CPU offers {', '.join(cpu_compute_types())}" in text
    assert f"Use one of: {offered_on_cpu()} (--compute-type" in text


def test_a_compute_type_the_gpu_cannot_do_lists_what_it_can(monkeypatch, whisper):
    monkeypatch.setattr(device, "ctranslate2_view",
                        lambda: CudaView("CTranslate2", 1, True, None, ("float32", "int8")))
    assert whisper.place("auto", AUTO) == Placement("cuda", "int8")  # no float16 here
    with pytest.raises(InvalidOptionError) as info:
        whisper.place("auto", ComputeType.FLOAT16)
    assert "cannot compute in float16 on the CUDA" in info.value.render()
    assert "Use one of: int8, float32" in info.value.render()


def test_auto_on_the_cpu_with_a_gpu_only_compute_type_says_why_not_the_gpu(monkeypatch,
                                                                        whisper):
    fake_gpu(monkeypatch, "cublas")
    cannot = not_on_this_cpu()
    with pytest.raises(InvalidOptionError) as info:
        whisper.place("auto", ComputeType(cannot))
    text = info.value.render()
    assert f"cannot compute in {cannot} on the CPU" in text
    assert CUBLAS_MESSAGE in text  # the cause of the CPU, among the causes


# -- NeMo: torch's view and a product on the GPU ---------------------------------------
@cpu_only_torch
def test_torch_counting_a_gpu_it_cannot_use_gives_the_cpu_and_a_note(monkeypatch, nemo):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    view = device.torch_view()  # the product really runs, and this torch has no CUDA
    assert (view.devices, view.works) == (1, False)
    assert view.error is not None and view.error.startswith("AssertionError: Torch not compiled")
    placed = nemo.place("auto", AUTO)
    assert (placed.device, placed.compute_type) == ("cpu", "float32")
    assert placed.note is not None
    assert placed.note.startswith("torch sees 1 CUDA device, but a test on it failed "
                                  "(AssertionError: Torch not compiled with CUDA enabled)")
    assert "so NeMo runs on the CPU. To use the GPU: install torch's CUDA build" in placed.note
    with pytest.raises(InvalidOptionError) as info:
        nemo.place("cuda", AUTO)
    assert "the NeMo engine cannot use the GPU torch sees" in info.value.render()


@cpu_only_torch
def test_a_cpu_only_torch_beside_a_gpu_says_so(monkeypatch, nemo):
    import ctranslate2

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    placed = nemo.place("auto", AUTO)  # torch 2.13.0+cpu here
    assert placed.device == "cpu" and placed.note is not None
    assert "is a CPU-only build, so NeMo runs on the CPU although CTranslate2 sees 1 CUDA " \
           "device" in placed.note


def test_nemo_compute_types_are_float32_and_float16_on_a_gpu(monkeypatch, nemo):
    assert nemo.place("cpu", AUTO) == Placement("cpu", "float32")
    for asked in (ComputeType.FLOAT16, ComputeType.INT8):
        with pytest.raises(InvalidOptionError) as info:
            nemo.place("cpu", asked)
        assert "NeMo models compute in float32, or in float16 on a CUDA GPU" \
               in info.value.render()
        assert "Use one of: float32 (" in info.value.render()
    monkeypatch.setattr(device, "torch_view",
                        lambda: CudaView("torch", 1, True, None, ("float32", "float16")))
    assert nemo.place("auto", AUTO) == Placement("cuda", "float32")
    assert nemo.place("cuda", ComputeType.FLOAT16) == Placement("cuda", "float16")
    with pytest.raises(InvalidOptionError) as info:
        nemo.place("cuda", ComputeType.INT8_FLOAT16)
    assert "int8 and int8_float16 are CTranslate2's, for Whisper models" in info.value.render()
    assert "Use one of: float16, float32" in info.value.render()


@without_a_gpu
def test_the_whisper_path_never_imports_torch(tmp_path):
    code = ("import sys; from pathlib import Path; from stt_studio.cache import prepare_cache; "
            "from stt_studio.settings import Settings; from stt_studio.service import Studio; "
            f"layout = prepare_cache(Path({str(tmp_path / 'cache')!r})); "
            "studio = Studio(Settings(cache_dir=layout.root), layout); "
            "loaded = studio.load('tiny.en'); "
            "print(loaded.device, loaded.compute_type, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.split() == ["cpu", "int8", "False"]


def test_nemo_float16_runs_under_torch_autocast_and_float32_as_loaded():
    import contextlib

    import torch

    from stt_studio.domain import EngineKind, ModelSpec
    from stt_studio.engines.base import ModelInfo
    from stt_studio.engines.nemo import NemoModel

    spec, info = ModelSpec("x", EngineKind.NEMO, "x"), ModelInfo((), False, True, 480.0)
    half = NemoModel(spec, "cuda", info, model=None, compute_type="float16")._precision()
    assert isinstance(half, torch.autocast)
    assert (half.device, half.fast_dtype) == ("cuda", torch.float16)
    full = NemoModel(spec, "cuda", info, model=None, compute_type="float32")._precision()
    assert isinstance(full, contextlib.nullcontext)
