"""The real `stt-studio` console script, run in subprocesses, offline, on a private cache."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import srt
import webvtt

from tests.conftest import SHARED_AUDIO

SCRIPT = Path(sys.executable).parent / "stt-studio"
JFK = SHARED_AUDIO / "A_short_en" / "jfk" / "jfk.flac"
CORRUPT = SHARED_AUDIO / "D_awkward" / "evil_corrupt.wav"
FORMATS_DIR = SHARED_AUDIO / "D_awkward" / "formats"


@pytest.fixture()
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def run_cli(*args: str | Path, cache: Path, cwd: Path | None = None,
            timeout: float = 180, module: bool = False) -> subprocess.CompletedProcess[str]:
    """The console script (``module``: ``python -m stt_studio``) with ``args``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STT_STUDIO_")}
    env.update(STT_STUDIO_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1",
               HF_ENDPOINT="http://127.0.0.1:9", PYTHONIOENCODING="utf-8")
    assert SCRIPT.is_file(), f"console script not installed at {SCRIPT}"
    command = [sys.executable, "-m", "stt_studio"] if module else [str(SCRIPT)]
    return subprocess.run([*command, *map(str, args)], env=env, cwd=cwd or cache.parent,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_transcribe_writes_every_format(cache, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("transcribe", JFK, "--format", "all", "--output-dir", out, cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert "country" in proc.stdout.lower()
    assert sorted(p.name for p in out.iterdir()) == [
        "jfk.csv", "jfk.json", "jfk.srt", "jfk.txt", "jfk.vtt"]
    assert "Traceback" not in proc.stderr
    assert (out / "jfk.txt").read_text("utf-8").strip() == proc.stdout.strip()
    data = json.loads((out / "jfk.json").read_text("utf-8"))
    assert data["model"] == "tiny.en" and data["language"] == "en"
    assert data["duration"] == pytest.approx(11.0, abs=0.05)
    cues = list(srt.parse((out / "jfk.srt").read_text("utf-8")))
    assert cues and cues[-1].end.total_seconds() <= 11.05
    assert len(webvtt.read(str(out / "jfk.vtt"))) == len(cues)
    # no partial files left next to the outputs
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert cache.is_dir() and (cache / "tmp").is_dir()


@pytest.mark.slow
def test_one_bad_file_does_not_stop_the_others(cache, tmp_path):
    out, folder = tmp_path / "out", tmp_path / "in"
    folder.mkdir()
    shutil.copyfile(JFK, folder / "jfk.flac")
    shutil.copyfile(CORRUPT, folder / "evil_copy.wav")  # inside a folder too
    proc = run_cli("transcribe", CORRUPT, folder, "--format", "txt,srt", "--output-dir", out,
                   cache=cache)
    assert proc.returncode == 1
    assert sorted(p.name for p in out.iterdir()) == ["jfk.srt", "jfk.txt"]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("Cannot read the audio") == 4  # a report and a summary row each
    assert f"Cannot read the audio: the file could not be decoded: {CORRUPT}" in proc.stderr
    assert "What to do:" in proc.stderr
    assert "2 of 3 file(s) failed" in proc.stderr
    rows = {line.split()[0]: line for line in proc.stderr.splitlines()
            if line.startswith((str(CORRUPT), str(folder)))}
    assert rows[str(CORRUPT)].endswith(
        f" failed: Cannot read the audio: the file could not be decoded: {CORRUPT}")
    assert rows[str(folder / "evil_copy.wav")].endswith(
        f"failed: Cannot read the audio: the file could not be decoded: {folder / 'evil_copy.wav'}")
    assert re.fullmatch(rf"{re.escape(str(folder / 'jfk.flac'))} +0:11 +\d+\.\d s +\d+\.\d× +done",
                        rows[str(folder / "jfk.flac")])
    assert "1 done, 2 failed: 0:11 of audio in" in proc.stderr


@pytest.mark.slow
def test_debug_shows_the_traceback_of_the_bad_file(cache, tmp_path):
    proc = run_cli("transcribe", CORRUPT, "--output-dir", tmp_path / "out", "--debug",
                   cache=cache)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "decode" in proc.stderr  # the frames of the failure, not of the shell
    assert f"Cannot read the audio: the file could not be decoded: {CORRUPT}" in proc.stderr


@pytest.mark.slow
def test_missing_input_is_a_readable_error(cache, tmp_path):
    missing = tmp_path / "nope.wav"
    proc = run_cli("transcribe", missing, "--output-dir", tmp_path / "out", cache=cache)
    assert proc.returncode == 1
    assert f"the file does not exist: {missing}" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_same_stem_inputs_get_separate_outputs(cache, tmp_path):
    out = tmp_path / "out"
    other = tmp_path / "copy"
    other.mkdir()
    shutil.copyfile(FORMATS_DIR / "p001.wav", other / "p001.wav")  # same name, other folder
    proc = run_cli("transcribe", FORMATS_DIR / "p001.wav", FORMATS_DIR / "p001.flac",
                   other / "p001.wav", "--format", "txt,json", "--output-dir", out, cache=cache)
    assert proc.returncode == 0, proc.stderr
    texts = sorted(out.glob("*.txt"))
    assert len(texts) == 3, [p.name for p in out.iterdir()]
    assert len(list(out.glob("*.json"))) == 3
    for path in texts:
        assert path.read_text("utf-8").strip()


def test_unknown_format_exits_2(cache, tmp_path):
    proc = run_cli("transcribe", JFK, "--format", "bogus", "--output-dir", tmp_path / "o",
                   cache=cache)
    assert proc.returncode == 2
    assert "unknown format 'bogus'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_usage_errors_exit_2(cache):
    assert run_cli("transcribe", cache=cache).returncode == 2  # no input
    assert run_cli("frobnicate", cache=cache).returncode == 2
    assert run_cli("transcribe", JFK, "--device", "tpu", cache=cache).returncode == 2


def test_models_lists_the_registry(cache):
    proc = run_cli("models", cache=cache)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"cache: {cache}"
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["tiny.en"][1:3] == ["whisper", "75"]
    assert rows["tiny.en"][4] == "yes"
    for name in ("nvidia/parakeet-tdt-0.6b-v2", "nvidia/parakeet-tdt-0.6b-v3",
                 "nvidia/canary-1b-flash", "nvidia/canary-180m-flash",
                 "nvidia/parakeet-ctc-0.6b"):
        assert rows[name][1] == "nemo"
        assert rows[name][4] == "no"  # a fresh cache holds none
        assert rows[name][5].startswith(str(cache))
    assert rows["Systran/faster-whisper-small"][1] == "whisper"


def test_python_dash_m_is_the_same_command_line(cache):
    script = run_cli("models", cache=cache)
    module = run_cli("models", cache=cache, module=True)
    assert module.returncode == 0, module.stderr
    assert module.stdout == script.stdout and "tiny.en" in module.stdout
    usage = run_cli("transcribe", cache=cache, module=True)
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_a_pipe_gets_utf_8_whatever_the_code_page(tmp_path):
    """Windows writes cp1252 to a pipe or file: a path outside it must neither raise
    UnicodeEncodeError nor come out garbled (PYTHONIOENCODING plays the code page)."""
    cache = tmp_path / "кэш 缓存"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STT_STUDIO_")}
    env.update(STT_STUDIO_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1",
               HF_ENDPOINT="http://127.0.0.1:9", PYTHONIOENCODING="cp1252")
    proc = subprocess.run([str(SCRIPT), "models"], env=env, cwd=tmp_path,
                          capture_output=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    assert f"cache: {cache}" in proc.stdout.decode("utf-8")
    assert b"UnicodeEncodeError" not in proc.stderr


def test_models_rm_of_the_bundled_model_is_a_readable_error(cache):
    proc = run_cli("models", "rm", "tiny.en", cache=cache)
    assert proc.returncode == 1
    assert "Model not found: tiny.en is not a downloaded model" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_models_rm_of_an_unknown_name(cache):
    proc = run_cli("models", "rm", "no-such-model", cache=cache)
    assert proc.returncode == 1
    assert "unknown model 'no-such-model'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_models_pull_offline_is_a_readable_network_error(cache):
    proc = run_cli("models", "pull", "Systran/faster-whisper-small", cache=cache)
    assert proc.returncode == 1
    assert "Network or download error" in proc.stderr
    assert "HF_HUB_OFFLINE" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_doctor(cache):
    proc = run_cli("doctor", cache=cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert f"[ ok ] cache folder: {cache} (writable)" in out
    assert f"[ ok ] temp folder: {cache / 'tmp'} (inside the cache)" in out
    assert "[ ok ] leftover temp files: none" in out
    assert "[warn] model hub:" in out and "HF_HUB_OFFLINE" in out
    assert "[FAIL]" not in out


def test_doctor_finds_and_cleans_leftovers(cache):
    leftover = cache / "tmp" / "stt-studio-abc123"
    (leftover / "sub").mkdir(parents=True)
    (leftover / "sub" / "model_weights.ckpt").write_bytes(b"\0" * 1024)
    proc = run_cli("doctor", cache=cache)
    assert proc.returncode == 0
    assert "[warn] leftover temp files: 1 in the cache: stt-studio-abc123" in proc.stdout
    assert "doctor --clean" in proc.stdout
    assert leftover.is_dir()  # reporting deletes nothing

    proc = run_cli("doctor", "--clean", cache=cache)
    assert proc.returncode == 0
    assert "[ ok ] leftover temp files: removed 1" in proc.stdout
    assert not leftover.exists()
    assert (cache / "tmp").is_dir()


def test_cache_dir_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("I am a file, not a folder")
    bad = blocker / "cache"
    proc = run_cli("models", "--cache-dir", bad, cache=tmp_path / "unused")
    assert proc.returncode == 1
    assert ("File system error: a file stands where a folder should be, so stt-studio could "
            f"not create the cache folder: {blocker}") in proc.stderr
    assert f"Move or delete that file: {blocker}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert blocker.read_text() == "I am a file, not a folder"


def test_cache_dir_flag_wins_over_the_environment(tmp_path):
    flagged = tmp_path / "flagged"
    proc = run_cli("models", "--cache-dir", flagged, cache=tmp_path / "from-env")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[0] == f"cache: {flagged}"
    assert (flagged / "tmp").is_dir()
    assert not (tmp_path / "from-env").exists()


@pytest.mark.slow
def test_serve_prints_the_url_and_serves_the_ui(cache):
    import urllib.request

    from tests.support.browser import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STT_STUDIO_")}
    env.update(STT_STUDIO_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([str(SCRIPT), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline()
        url = f"http://127.0.0.1:{port}/"
        assert first.strip() == (f"stt-studio is running: open {url} in your browser "
                                 "(Ctrl+C stops it)")
        with urllib.request.urlopen(url, timeout=10) as page:
            assert b"stt-studio" in page.read()
        lines = []
        while "default model tiny.en is ready" not in "".join(lines):  # preloaded
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.mark.slow
def test_serve_on_a_busy_port_says_so(cache):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_cli("serve", "--no-preload", "--port", str(port), cache=cache, timeout=120)
    assert proc.returncode == 1
    assert f"Cannot start the web server: cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert f"--port {port + 1}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve_rejects_a_bad_port(cache):
    proc = run_cli("serve", "--port", "70000", cache=cache)
    assert proc.returncode == 2 and "port must be between 0 and 65535" in proc.stderr
