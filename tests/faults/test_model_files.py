"""Fault matrix, area "model files": damaged archives, a killed unpack, broken or absent hubs.

The archives are the tiny real NeMo models, damaged the way disks and
downloads damage files (cut short, bytes overwritten); the unpack is killed
with SIGKILL in a real process; downloads go to a hub on 127.0.0.1 or to a
port where nothing listens.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from stt_studio import progress
from stt_studio.cache import CacheLayout
from stt_studio.domain import NoteKind, ProgressEvent
from stt_studio.errors import ModelNotFoundError, UnexpectedError
from stt_studio.models import extract
from stt_studio.models.store import bundled_whisper_dir
from stt_studio.retry import Retrier
from tests.conftest import ROOT, make_studio
from tests.faults.test_cache_folder import assert_no_half_made_entry, entries, run_cli
from tests.support.hub import COMMIT, cli_env, prefill_hf_cache, serving

NEMO_NAME = "nvidia/parakeet-ctc-0.6b"  # registry names; the tiny models stand in for them
NEMO_FILE = "parakeet-ctc-0.6b.nemo"
WHISPER_NAME = "Systran/faster-whisper-small.en"


def _members(nemo: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(nemo) as archive:
        return {Path(m.name).name: m for m in archive if m.isfile()}


def _overwrite(data: bytes, at: int, length: int = 64) -> bytes:
    return data[:at] + b"\xab" * length + data[at + length:]


def damage(source: Path, how: str, target: Path) -> Path:
    data = source.read_bytes()
    weights = _members(source)["model_weights.ckpt"]
    damaged = {
        "cut to its first third": lambda: data[: len(data) // 3],
        "cut between two members": lambda: data[: weights.offset],
        "overwritten in the first member's tar header": lambda: _overwrite(data, 100),
        "overwritten in the weights member's tar header":
            lambda: _overwrite(data, weights.offset + 100),
        "start (its zip header)":
            lambda: _overwrite(data, weights.offset_data + 16),
        "end (its zip directory)":
            lambda: _overwrite(data, weights.offset_data + weights.size - 80),
    }[how]()
    target.write_bytes(damaged)
    return target


@pytest.mark.parametrize("how", ["cut to its first third", "cut between two members",
                                 "overwritten in the first member's tar header",
                                 "overwritten in the weights member's tar header"])
@pytest.mark.fault("model files", "a .nemo file {how}",
                   "a readable 'damaged, download it again' error naming the file; no cache "
                   "entry is made, and the same studio unpacks a good model right after")
def test_damaged_archive_is_refused_and_leaves_no_entry(how, tiny_nemo, fresh_layout,
                                                        tmp_path):
    broken = damage(tiny_nemo["ctc"], how, tmp_path / "broken.nemo")
    studio = make_studio(fresh_layout)
    started = time.monotonic()
    with pytest.raises(ModelNotFoundError) as info:
        studio.load(str(broken))
    assert time.monotonic() - started < 5
    text = info.value.render()
    assert "the .nemo file is damaged or not a NeMo archive" in text
    assert "download it again" in text and str(broken) in text
    assert entries(fresh_layout) == []
    assert_no_half_made_entry(fresh_layout)
    assert studio.loaded() == []
    assert extract.is_complete(studio.pull(str(tiny_nemo["ctc"])))


@pytest.mark.slow
@pytest.mark.parametrize("how", ["start (its zip header)", "end (its zip directory)"])
@pytest.mark.fault("model files", "a .nemo file whose weights member is overwritten at its "
                   "{how}: the archive itself unpacks",
                   "a readable 'NeMo could not build the model' error naming the unpacked "
                   "folder, with 'damaged, pull again' advice; nothing is loaded")
def test_damaged_weights_fail_readably_in_nemo(how, tiny_nemo, fresh_layout, tmp_path):
    broken = damage(tiny_nemo["ctc"], how, tmp_path / "broken.nemo")
    studio = make_studio(fresh_layout)
    with pytest.raises(UnexpectedError) as info:
        studio.load(str(broken))
    text = info.value.render()
    assert f"NeMo could not build the model {broken}" in text
    assert "The .nemo file is damaged" in text and "pull again" in text
    (entry,) = entries(fresh_layout)
    assert str(entry) in text
    assert "AttributeError" not in text
    assert studio.loaded() == []


_KILLED_WHILE_UNPACKING = """
import sys, time
from pathlib import Path
from stt_studio.cache import CacheLayout
from stt_studio.models import extract
from stt_studio.retry import Retrier
original = extract._extract_member
written = []
def extract_member_then_hang(archive, info, dest, retrier):
    original(archive, info, dest, retrier)
    written.append(info.name)
    if len(written) == int(sys.argv[3]):
        print(dest / info.name, flush=True)
        time.sleep(120)
extract._extract_member = extract_member_then_hang
extract.extracted_dir(Path(sys.argv[2]), CacheLayout(Path(sys.argv[1])), Retrier())
"""


@pytest.mark.parametrize("members", ["1", "all"])
@pytest.mark.fault("model files", "the process is killed (SIGKILL) while it unpacks a .nemo, "
                   "after {members} of its members",
                   "the next load finds the half-made folder, removes it and unpacks again at "
                   "once (the dead process's lock does not block); one complete entry")
def test_unpack_killed_midway_is_redone(members, tiny_nemo, fresh_layout):
    nemo = tiny_nemo["ctc"]
    count = 1 if members == "1" else len(_members(nemo))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WHILE_UNPACKING, str(fresh_layout.root), str(nemo),
         str(count)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        written = Path(proc.stdout.readline().strip())
        assert written.is_file() and written.parent.name.startswith(".partial-")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    staging = written.parent
    assert staging.is_dir() and entries(fresh_layout) == []
    sha = extract.content_hash(nemo, fresh_layout, Retrier())
    assert (fresh_layout.locks_dir / f"{sha[:32]}.lock").exists()  # left by the dead process

    events: list[ProgressEvent] = []
    started = time.monotonic()
    with progress.job(events.append):
        folder = extract.extracted_dir(nemo, fresh_layout, Retrier())
    assert time.monotonic() - started < extract.LOCK_POLL_S
    assert not [e for e in events if e.note is not None and e.note.kind is NoteKind.WAITING]
    assert extract.is_complete(folder, sha)
    assert entries(fresh_layout) == [folder]
    assert not staging.exists()
    assert_no_half_made_entry(fresh_layout)
    assert sorted(p.name for p in folder.iterdir() if p.name != extract.MARKER) == sorted(
        _members(nemo))


def _cached_column(listing: str, name: str) -> str:
    """The CACHED column of ``name``'s row in `stt-studio models`."""
    match = re.search(rf"^{re.escape(name)}\s+\S+\s+\d+ MB\s+(yes|no)\s", listing, re.MULTILINE)
    assert match, listing
    return match.group(1)


@pytest.mark.slow
@pytest.mark.fault("model files", "a download is cut off mid-file, again and again",
                   "`models pull` exits 1 with a network error; the partial file is deleted, "
                   "never used, and `models` lists the model as not cached; the next pull "
                   "against a healthy hub completes")
def test_interrupted_download_is_never_used(tiny_nemo, tmp_path):
    cache = tmp_path / "cache"
    body = tiny_nemo["ctc"].read_bytes()
    repo = cache / "huggingface" / "hub" / ("models--" + NEMO_NAME.replace("/", "--"))
    with serving({f"{NEMO_NAME}:{NEMO_FILE}": body}, mode="truncate") as hub:
        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return run_cli(list(args), cache, hub_url=hub.url, offline=False)

        cut = cli("models", "pull", NEMO_NAME)
        assert cut.returncode == 1, cut.stderr
        assert "Network or download error: could not download" in cut.stderr
        assert NEMO_NAME in cut.stderr and "Traceback" not in cut.stderr
        assert [p for p in repo.rglob("*") if p.is_file() and p.parent.name != "refs"] == []
        assert entries(CacheLayout(cache)) == []
        assert _cached_column(cli("models").stdout, NEMO_NAME) == "no"

        hub.mode = "ok"
        pulled = cli("models", "pull", NEMO_NAME)
        assert pulled.returncode == 0, pulled.stderr
        assert f"{NEMO_NAME} is ready" in pulled.stdout
        (nemo,) = repo.glob(f"snapshots/*/{NEMO_FILE}")
        assert nemo.read_bytes() == body
        assert list(repo.rglob("*.incomplete")) == []
        assert _cached_column(cli("models").stdout, NEMO_NAME) == "yes"
    assert [extract.is_complete(p) for p in entries(CacheLayout(cache))] == [True]


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prefill_whisper(hub_cache: Path, repo_id: str) -> Path:
    """A CTranslate2 Whisper snapshot as huggingface_hub leaves it (the bundled tiny.en files)."""
    repo = hub_cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    shutil.copytree(bundled_whisper_dir(), snapshot)
    return snapshot


@pytest.mark.fault("model files", "the hub cannot be reached (nothing listens at HF_ENDPOINT), "
                   "downloads not turned off",
                   "models already in the cache answer by hub name: a Whisper model transcribes, "
                   "a NeMo model is ready (unpacked) at once")
def test_unreachable_hub_leaves_cached_models_working(tiny_nemo, tmp_path, jfk):
    cache = tmp_path / "cache"
    hub_cache = cache / "huggingface" / "hub"
    prefill_hf_cache(hub_cache, NEMO_NAME, tiny_nemo["ctc"])
    _prefill_whisper(hub_cache, WHISPER_NAME)
    hub_url = f"http://127.0.0.1:{_unused_port()}"
    assert "HF_HUB_OFFLINE" not in cli_env(cache, hub_url, offline=False)
    started = time.monotonic()
    spoken = run_cli(["transcribe", jfk, "--model", WHISPER_NAME, "--output-dir",
                      tmp_path / "out"], cache, hub_url=hub_url, offline=False)
    assert spoken.returncode == 0, spoken.stderr
    assert "country" in (tmp_path / "out" / "jfk.txt").read_text("utf-8").lower()
    pulled = run_cli(["models", "pull", NEMO_NAME], cache, hub_url=hub_url, offline=False)
    assert pulled.returncode == 0, pulled.stderr
    assert time.monotonic() - started < 60
    (entry,) = entries(CacheLayout(cache))
    assert f"{NEMO_NAME} is ready: {entry}" in pulled.stdout
    assert extract.is_complete(entry)
