"""Prevention, end to end: loading and transcribing write only inside the cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STT = Path(sys.executable).with_name("stt-studio")
_STEERED = ("TORCH_HOME", "HF_HOME", "HF_HUB_CACHE", "NEMO_CACHE_DIR", "XDG_CACHE_HOME",
            "MPLCONFIGDIR", "NUMBA_CACHE_DIR", "TMPDIR", "TEMP", "TMP")


def test_nothing_lands_in_home_or_system_temp(tmp_path, tiny_nemo, jfk):
    home, system_tmp, cache, out = (tmp_path / n for n in ("home", "systmp", "cache", "out"))
    home.mkdir()
    system_tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in _STEERED}
    env.update(HOME=str(home), TMPDIR=str(system_tmp), TEMP=str(system_tmp),
               TMP=str(system_tmp), STT_STUDIO_CACHE_DIR=str(cache))
    for model in (str(tiny_nemo["tdt"]), "tiny.en"):
        done = subprocess.run(
            [str(STT), "transcribe", str(jfk), "--model", model, "--format", "all",
             "--output-dir", str(out)],
            env=env, capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"jfk.{f}" for f in
                                                     ("csv", "json", "srt", "txt", "vtt")]
    assert list(home.rglob("*")) == [], "something wrote into the home folder"
    assert list(system_tmp.rglob("*")) == [], "something wrote into the system temp folder"
    assert any((cache / "extracted").iterdir())
