"""Where the cache lives: beside the app in a checkout, else in the user's own cache folder.

The platform is switched at its one boundary (``system.is_windows`` and
``system.is_macos``); the folders come from LOCALAPPDATA, XDG_CACHE_HOME and
HOME pointed at folders of the test's own. The studio installed outside a
checkout is played for real: a copy of the package on PYTHONPATH, started
from unrelated folders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stt_studio import system
from stt_studio.settings import Settings, default_cache_dir
from tests.conftest import ROOT


@pytest.fixture()
def windows(monkeypatch):
    monkeypatch.setattr(system, "is_windows", lambda: True)
    monkeypatch.setattr(system, "is_macos", lambda: False)


@pytest.fixture()
def macos(monkeypatch):
    monkeypatch.setattr(system, "is_windows", lambda: False)
    monkeypatch.setattr(system, "is_macos", lambda: True)


@pytest.fixture()
def linux(monkeypatch):
    monkeypatch.setattr(system, "is_windows", lambda: False)
    monkeypatch.setattr(system, "is_macos", lambda: False)


@pytest.fixture()
def installed(monkeypatch):
    """The package as a wheel puts it: no checkout around it."""
    monkeypatch.setattr(system, "project_root", lambda: None)


def test_the_boundary_answers_for_this_machine():
    assert system.is_windows() is (sys.platform == "win32")
    assert system.is_macos() is (sys.platform == "darwin")


# -- the user's cache folder, each platform ------------------------------------------------------
def test_windows_uses_local_appdata(windows, tmp_path):
    local = tmp_path / "Ana" / "AppData" / "Local"
    env = {"LOCALAPPDATA": str(local), "USERPROFILE": str(tmp_path / "elsewhere")}
    assert system.user_cache_dir(env) == local / "stt-studio"


def test_windows_without_local_appdata_uses_the_profile(windows, tmp_path):
    env = {"USERPROFILE": str(tmp_path / "Ana"), "HOME": str(tmp_path / "not-this")}
    assert system.user_cache_dir(env) == tmp_path / "Ana" / "AppData" / "Local" / "stt-studio"


def test_linux_uses_xdg_cache_home(linux, tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    assert system.user_cache_dir(env) == tmp_path / "xdg" / "stt-studio"


@pytest.mark.parametrize("xdg", ["", "  ", "relative/cache"])
def test_linux_falls_back_to_dot_cache(linux, tmp_path, xdg):
    # the XDG spec: an unset, empty or relative XDG_CACHE_HOME means ~/.cache
    env = {"XDG_CACHE_HOME": xdg, "HOME": str(tmp_path / "home")}
    assert system.user_cache_dir(env) == tmp_path / "home" / ".cache" / "stt-studio"
    assert system.user_cache_dir({"HOME": str(tmp_path / "home")}) == (
        tmp_path / "home" / ".cache" / "stt-studio")


def test_macos_uses_library_caches(macos, tmp_path):
    env = {"HOME": str(tmp_path / "ana"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert system.user_cache_dir(env) == tmp_path / "ana" / "Library" / "Caches" / "stt-studio"


# -- checkout or not -----------------------------------------------------------------------------
def test_in_the_checkout_the_cache_stays_beside_the_app(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = system.project_root()
    assert root == ROOT
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "LOCALAPPDATA": str(tmp_path / "la")}
    assert default_cache_dir(env) == ROOT / "model_cache"
    assert Settings.from_env(env).cache_dir == (ROOT / "model_cache").resolve()


@pytest.mark.parametrize("platform", ["windows", "macos", "linux"])
def test_installed_the_cache_is_the_users_whatever_the_working_folder(
        platform, installed, tmp_path, monkeypatch, request):
    request.getfixturevalue(platform)
    env = {"LOCALAPPDATA": str(tmp_path / "la"), "USERPROFILE": str(tmp_path / "profile"),
           "XDG_CACHE_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")}
    expected = {"windows": tmp_path / "la", "macos": tmp_path / "home" / "Library" / "Caches",
                "linux": tmp_path / "xdg"}[platform] / "stt-studio"
    for start in (tmp_path / "projects" / "a", tmp_path / "System32"):
        start.mkdir(parents=True)
        monkeypatch.chdir(start)
        assert Settings.from_env(env).cache_dir == expected.resolve()
    assert not (tmp_path / "System32" / "model_cache").exists()


def test_installed_the_cache_dir_variable_and_flag_still_win(installed, linux, tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"),
           "STT_STUDIO_CACHE_DIR": str(tmp_path / "chosen")}
    assert Settings.from_env(env).cache_dir == (tmp_path / "chosen").resolve()
    assert Settings.from_env(env, cache_dir=tmp_path / "flag").cache_dir == (
        (tmp_path / "flag").resolve())


# -- installed for real, started from unrelated folders ------------------------------------------
REPORT = """
import json, os, sys, tempfile
from stt_studio import system
from stt_studio.cache import prepare_cache
from stt_studio.settings import Settings
settings = Settings.from_env()
layout = prepare_cache(settings.cache_dir)
names = ("TORCH_HOME", "HF_HOME", "HF_HUB_CACHE", "NEMO_CACHE_DIR", "TMPDIR", "TEMP", "TMP")
print(json.dumps({"root": str(layout.root), "checkout": str(system.project_root()),
                  "env": {n: os.environ[n] for n in names},
                  "tempdir": tempfile.gettempdir()}))
"""


@pytest.fixture()
def installed_copy(tmp_path) -> Path:
    """The package copied where no pyproject.toml is near, as a wheel installs it."""
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "src" / "stt_studio", site / "stt_studio",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return site


def _installed_env(site: Path, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("STT_STUDIO_") and k not in ("TMPDIR", "TEMP", "TMP")}
    env.update(PYTHONPATH=str(site), XDG_CACHE_HOME=str(tmp_path / "xdg"),
               HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1",
               HF_ENDPOINT="http://127.0.0.1:9", PYTHONIOENCODING="utf-8")
    return env


def test_an_installed_studio_started_from_unrelated_folders_shares_one_user_cache(
        installed_copy, tmp_path):
    env = _installed_env(installed_copy, tmp_path)
    reports = []
    for start in (tmp_path / "Downloads", tmp_path / "work" / "talks"):
        start.mkdir(parents=True)
        proc = subprocess.run([sys.executable, "-c", REPORT], cwd=start, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        reports.append(json.loads(proc.stdout))
        assert list(start.iterdir()) == []  # nothing where it was started
    cache = tmp_path / "xdg" / "stt-studio"
    for report in reports:
        assert report["checkout"] == "None" and report["root"] == str(cache)
        for name, value in report["env"].items():
            assert Path(value).is_relative_to(cache), name
        assert report["tempdir"] == str(cache / "tmp")


def test_an_installed_cli_from_an_unwritable_folder_uses_the_user_cache(installed_copy,
                                                                          tmp_path):
    """An administrator's PowerShell starts in C:\\Windows\\System32; here, a folder
    that cannot be written to."""
    start = tmp_path / "System32"
    start.mkdir()
    start.chmod(0o555)
    try:
        proc = subprocess.run([sys.executable, "-m", "stt_studio", "models"], cwd=start,
                              env=_installed_env(installed_copy, tmp_path),
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        start.chmod(0o755)
    cache = tmp_path / "xdg" / "stt-studio"
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"cache: {cache}"
    assert (cache / "tmp").is_dir() and list(start.iterdir()) == []
