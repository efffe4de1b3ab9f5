"""Fault matrix, area "concurrency": several studios load one model into one empty cache at once.

Real `stt-studio` processes, each started through a small runner that (1)
holds every process at a barrier just before it looks at the cache, so all of
them find it empty at the same moment, and (2) counts and slows the unpacking,
so the others must wait for it. Both batches run at the same time, each on its
own cache: 2 processes that transcribe (load the model in NeMo and use it) and
3 that `models pull` it (unpack only), which keeps the slow NeMo imports to two.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from stt_studio.cache import CacheLayout
from stt_studio.models import extract
from tests.conftest import ROOT
from tests.faults.test_cache_folder import assert_no_half_made_entry, entries
from tests.support.hub import cli_env

pytestmark = pytest.mark.slow

#: processes per batch -> the command each runs (after the model path is resolved)
BATCHES = {2: "transcribe", 3: "models pull"}

_RACER = """
import os, sys, time
from pathlib import Path
from stt_studio.entrypoints.cli import main
from stt_studio.models import extract

count_file, barrier, racers = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
real_hash, real_unpack = extract.content_hash, extract._unpack

def hash_once_all_are_here(*args, **kwargs):
    (barrier / str(os.getpid())).touch()
    deadline = time.monotonic() + 120
    while len(list(barrier.iterdir())) < racers:
        if time.monotonic() > deadline:
            sys.exit("the other processes never reached the barrier")
        time.sleep(0.02)
    return real_hash(*args, **kwargs)

def counted_slow_unpack(*args, **kwargs):
    with open(count_file, "a") as handle:
        handle.write(f"{os.getpid()}\\n")
    time.sleep(0.5)  # the others reach the entry's lock meanwhile
    return real_unpack(*args, **kwargs)

extract.content_hash = hash_once_all_are_here
extract._unpack = counted_slow_unpack
sys.exit(main(sys.argv[4:]))
"""


@dataclass(frozen=True, slots=True)
class Racer:
    returncode: int
    stderr: str
    output: Path | None  # the transcript a transcribing process writes


@dataclass(frozen=True, slots=True)
class Batch:
    cache: Path
    racers: list[Racer]
    unpacked_by: list[str]  # the pid of each process that unpacked
    elapsed_s: float


def _arguments(command: str, nemo: Path, audio: Path, out: Path) -> list[str]:
    if command == "transcribe":
        return ["transcribe", str(audio), "--model", str(nemo), "--output-dir", str(out)]
    return ["models", "pull", str(nemo)]


@pytest.fixture(scope="module")
def batches(tiny_nemo, jfk, tmp_path_factory) -> dict[int, Batch]:
    started = time.monotonic()
    running = {}
    for size, command in BATCHES.items():
        base = tmp_path_factory.mktemp(f"race{size}")
        cache, barrier, count = base / "cache", base / "barrier", base / "unpacked.txt"
        barrier.mkdir()
        env = cli_env(cache, "http://127.0.0.1:9", offline=True,
                      extra={"PYTHONPATH": str(ROOT / "src")})
        running[size] = (base, [
            (subprocess.Popen(
                [sys.executable, "-c", _RACER, str(count), str(barrier), str(size),
                 *_arguments(command, tiny_nemo["ctc"], jfk, base / f"out{i}")],
                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True),
             base / f"out{i}" / "jfk.txt" if command == "transcribe" else None)
            for i in range(size)])
    results = {}
    for size, (base, procs) in running.items():
        racers = []
        for proc, output in procs:
            try:
                _, stderr = proc.communicate(timeout=300)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            racers.append(Racer(proc.returncode, stderr, output))
        count = base / "unpacked.txt"
        results[size] = Batch(base / "cache", racers,
                              count.read_text().split() if count.exists() else [],
                              time.monotonic() - started)
    return results


@pytest.mark.parametrize(("processes", "command"), list(BATCHES.items()))
@pytest.mark.fault("concurrency", "{processes} processes `{command}` the same .nemo model in "
                   "one empty cache at the same moment",
                   "all {processes} succeed; the model is unpacked exactly once while the "
                   "others wait; one complete cache entry and no staging folder is left")
def test_processes_loading_one_model_at_once(processes, command, batches):
    batch = batches[processes]
    assert len(batch.racers) == processes
    for racer in batch.racers:
        assert racer.returncode == 0, racer.stderr
        assert "Traceback" not in racer.stderr
        assert racer.output is None or racer.output.is_file()
    assert len(batch.unpacked_by) == 1, batch.unpacked_by
    layout = CacheLayout(batch.cache)
    (entry,) = entries(layout)
    assert extract.is_complete(entry)
    assert_no_half_made_entry(layout)
    assert batch.elapsed_s < 300
    assert os.listdir(layout.locks_dir) == [f"{entry.name}.lock"]
