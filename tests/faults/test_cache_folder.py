"""Fault matrix, area "cache folder": read-only, a file in a folder's place, a full disk, deleted.

Every fault is met for real (a cache the user may not write to, files where
folders belong, a cache removed under a running studio) or raised at the OS
call that meets it (ENOSPC at the write of an unpacked member, of a download,
of a transcript). The studio must answer with the readable error and its
remedies, leave no half-written file or half-made cache entry, and work again
once the fault is gone.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from stt_studio import fsops
from stt_studio.cache import CacheLayout
from stt_studio.domain import Segment, Transcript
from stt_studio.errors import FileSystemError
from stt_studio.formats import render
from stt_studio.models import extract
from tests.conftest import ROOT, make_studio
from tests.support.faults import disk_full_error
from tests.support.hub import STT, cli_env, serving

CATALOG_NEMO = "nvidia/parakeet-ctc-0.6b"  # a registry name; the fake hub serves a tiny CTC model
CATALOG_FILE = "parakeet-ctc-0.6b.nemo"


def _as_plain_user(command: list[str]) -> list[str]:
    """Root ignores permission bits: drop the capabilities that let it (see test_ui_permissions)."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *command]


def run_cli(args: list[Any], cache: Path, *, plain_user: bool = False,
            hub_url: str = "http://127.0.0.1:9", offline: bool = True,
            runner: str | None = None) -> subprocess.CompletedProcess[str]:
    """`stt-studio ARGS` (or ``python -c RUNNER ARGS``) in a subprocess on ``cache``."""
    command = ([sys.executable, "-c", runner] if runner else [str(STT)]) + [str(a) for a in args]
    if plain_user:
        command = _as_plain_user(command)
    return subprocess.run(command, env=cli_env(cache, hub_url, offline=offline), cwd=ROOT,
                          capture_output=True, text=True, timeout=240, check=False)


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def entries(layout: CacheLayout) -> list[Path]:
    """The extraction entries (hidden names are staging folders and the hash memo)."""
    return [p for p in layout.extracted_dir.iterdir() if not p.name.startswith(".")]


def assert_no_half_made_entry(layout: CacheLayout) -> None:
    assert list(layout.extracted_dir.glob(".partial-*")) == []
    assert [p for p in entries(layout) if not extract.is_complete(p)] == []


# -- read-only ---------------------------------------------------------------------------


@pytest.fixture()
def readonly_cache(tmp_path):
    """A complete cache tree, all of it read-only (as if an administrator had made it)."""
    layout = CacheLayout(tmp_path / "cache")
    layout.ensure()
    for folder in [*sorted(layout.root.rglob("*"), reverse=True), layout.root]:
        folder.chmod(0o555)
    yield layout
    for folder in [layout.root, *layout.root.rglob("*")]:
        folder.chmod(0o755)


@pytest.mark.fault("cache folder", "the cache folder is read-only for the user, and a .nemo "
                   "model must be unpacked into it",
                   "`transcribe` exits 1 at once with Permission denied naming the cache folder, "
                   "chmod and --cache-dir advice and no traceback; nothing is written")
def test_readonly_cache_with_a_nemo_file_says_permission_denied(readonly_cache, tiny_nemo, jfk,
                                                                tmp_path):
    before = tree(readonly_cache.root)
    started = time.monotonic()
    proc = run_cli(["transcribe", jfk, "--model", tiny_nemo["ctc"], "--output-dir",
                    tmp_path / "out"], readonly_cache.root, plain_user=True)
    assert time.monotonic() - started < 60
    assert proc.returncode == 1, proc.stderr
    assert "Permission denied: not allowed to load the model" in proc.stderr
    cache = str(readonly_cache.root)
    assert f"chmod -R u+rwX {cache}" in proc.stderr
    assert "--cache-dir" in proc.stderr and "Traceback" not in proc.stderr
    assert tree(readonly_cache.root) == before
    assert not (tmp_path / "out" / "jfk.txt").exists()


@pytest.mark.fault("cache folder", "the cache folder is read-only for the user; the bundled "
                   "tiny.en is used", "the transcript is written: the bundled model needs no "
                   "cache writes, and nothing is written into the cache")
def test_readonly_cache_with_the_bundled_model_still_transcribes(readonly_cache, jfk, tmp_path):
    before = tree(readonly_cache.root)
    proc = run_cli(["transcribe", jfk, "--model", "tiny.en", "--output-dir", tmp_path / "out"],
                   readonly_cache.root, plain_user=True)
    assert proc.returncode == 0, proc.stderr
    assert "country" in (tmp_path / "out" / "jfk.txt").read_text("utf-8").lower()
    assert tree(readonly_cache.root) == before


# -- a file where a folder should be -----------------------------------------------------


def assert_names_the_blocking_file(text: str, blocker: Path) -> None:
    assert "File system error: a file stands where a folder should be" in text
    assert f"Move or delete that file: {blocker}" in text
    assert "--cache-dir" in text and "Traceback" not in text
    listed = text.split("Paths involved:")[1].split()
    assert listed.count(str(blocker)) == 1, text  # each path once


@pytest.mark.parametrize("where", ["<cache>/extracted", "a parent folder of --cache-dir"])
@pytest.mark.fault("cache folder", "a file stands in place of {where} when the CLI starts",
                   "`transcribe` exits 1 with 'a file stands where a folder should be' naming "
                   "that file, and the file is left as it was")
def test_file_in_place_of_a_folder_at_cli_start(where, tmp_path, jfk):
    if where == "<cache>/extracted":
        cache = tmp_path / "cache"
        blocker = cache / "extracted"
        cache.mkdir()
    else:
        blocker = tmp_path / "notes.txt"
        cache = blocker / "cache"
    blocker.write_text("mine")
    proc = run_cli(["transcribe", jfk, "--model", "tiny.en", "--cache-dir", cache,
                    "--output-dir", tmp_path / "out"], tmp_path / "unused")
    assert proc.returncode == 1
    assert_names_the_blocking_file(proc.stderr, blocker)
    assert blocker.read_text() == "mine"


@pytest.mark.parametrize("folder", ["extracted", "tmp", "locks", "extracted/.keys"])
@pytest.mark.fault("cache folder", "<cache>/{folder} becomes a file while the studio runs",
                   "the load fails at once with 'a file stands where a folder should be' naming "
                   "that file; once it is moved away the same studio unpacks the model")
def test_file_in_place_of_a_folder_while_running(folder, fresh_layout, tiny_nemo, jfk):
    studio = make_studio(fresh_layout)
    blocker = fresh_layout.root / folder
    if blocker.is_dir():
        shutil.rmtree(blocker)
    blocker.write_text("mine")
    started = time.monotonic()
    with pytest.raises(FileSystemError) as info:
        studio.transcribe_file(jfk, str(tiny_nemo["ctc"]))
    assert time.monotonic() - started < 5
    assert_names_the_blocking_file(info.value.render(), blocker)
    assert blocker.read_text() == "mine"
    blocker.unlink()
    assert extract.is_complete(studio.pull(str(tiny_nemo["ctc"])))


# -- a full disk -------------------------------------------------------------------------


def assert_disk_full(text: str) -> None:
    assert "the disk is full while trying to" in text
    assert "`stt-studio models rm NAME`" in text and "--cache-dir" in text


@pytest.mark.slow
@pytest.mark.fault("cache folder", "the disk fills up (ENOSPC) while a .nemo member is unpacked",
                   "the load fails at once with 'the disk is full' and models rm / --cache-dir "
                   "advice; the staging folder is removed; the next load unpacks and loads")
def test_disk_full_while_unpacking(fresh_layout, tiny_nemo, monkeypatch):
    original = tarfile.TarFile.extract
    hits: list[str] = []

    def extract_on_a_full_disk(self: tarfile.TarFile, member: Any, path: Any = "",
                               *args: Any, **kwargs: Any) -> None:
        if member.name.endswith("model_weights.ckpt"):
            target = Path(path) / member.name
            target.write_bytes(b"\0" * 4096)  # what fitted before the disk was full
            hits.append(str(target))
            raise disk_full_error(target)
        original(self, member, path, *args, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "extract", extract_on_a_full_disk)
    studio = make_studio(fresh_layout)
    started = time.monotonic()
    with pytest.raises(FileSystemError) as info:
        studio.load(str(tiny_nemo["ctc"]))
    assert time.monotonic() - started < 5  # a full disk is not retried
    assert len(hits) == 1
    assert_disk_full(info.value.render())
    assert ".partial-" in info.value.render()  # the path it was writing
    assert entries(fresh_layout) == []
    assert_no_half_made_entry(fresh_layout)
    assert studio.loaded() == []

    monkeypatch.setattr(tarfile.TarFile, "extract", original)
    loaded = studio.load(str(tiny_nemo["ctc"]))
    assert loaded.spec.engine.value == "nemo"
    assert len(entries(fresh_layout)) == 1
    assert_no_half_made_entry(fresh_layout)


@pytest.mark.fault("cache folder", "a member is unpacked short without an error (a full disk "
                                   "or a failing drive that drops the tail of a write)",
                   "a file system error that names the disk, not 'model not found'; the staging "
                   "folder is removed and no cache entry is made")
def test_a_short_member_is_a_disk_problem_not_a_missing_model(fresh_layout, tiny_nemo,
                                                               monkeypatch):
    original = tarfile.TarFile.extract

    def silently_short(self: tarfile.TarFile, member: Any, path: Any = "",
                       *args: Any, **kwargs: Any) -> None:
        original(self, member, path, *args, **kwargs)
        if member.name.endswith("model_weights.ckpt"):
            target = Path(path) / member.name
            with open(target, "r+b") as handle:
                handle.truncate(member.size // 2)

    monkeypatch.setattr(tarfile.TarFile, "extract", silently_short)
    with pytest.raises(FileSystemError) as info:
        make_studio(fresh_layout).load(str(tiny_nemo["ctc"]))
    text = info.value.render()
    assert text.startswith("File system error: unpacking model_weights.ckpt from ")
    assert "The disk filled up while the model was unpacked" in text
    assert "Model not found" not in text
    assert entries(fresh_layout) == []
    assert_no_half_made_entry(fresh_layout)


_FULL_DISK_DOWNLOAD = """
import errno, pathlib, sys
from stt_studio.entrypoints.cli import main
real_open = pathlib.Path.open

class FullDisk:
    '''The download's file on a disk that fills up halfway through the first write.'''
    def __init__(self, handle):
        self.handle = handle
    def write(self, data):
        self.handle.write(data[: len(data) // 2])
        self.handle.flush()
        raise OSError(errno.ENOSPC, "No space left on device", self.handle.name)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.handle.close()
    def __getattr__(self, name):
        return getattr(self.handle, name)

def open_(self, mode="r", *args, **kwargs):
    handle = real_open(self, mode, *args, **kwargs)
    return FullDisk(handle) if self.name.endswith(".incomplete") and "w" in mode else handle

pathlib.Path.open = open_
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.fault("cache folder", "the disk fills up (ENOSPC) while a model downloads",
                   "`models pull` exits 1 with 'the disk is full' and models rm / --cache-dir "
                   "advice; no partial download is kept; the next pull completes")
def test_disk_full_while_downloading(tiny_nemo, tmp_path):
    cache = tmp_path / "cache"
    body = tiny_nemo["ctc"].read_bytes()
    repo = cache / "huggingface" / "hub" / ("models--" + CATALOG_NEMO.replace("/", "--"))
    with serving({f"{CATALOG_NEMO}:{CATALOG_FILE}": body}) as hub:
        full = run_cli(["models", "pull", CATALOG_NEMO], cache, hub_url=hub.url, offline=False,
                       runner=_FULL_DISK_DOWNLOAD)
        assert full.returncode == 1, full.stderr
        assert_disk_full(full.stderr)
        assert CATALOG_NEMO in full.stderr and "Traceback" not in full.stderr
        assert [p for p in repo.rglob("*") if p.is_file() and p.parent.name != "refs"] == []
        assert entries(CacheLayout(cache)) == []

        pulled = run_cli(["models", "pull", CATALOG_NEMO], cache, hub_url=hub.url,
                         offline=False)
    assert pulled.returncode == 0, pulled.stderr
    (nemo,) = repo.glob(f"snapshots/*/{CATALOG_FILE}")
    assert nemo.read_bytes() == body
    assert list(repo.rglob("*.incomplete")) == []
    (entry,) = entries(CacheLayout(cache))
    assert extract.is_complete(entry)


def _transcript() -> Transcript:
    return Transcript(text="ask not what your country can do for you", language="en",
                      duration_s=3.0, model="tiny.en",
                      segments=(Segment(0.0, 3.0, "ask not what your country can do for you"),))


class _FullDiskFile:
    """A file whose disk fills up halfway through the first write."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def write(self, text: str) -> int:
        self._handle.write(text[: len(text) // 2])
        self._handle.flush()
        raise disk_full_error(self._handle.name)

    def __enter__(self) -> _FullDiskFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


@pytest.mark.parametrize("call", ["write", "fsync"])
@pytest.mark.fault("cache folder", "the disk fills up (ENOSPC) at the {call} of a transcript file",
                   "'the disk is full' with advice about the output folder (free space, "
                   "--output-dir); the earlier transcript of that name is untouched and no "
                   "partial file is left")
def test_disk_full_while_writing_the_transcript(call, fresh_layout, tmp_path, monkeypatch):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "talk.txt").write_text("the earlier transcript")
    if call == "write":
        monkeypatch.setattr(fsops, "open", lambda *a, **k: _FullDiskFile(open(*a, **k)),
                            raising=False)
    else:
        def fsync(fd: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fsync", fsync)
    studio = make_studio(fresh_layout)
    with pytest.raises(FileSystemError) as info:
        studio.write_outputs(_transcript(), folder, "talk", ["txt"])
    text = info.value.render()
    assert "the disk is full while trying to" in text
    assert "Free some space on that drive" in text and "--output-dir" in text
    assert "--cache-dir" not in text  # the user's own folder: no cache advice
    assert str(folder / "talk.txt") in info.value.render()
    assert sorted(p.name for p in folder.iterdir()) == ["talk.txt"]
    assert (folder / "talk.txt").read_text() == "the earlier transcript"

    monkeypatch.undo()
    assert studio.write_outputs(_transcript(), folder, "talk", ["txt"]) == [folder / "talk.txt"]
    assert (folder / "talk.txt").read_text("utf-8") == render(_transcript(), "txt")
    assert sorted(p.name for p in folder.iterdir()) == ["talk.txt"]


# -- deleted while the studio runs -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.fault("cache folder", "the whole cache folder is deleted while the studio runs",
                   "the next transcriptions (NeMo and tiny.en) work: the folders, NeMo's temp "
                   "folder included, are made again, and a reload unpacks the model again")
def test_cache_deleted_while_running(fresh_layout, tiny_nemo, jfk, monkeypatch):
    # the studio's temp files go under its cache (prepare_cache does this at start-up)
    monkeypatch.setattr(tempfile, "tempdir", str(fresh_layout.tmp_dir))
    made: list[Path] = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(*args: Any, **kwargs: Any) -> str:
        made.append(Path(real_mkdtemp(*args, **kwargs)))
        return str(made[-1])

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    studio = make_studio(fresh_layout)
    nemo = str(tiny_nemo["ctc"])
    for model in (nemo, "tiny.en"):
        studio.transcribe_file(jfk, model)

    shutil.rmtree(fresh_layout.root)
    made.clear()
    english = studio.transcribe_file(jfk, "tiny.en")
    assert "country" in english.transcript.text.lower()
    studio.transcribe_file(jfk, nemo)
    assert made and all(p.parent == fresh_layout.tmp_dir for p in made)  # NeMo's, made again
    assert not any(p.exists() for p in made)  # and cleaned up
    assert tempfile.gettempdir() == str(fresh_layout.tmp_dir)
    assert all(folder.is_dir() for folder in fresh_layout.folders())

    assert studio.unload(nemo)
    studio.transcribe_file(jfk, nemo)
    (entry,) = entries(fresh_layout)
    assert extract.is_complete(entry)
