"""The studio as users install it: the wheel, plain pip, a fresh venv, an unrelated folder.

Each test builds the wheel from this checkout and installs it the way the README
tells a pip user to (``pip install -c constraints.txt stt-studio[...]``), then runs
the installed command from a folder that has nothing to do with the checkout,
offline, and checks where its cache went. They need the registries pip uses (as
``make test``'s own set-up does) and, for the 3.12 row, a Python 3.12 on PATH or
in pyenv; without either they fail, they do not skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SHARED_AUDIO
from tests.diarize.cases import write_wav
from tests.support.conversations import build

pytestmark = [pytest.mark.slow, pytest.mark.packaging]

JFK = SHARED_AUDIO / "A_short_en" / "jfk" / "jfk.flac"
JFK_WORDS = "ask not what your country can do for you ask what you can do for your country"
#: the core install's promise (issue 16): the Whisper studio in under 1 GB
CORE_LIMIT_MB = 1024
#: what the core must never pull in: they are the [nemo] and [speakers] extras
NOT_IN_CORE = ("torch", "nemo", "sklearn", "scipy", "librosa", "resemblyzer")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True, text=True, timeout=300)
    (found,) = out.glob("stt_studio-*.whl")
    return found


def python(version: str) -> str:
    """A Python of that version: this one, pyenv's, or pythonX.Y on PATH."""
    if version == f"{sys.version_info[0]}.{sys.version_info[1]}":
        return sys.executable
    root = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv"))
    for exe in sorted(root.glob(f"versions/{version}.*/bin/python{version}")):
        return str(exe)
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "-V"], capture_output=True).returncode == 0:
        return found
    pytest.fail(f"Python {version} is needed for this row and was not found (pyenv, PATH)")


def venv(where: Path, version: str) -> Path:
    subprocess.run([python(version), "-m", "venv", str(where)], check=True, timeout=120)
    return where / "bin"


def pip_install(bin_dir: Path, *requirements: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-compile",
         "--disable-pip-version-check", "-c", str(ROOT / "constraints.txt"), *requirements],
        capture_output=True, text=True, timeout=600, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def user_env(home: Path) -> dict[str, str]:
    """A user with nothing set: their own HOME and XDG cache, offline."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("STT_STUDIO_", "XDG_", "HF_", "TORCH_", "NEMO_"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), HF_HUB_OFFLINE="1",
               HF_ENDPOINT="http://127.0.0.1:9", PYTHONIOENCODING="utf-8")
    for name in ("TMPDIR", "TEMP", "TMP"):
        env.pop(name, None)
    return env


def words(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())


def transcribe(bin_dir: Path, audio: Path, folder: Path, *extra: str) -> dict:
    """``python -m stt_studio transcribe`` from ``folder``; the JSON it wrote."""
    folder.mkdir(parents=True, exist_ok=True)
    home = folder.parent / "home"
    proc = subprocess.run(
        [str(bin_dir / "python"), "-m", "stt_studio", "transcribe", str(audio),
         "--format", "json", "--output-dir", "out", *extra],
        cwd=folder, env=user_env(home), capture_output=True, text=True, timeout=300,
        check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data: dict = json.loads((folder / "out" / (audio.stem + ".json")).read_text("utf-8"))
    return data


def site_packages(bin_dir: Path) -> Path:
    out = subprocess.run([str(bin_dir / "python"), "-c",
                          "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()
               ) / 2**20


def assert_cache_in_the_users_place(folder: Path) -> None:
    """Nothing in the folder the user started from; the cache under their XDG cache."""
    assert sorted(p.name for p in folder.iterdir()) == ["out"], list(folder.iterdir())
    cache = folder.parent / "home" / ".cache" / "stt-studio"
    assert cache.is_dir(), f"no cache at {cache}"
    assert any(cache.iterdir())


@pytest.fixture(scope="module")
def core_venv(wheel, tmp_path_factory) -> Path:
    """A fresh Python 3.11 venv with the core wheel, as ``pip install stt-studio`` gives."""
    bin_dir = venv(tmp_path_factory.mktemp("core") / "venv", "3.11")
    pip_install(bin_dir, str(wheel))
    return bin_dir


def test_core_wheel_is_the_whisper_studio_without_torch(core_venv, tmp_path):
    bin_dir = core_venv
    lib = site_packages(bin_dir)
    present = [name for name in NOT_IN_CORE if (lib / name).exists()]
    assert not present, f"the core install pulled in {present}"
    assert size_mb(lib) < CORE_LIMIT_MB, f"{size_mb(lib):.0f} MB installed"

    data = transcribe(bin_dir, JFK, tmp_path / "somewhere" / "else")
    assert JFK_WORDS in words(data["text"])
    assert_cache_in_the_users_place(tmp_path / "somewhere" / "else")

    # diarization without the extra is a readable error naming it, not a traceback
    proc = subprocess.run(
        [str(bin_dir / "stt-studio"), "transcribe", str(JFK), "--diarize",
         "--output-dir", str(tmp_path / "d")],
        cwd=tmp_path, env=user_env(tmp_path / "home"), capture_output=True, text=True,
        timeout=300, check=False)
    assert proc.returncode != 0
    assert "stt-studio[speakers]" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_speakers_extra_installs_without_a_compiler(core_venv, wheel, tmp_path):
    """The extra added to the core install (after the core test, which needs it bare)."""
    bin_dir = core_venv
    env = dict(os.environ, CC="/bin/false", CXX="/bin/false")
    pip_install(bin_dir, f"stt-studio[speakers] @ {wheel.as_uri()}", env=env)
    lib = site_packages(bin_dir)
    assert not (lib / "torch").exists() and not (lib / "resemblyzer").exists()

    conv = write_wav(build((("lj", 4.0), ("mfa", 4.0), ("lj", 4.0), ("mfa", 4.0)), seed=3
                           ).samples, tmp_path / "conv.wav")
    data = transcribe(bin_dir, conv, tmp_path / "elsewhere", "--speakers", "2")
    speakers = {segment["speaker"] for segment in data["segments"]}
    assert len(speakers) == 2, speakers


def test_core_wheel_on_python_3_12(wheel, tmp_path):
    bin_dir = venv(tmp_path / "venv", "3.12")
    pip_install(bin_dir, str(wheel))
    data = transcribe(bin_dir, JFK, tmp_path / "elsewhere")
    assert JFK_WORDS in words(data["text"])
    assert_cache_in_the_users_place(tmp_path / "elsewhere")
