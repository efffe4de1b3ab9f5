"""`stt-studio transcribe --diarize / --speakers` as a real subprocess, offline, private cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import srt

from tests.diarize.cases import write_wav
from tests.support.conversations import build

SCRIPT = Path(sys.executable).parent / "stt-studio"
#: three voices, ~25 s: enough for the count to be found, short for a subprocess
PATTERN = (("lj", 4.0), ("mfa", 4.0), ("ls2412", 4.0), ("lj", 3.5), ("mfa", 3.5), ("ls2412", 4.0))


def run_cli(*args: str | Path, cache: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STT_STUDIO_")}
    env.update(STT_STUDIO_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1",
               HF_ENDPOINT="http://127.0.0.1:9", PYTHONIOENCODING="utf-8")
    return subprocess.run([str(SCRIPT), *map(str, args)], env=env, cwd=cache.parent,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def conv(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli-diarize")
    return write_wav(build(PATTERN, seed=4).samples, folder / "conv.wav")


def speakers_in(data: dict) -> list[str]:
    out: list[str] = []
    for segment in data["segments"]:
        if segment["speaker"] not in out:
            out.append(segment["speaker"])
    return out


@pytest.mark.slow
def test_diarize_writes_speakers_into_every_format(conv, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("transcribe", conv, "--diarize", "--format", "srt,txt,json",
                   "--output-dir", out, cache=tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    data = json.loads((out / "conv.json").read_text("utf-8"))
    assert speakers_in(data) == ["SPEAKER_1", "SPEAKER_2", "SPEAKER_3"]
    for segment in data["segments"]:
        assert {w["speaker"] for w in segment["words"]} == {segment["speaker"]}
    # the turns: lj, mfa, ls2412, lj, mfa, ls2412 -> 1 2 3 1 2 3 (runs of one speaker merged)
    runs = [s["speaker"] for s in data["segments"]]
    runs = [r for i, r in enumerate(runs) if i == 0 or runs[i - 1] != r]
    assert runs == ["SPEAKER_1", "SPEAKER_2", "SPEAKER_3"] * 2
    txt = (out / "conv.txt").read_text("utf-8")
    assert [line.split(":")[0] for line in txt.splitlines() if line.startswith("Speaker ")] == [
        "Speaker 1", "Speaker 2", "Speaker 3"] * 2
    cues = list(srt.parse((out / "conv.srt").read_text("utf-8")))
    tags = [c.content.split("]")[0] + "]" for c in cues if c.content.startswith("[Speaker ")]
    assert tags == ["[Speaker 1]", "[Speaker 2]", "[Speaker 3]"] * 2


@pytest.mark.slow
def test_speakers_given_is_the_count_written(conv, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("transcribe", conv, "--speakers", "2", "--format", "json",
                   "--output-dir", out, cache=tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "conv.json").read_text("utf-8"))
    assert speakers_in(data) == ["SPEAKER_1", "SPEAKER_2"]  # three voices, two asked for


@pytest.mark.parametrize(("args", "says"), [
    (("--speakers", "0"), "between 1 and 32"),
    (("--speakers", "2", "--min-speakers", "1"), "leave min/max speakers out"),
    (("--min-speakers", "3", "--max-speakers", "2"), "min_speakers must not be above"),
])
def test_impossible_counts_are_refused_before_any_work(tmp_path, args, says):
    out = tmp_path / "out"
    proc = run_cli("transcribe", tmp_path / "never-read.wav", *args, "--output-dir", out,
                   cache=tmp_path / "cache", timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
