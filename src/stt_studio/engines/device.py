"""Where a model runs: the device and compute type asked for, checked against what works.

A library that counts a CUDA device has not shown that it can use it. On a
Windows laptop with the PyPI wheels CTranslate2 sees the GPU, but NVIDIA's
cuBLAS 12 and cuDNN 9 are not installed, so the first encode fails ("Library
cublas64_12.dll is not found or cannot be loaded", faster-whisper #535 and
#1276) or ends the process (a missing cuDNN DLL is printed, then the process
exits). So ``--device auto`` uses CUDA only after a probe ran real work there:

- Whisper: the bundled tiny.en model encodes 30 s of silence on CUDA, in a
  child process (:mod:`stt_studio.engines.cuda_check`), so a crash costs the
  probe and not the studio;
- NeMo: torch's view, then a matrix product on the GPU (torch raises cleanly).

Each probe runs once per process. When one fails the model runs on the CPU and
its :class:`Placement` carries a note saying why (the library's own words) and
how to enable the GPU; ``--device cuda`` is then an :class:`InvalidOptionError`
that says the same. Nothing here imports torch unless a NeMo model asks.
"""

from __future__ import annotations

import functools
import json
import logging
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from stt_studio.domain import ComputeType
from stt_studio.errors import InvalidOptionError

log = logging.getLogger(__name__)

CTRANSLATE2 = "CTranslate2"
TORCH = "torch"
#: the longest a child's test encode may take (the first use of a GPU compiles kernels)
CHECK_TIMEOUT_S = 180.0
#: the child's one line of answer on stdout starts with this
ANSWER_MARK = "stt-studio-cuda-check: "
#: how to give CTranslate2 the libraries it needs on a GPU (faster-whisper's README, GPU)
CTRANSLATE2_GPU_HOW = (
    "install NVIDIA's cuBLAS 12 and cuDNN 9 "
    '(pip install nvidia-cublas-cu12 "nvidia-cudnn-cu12==9.*"), put their folders on PATH '
    r"(Windows: site-packages\nvidia\cublas\bin and nvidia\cudnn\bin) or LD_LIBRARY_PATH "
    "(Linux: site-packages/nvidia/cublas/lib and nvidia/cudnn/lib), and start the studio "
    "again; see the GPU section of faster-whisper's README"
)
TORCH_GPU_HOW = (
    "install torch's CUDA build for this GPU from https://pytorch.org/get-started/locally/ "
    "(e.g. pip install --force-reinstall torch --index-url "
    "https://download.pytorch.org/whl/cu128) and update the NVIDIA driver "
    "(`stt-studio doctor` shows what torch sees)"
)


@dataclass(frozen=True, slots=True)
class CudaView:
    """What one library sees of CUDA, and whether real work ran there.

    devices: CUDA devices the library counts; works: a test on the first ran;
    error: the library's own words when it did not (None: no device, or it works);
    compute_types: what the library offers on CUDA (CTranslate2's names).
    """

    library: str
    devices: int
    works: bool
    error: str | None = None
    compute_types: tuple[str, ...] = ()

    @property
    def count(self) -> str:
        """``1 CUDA device``, ``no CUDA device``."""
        if self.devices == 0:
            return "no CUDA device"
        return f"{self.devices} CUDA device{'s' if self.devices > 1 else ''}"

    @property
    def summary(self) -> str:
        """``1 CUDA device, but a test on it failed (...)``, for people."""
        if self.devices == 0:
            return f"{self.count} ({self.error})" if self.error else self.count
        if self.works:
            return f"{self.count}; a test on it ran"
        return f"{self.count}, but a test on it failed ({self.error})"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a model runs and how it computes (never ``auto``), and why, when the
    CPU stands in for a GPU that is there but does not work."""

    device: str
    compute_type: str
    note: str | None = None


# -- the probes --------------------------------------------------------------------
@functools.cache
def ctranslate2_view() -> CudaView:
    """CTranslate2's CUDA, tested in a child process once per process."""
    import ctranslate2

    try:
        count = int(ctranslate2.get_cuda_device_count())
    except Exception as exc:  # noqa: BLE001 - a broken driver raises RuntimeError and more
        return CudaView(CTRANSLATE2, 0, False, f"{type(exc).__name__}: {exc}")
    if count == 0:
        return CudaView(CTRANSLATE2, 0, False)
    log.info("CTranslate2 sees %d CUDA device(s): testing an encode on it", count)
    view = _ask_child(count)
    log.info("CTranslate2 on CUDA: %s", view.summary)
    return view


def _ask_child(count: int) -> CudaView:
    """Run :mod:`stt_studio.engines.cuda_check`; its crash or silence is a failed test."""
    command = [sys.executable, "-m", "stt_studio.engines.cuda_check"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                              timeout=CHECK_TIMEOUT_S, check=False,
                              creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
    except subprocess.TimeoutExpired:
        return CudaView(CTRANSLATE2, count, False,
                        f"the test encode did not finish in {CHECK_TIMEOUT_S:.0f} s")
    except OSError as exc:
        return CudaView(CTRANSLATE2, count, False, f"the test could not start ({exc})")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(ANSWER_MARK):
            try:
                return view_from_json(line[len(ANSWER_MARK):])
            except (ValueError, KeyError, TypeError):
                break
    said = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    last = " ".join(said[-3:]) or "nothing"
    return CudaView(CTRANSLATE2, count, False,
                    f"the test encode ended the process (exit code {done.returncode}): {last}")


def view_to_json(view: CudaView) -> str:
    return json.dumps({"library": view.library, "devices": view.devices, "works": view.works,
                       "error": view.error, "compute_types": list(view.compute_types)})


def view_from_json(text: str) -> CudaView:
    raw = json.loads(text)
    return CudaView(str(raw["library"]), int(raw["devices"]), bool(raw["works"]),
                    None if raw["error"] is None else str(raw["error"]),
                    tuple(str(c) for c in raw["compute_types"]))


@functools.cache
def torch_view() -> CudaView:
    """torch's CUDA, and a matrix product on it (cuBLAS), once per process."""
    import torch

    try:
        if not torch.cuda.is_available():
            return CudaView(TORCH, 0, False)
        count = int(torch.cuda.device_count())
        x = torch.ones((16, 16), device="cuda")
        total = float((x @ x).sum().item())  # cuBLAS on the device, copied back
        if total != 16.0 ** 3:
            raise RuntimeError(f"a test product on the GPU gave {total:g}, not 4096")
    except Exception as exc:  # noqa: BLE001 - CUDA errors come as RuntimeError and more
        return CudaView(TORCH, _torch_count(), False, f"{type(exc).__name__}: {exc}")
    return CudaView(TORCH, count, True, compute_types=("float32", "float16"))


def _torch_count() -> int:
    import torch

    try:
        return int(torch.cuda.device_count())
    except Exception:  # noqa: BLE001 - the count is only for the message
        return 0


def forget() -> None:
    """Probe again next time (tests; a process whose libraries changed)."""
    ctranslate2_view.cache_clear()
    torch_view.cache_clear()


# -- what the probes mean for a model -------------------------------------------------
def fallback_note(view: CudaView, engine: str, how: str) -> str | None:
    """Why ``auto`` chose the CPU, when the library sees a GPU that does not work."""
    if view.works or view.devices == 0:
        return None
    return (f"{view.library} sees {view.count}, but a test on it failed ({view.error}), "
            f"so {engine} runs on the CPU. To use the GPU: {how}.")


def cpu_build_note() -> str | None:
    """torch is a CPU-only build (PyPI's on Windows) where CTranslate2 counts a GPU."""
    import torch

    if torch.version.cuda is not None:
        return None
    try:
        import ctranslate2

        count = int(ctranslate2.get_cuda_device_count())
    except Exception:  # noqa: BLE001 - only a hint: no count, no note
        return None
    if count == 0:
        return None
    seen = CudaView(CTRANSLATE2, count, False)
    return (f"torch {torch.__version__} is a CPU-only build, so NeMo runs on the CPU although "
            f"CTranslate2 sees {seen.count}. To use the GPU: {TORCH_GPU_HOW}.")


def cuda_unusable(engine: str, view: CudaView, how: str) -> InvalidOptionError:
    """``--device cuda`` where the probe says no: what failed and the remedy."""
    if view.devices == 0:
        return InvalidOptionError(
            f"--device cuda was asked for, but the {engine} engine finds no usable CUDA GPU "
            f"({view.library} sees none)",
            causes=("This machine has no NVIDIA GPU, or its driver is missing",
                    f"The installed {view.library} build is CPU-only"),
            remedies=("Use --device auto (the GPU when it works) or --device cpu",),
            detail=view.error,
        )
    return InvalidOptionError(
        f"--device cuda was asked for, but the {engine} engine cannot use the GPU "
        f"{view.library} sees: a test on it failed (details below)",
        causes=(("NVIDIA's cuBLAS 12 or cuDNN 9 libraries are not installed, or not where "
                 "CTranslate2 looks (PATH on Windows, LD_LIBRARY_PATH on Linux)")
                if view.library == CTRANSLATE2 else
                "torch was built for another CUDA version, or the NVIDIA driver is too old",),
        remedies=(f"To use the GPU: {how}",
                  "Or use --device auto (the GPU when it works, else the CPU) or --device cpu"),
        detail=view.error,
    )


def choose_compute_type(asked: ComputeType, *, engine: str, device: str,
                        supported: Sequence[str], preferred: Sequence[str],
                        rule: str, why_cpu: str | None = None) -> str:
    """``asked`` if ``device`` can do it (``auto``: the first of ``preferred`` it can).

    ``rule``: what the engine offers there, in words, for the error; ``why_cpu``:
    the note that put an ``auto`` device on the CPU, which the error repeats.
    """
    offered = [str(c.value) for c in ComputeType
               if c is not ComputeType.AUTO and c.value in supported]
    if asked is ComputeType.AUTO:
        return next((c for c in preferred if c in supported),
                    offered[0] if offered else ComputeType.FLOAT32.value)
    if asked.value in supported:
        return str(asked.value)
    raise InvalidOptionError(
        f"the {engine} engine cannot compute in {asked.value} on the {device.upper()}",
        option="compute_type",
        causes=[rule] + ([why_cpu] if why_cpu else []),
        remedies=(f"Use one of: {', '.join(offered)} (--compute-type, "
                  "STT_STUDIO_COMPUTE_TYPE, the API's compute_type field or the page's "
                  "Advanced section)",
                  "Or use auto: float16 on a GPU and int8 on the CPU for Whisper, "
                  "float32 for NeMo"),
    )
