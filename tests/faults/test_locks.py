"""The LOCK rows of the fault matrix: a locked file at every file operation.

Windows reports a file held by antivirus, a cloud-sync client, the indexer or
another studio in a handful of shapes, depending on what the call was doing
(:mod:`stt_studio.errors`): WinError 32/33 on the file itself, 5 "Access is
denied", 145 "directory not empty" or 1224 "user-mapped section" when a
folder is renamed or removed, and POSIX says EBUSY. Each table below runs one
operation against the shapes that operation meets, once released after two
tries (transient) and once never released (persistent), with the errors
raised at the OS call the studio makes (``os.replace``, ``open``,
``torch.load``...). For every row the studio answers in bounded time, shows the
result or a readable lock error with remedies, and leaves no half-written
output and no corrupt cache entry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stt_studio import doctor
from stt_studio.cache import CacheLayout
from stt_studio.domain import NoteKind, ProgressEvent, Segment, Transcript
from stt_studio.errors import FileLockedError
from stt_studio.models import catalog, extract, store
from stt_studio.retry import Retrier, RetryPolicy
from stt_studio.service import Studio
from tests.conftest import ROOT, make_studio
from tests.support.faults import (
    MOVE_LOCKS,
    READ_LOCKS,
    REMOVE_LOCKS,
    WRITE_LOCKS,
    Flaky,
    count_calls,
    inject,
    inject_method,
    inject_open,
    lock_shape,
)
from tests.support.hub import COMMIT, STT, cli_env, prefill_hf_cache, serving

RETRY = RetryPolicy((0.01, 0.01, 0.01))
TRIES = 1 + len(RETRY.delays_s)  # the first call and one per retry
BOUND_S = 15.0  # "answers in bounded time": seconds of work, never a hang
LOAD_BOUND_S = 60.0  # the same, for rows that build a NeMo model on a busy 2-core machine
TRANSIENT, PERSISTENT = "released after 2 tries", "never released"
WHEN = ("when", "expect")  # a matrix row's fault duration, and what the user gets then
WEIGHTS = "model_weights.ckpt"
CONFIG = "model_config.yaml"

MakeError = Callable[[object], BaseException]


def outcomes(transient: str, persistent: str) -> list[Any]:
    """The two durations of a lock, each with the outcome its matrix row promises."""
    return [pytest.param(TRANSIENT, transient, id="transient"),
            pytest.param(PERSISTENT, persistent, id="persistent")]


def studio_for(layout: CacheLayout) -> Studio:
    """A studio with fast retries that skip the gc.collect() between tries.

    With NeMo imported that collection takes about a second per retry here,
    and the faults below are injected, so freeing handles cannot help them.
    """
    studio = make_studio(layout, retry=RETRY)
    studio.retrier.between_tries = no_op
    return studio


def quick_retrier() -> Retrier:
    return Retrier(RETRY, between_tries=no_op)


def no_op() -> None:
    return None


def failures(when: str) -> int | None:
    return 2 if when == TRANSIENT else None


def shape_id(shape: str) -> str:
    return shape.replace("WinError ", "")


def name_of(path: object) -> str:
    return Path(os.fsdecode(path)).name if isinstance(path, (str, bytes, os.PathLike)) else ""


class Notes:
    """A job's progress callback that keeps what it was told."""

    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []

    def __call__(self, event: ProgressEvent) -> None:
        self.events.append(event)

    def texts(self, kind: NoteKind) -> list[str]:
        return [e.note.text for e in self.events if e.note is not None and e.note.kind is kind]


@dataclass(frozen=True)
class LockPoint:
    """One file operation to lock: how to inject the fault, and which shapes it meets."""

    name: str
    description: str
    locks: tuple[str, ...]
    install: Callable[[Any, CacheLayout, int | None, MakeError], Flaky]

    def __str__(self) -> str:  # what the fault matrix shows
        return self.description


def rows(points: tuple[LockPoint, ...]) -> list[Any]:
    return [pytest.param(point, shape, id=f"{point.name}-{shape_id(shape)}")
            for point in points for shape in point.locks]


def entries(layout: CacheLayout) -> list[Path]:
    """The finished-looking extraction folders (not staging, not memos)."""
    return [p for p in layout.extracted_dir.iterdir() if not p.name.startswith(".")]


def partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(".partial-")]


def assert_no_corrupt_entry(layout: CacheLayout) -> None:
    assert partials(layout.extracted_dir) == []
    for entry in entries(layout):
        assert extract.is_complete(entry), f"{entry} lacks its marker or a member"


def assert_readable_lock_error(error: FileLockedError, path: object, layout: CacheLayout) -> str:
    text = error.render()
    assert text.startswith("A file is locked by another program:")
    assert str(path) in text, text
    assert str(layout.root) in text  # the cache folder, in the remedies and paths
    assert "OneDrive" in text and "antivirus" in text.lower()
    assert "Traceback" not in text
    return text


# -- hashing -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.fault("locks", "{shape} when opening the .nemo file to hash it, {when}", "{expect}")
@pytest.mark.parametrize(WHEN, outcomes(
    "the model loads; 2 retries are noted",
    "a lock error naming the .nemo file after 3 retries, with remedies and the cache folder"))
@pytest.mark.parametrize("shape", [pytest.param(s, id=shape_id(s)) for s in READ_LOCKS])
def test_hashing_lock(shape, when, expect, tiny_nemo, fresh_layout, monkeypatch):
    nemo = tiny_nemo["ctc"].resolve()
    studio = studio_for(fresh_layout)
    notes = Notes()
    opened = inject_open(monkeypatch, failures(when), lock_shape(shape),
                         match=lambda path: os.path.realpath(path) == str(nemo))
    started = time.monotonic()
    if when == TRANSIENT:
        loaded = studio.load(str(nemo), progress=notes)
        assert loaded.model is not None and opened.raised == 2
        assert len(notes.texts(NoteKind.LOCK_RETRY)) == 2
        assert len(entries(fresh_layout)) == 1
    else:
        with pytest.raises(FileLockedError) as info:
            studio.load(str(nemo), progress=notes)
        assert time.monotonic() - started < BOUND_S
        assert opened.raised == TRIES
        assert_readable_lock_error(info.value, nemo, fresh_layout)
        assert entries(fresh_layout) == [] and studio.loading() == {}
    assert_no_corrupt_entry(fresh_layout)


# -- extraction --------------------------------------------------------------------------


def _lock_staging_mkdir(mp: Any, layout: CacheLayout, n: int | None, err: MakeError) -> Flaky:
    return inject(mp, os, "mkdir", n, err,
                  match=lambda path, *a, **k: name_of(path).startswith(".partial-"))


def _lock_member_write(mp: Any, layout: CacheLayout, n: int | None, err: MakeError) -> Flaky:
    return inject_method(mp, tarfile.TarFile, "extract", n, err,
                         match=lambda self, member, *a, **k: member.name == WEIGHTS,
                         path_of=lambda self, member, path="", *a, **k: Path(path) / member.name)


def _lock_marker_replace(mp: Any, layout: CacheLayout, n: int | None, err: MakeError) -> Flaky:
    return inject(mp, os, "replace", n, err,
                  match=lambda src, dst, *a, **k: name_of(dst) == extract.MARKER)


def _lock_staging_replace(mp: Any, layout: CacheLayout, n: int | None, err: MakeError) -> Flaky:
    return inject(mp, os, "replace", n, err,
                  match=lambda src, dst, *a, **k: name_of(src).startswith(".partial-")
                  and Path(dst).parent == layout.extracted_dir)


EXTRACTION_POINTS = (
    LockPoint("mkdir", "creation of the staging folder", WRITE_LOCKS, _lock_staging_mkdir),
    LockPoint("member", f"write of the member {WEIGHTS}", WRITE_LOCKS, _lock_member_write),
    LockPoint("marker", "rename of the finished marker file into place", MOVE_LOCKS,
              _lock_marker_replace),
    LockPoint("final", "rename of the staging folder to the cache entry", MOVE_LOCKS,
              _lock_staging_replace),
)


@pytest.mark.fault("locks", "{shape} at the {point} while unpacking a .nemo, {when}", "{expect}")
@pytest.mark.parametrize(WHEN, outcomes(
    "the model is unpacked and its cache entry is complete; 2 retries are noted",
    "a lock error naming the file and the cache folder after 3 retries; no .partial-* "
    "folder and no entry without its marker are left, and the next try succeeds"))
@pytest.mark.parametrize(("point", "shape"), rows(EXTRACTION_POINTS))
def test_extraction_lock(point, shape, when, expect, tiny_nemo, fresh_layout, monkeypatch):
    nemo = str(tiny_nemo["ctc"])
    studio = studio_for(fresh_layout)
    notes = Notes()
    flaky = point.install(monkeypatch, fresh_layout, failures(when), lock_shape(shape))
    started = time.monotonic()
    if when == TRANSIENT:
        folder = studio.pull(nemo, progress=notes)
        assert flaky.raised == 2 and entries(fresh_layout) == [folder]
        retries = notes.texts(NoteKind.LOCK_RETRY)
        assert len(retries) == 2 and "retry 2/3" in retries[1]
    else:
        with pytest.raises(FileLockedError) as info:
            studio.pull(nemo, progress=notes)
        assert time.monotonic() - started < BOUND_S
        assert flaky.raised == TRIES
        assert_readable_lock_error(info.value, flaky.seen[-1], fresh_layout)
        assert entries(fresh_layout) == []
        monkeypatch.undo()  # the lock goes away: the same studio now succeeds
        folder = studio.pull(nemo)
    assert extract.is_complete(folder)
    assert_no_corrupt_entry(fresh_layout)


@pytest.mark.fault("locks", "WinError 5 (Access is denied) when the unpacked staging folder "
                   "is renamed into the cache, {when}", "{expect}")
@pytest.mark.parametrize(WHEN, outcomes(
    "the model is unpacked: two retries carried it",
    "a lock error that leads with the lock causes (antivirus, OneDrive/Dropbox/Google Drive, "
    "indexer, another studio) and their remedies, names the folder and the cache folder, "
    "and only then mentions permissions"))
def test_access_denied_on_the_staging_rename_is_treated_as_a_lock(when, expect, tiny_nemo,
                                                                   fresh_layout, monkeypatch):
    """Issue reproduction 1: WinError 5 on os.replace(staging, final)."""
    studio = studio_for(fresh_layout)
    flaky = _lock_staging_replace(monkeypatch, fresh_layout, failures(when),
                                  lock_shape("WinError 5"))
    if when == TRANSIENT:
        assert extract.is_complete(studio.pull(str(tiny_nemo["ctc"]))) and flaky.raised == 2
        return
    with pytest.raises(FileLockedError) as info:
        studio.pull(str(tiny_nemo["ctc"]))
    text = info.value.render()
    assert text.startswith("A file is locked by another program: Windows refused to")
    assert "(Access is denied) while another program held a file inside" in text
    assert str(flaky.seen[-1]) in text and str(fresh_layout.root) in text
    permissions = text.index("read-only")
    for lock_cause in ("Antivirus", "OneDrive", "Dropbox", "Google Drive", "indexer",
                       "Another stt-studio"):
        assert text.index(lock_cause) < permissions, lock_cause
    # the lock remedies come first, the permission remedies after them
    assert text.index("Pause OneDrive") < text.index("Make the folder writable")
    assert text.index("Exclude the cache folder") < text.index("Make the folder writable")
    assert partials(fresh_layout.extracted_dir) == [] and entries(fresh_layout) == []


@pytest.mark.fault("locks", "WinError 32 while writing one member of the .nemo archive, "
                   "released after 2 tries",
                   "only that member is written again: the archive is opened and unpacked once")
def test_lock_on_one_member_retries_only_that_member(tiny_nemo, fresh_layout, monkeypatch):
    """Issue reproduction 2: the archive is not re-opened or unpacked from the start."""
    opens = count_calls(monkeypatch, tarfile, "open")
    unpacks = count_calls(monkeypatch, extract, "_unpack")
    flaky = _lock_member_write(monkeypatch, fresh_layout, 2, lock_shape("WinError 32"))
    folder = studio_for(fresh_layout).pull(str(tiny_nemo["ctc"]))
    members = json.loads((folder / extract.MARKER).read_text("utf-8"))["members"]
    assert flaky.raised == 2
    assert flaky.calls == len(members) + 2  # every member once, the locked one twice more
    assert len(opens) == 1 and len(unpacks) == 1
    assert extract.is_complete(folder)


@pytest.mark.fault("locks", "{shape} when reading the marker of a finished extraction, {when}",
                   "{expect}")
@pytest.mark.parametrize(WHEN, outcomes(
    "the finished extraction is used as it is: not deleted, not unpacked again",
    "a lock error naming the marker; the finished extraction stays untouched and is used "
    "once the lock is gone"))
@pytest.mark.parametrize("shape", [pytest.param(s, id=shape_id(s)) for s in READ_LOCKS])
def test_marker_read_lock_never_deletes_a_good_extraction(shape, when, expect, tiny_nemo,
                                                          fresh_layout, monkeypatch):
    """Issue reproduction 4."""
    nemo = str(tiny_nemo["ctc"])
    studio = studio_for(fresh_layout)
    folder = studio.pull(nemo)
    marker = folder / extract.MARKER
    before = (folder.stat().st_ino, marker.stat().st_ino, marker.stat().st_mtime_ns)
    unpacks = count_calls(monkeypatch, extract, "_unpack")
    flaky = inject_open(monkeypatch, failures(when), lock_shape(shape),
                        match=lambda path: path == str(marker))
    if when == TRANSIENT:
        assert studio.pull(nemo) == folder and flaky.raised == 2
    else:
        with pytest.raises(FileLockedError) as info:
            studio.pull(nemo)
        assert flaky.raised == TRIES
        assert_readable_lock_error(info.value, marker, fresh_layout)
    assert unpacks == []
    assert (folder.stat().st_ino, marker.stat().st_ino, marker.stat().st_mtime_ns) == before
    monkeypatch.undo()
    assert extract.is_complete(folder) and entries(fresh_layout) == [folder]


# -- download ----------------------------------------------------------------------------

CTC_SPEC = catalog.resolve("nvidia/parakeet-ctc-0.6b")


@pytest.fixture()
def ctc_hub(tiny_nemo):
    assert CTC_SPEC.nemo_filename
    with serving({f"{CTC_SPEC.source}:{CTC_SPEC.nemo_filename}":
                  tiny_nemo["ctc"].read_bytes()}) as hub:
        yield hub


def run_locked_cli(args: list[str], cache: Path, hub_url: str, lock: dict[str, object],
                   report: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, int]]:
    """``stt-studio ARGS`` in a fresh process with one OS call locked (support/locked_cli.py)."""
    env = cli_env(cache, hub_url, offline=False, extra={
        "STT_STUDIO_RETRY_DELAYS": ",".join(map(str, RETRY.delays_s)),
        "STT_TEST_LOCK": json.dumps({**lock, "report": str(report)}),
    })
    done = subprocess.run([sys.executable, "-m", "tests.support.locked_cli", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert report.is_file(), done.stderr  # the runner itself failed
    return done, json.loads(report.read_text("utf-8"))


@pytest.mark.slow
@pytest.mark.fault("locks", "{shape} when `stt-studio models pull` moves the downloaded file "
                   "into the cache, {when}", "{expect}")
@pytest.mark.parametrize(WHEN, outcomes(
    "the pull succeeds; 2 retries are logged",
    "exit 1 with a readable lock error after 3 retries; no partial file is kept and "
    "`stt-studio models` does not list the model as cached"))
@pytest.mark.parametrize("shape", [pytest.param(s, id=shape_id(s)) for s in MOVE_LOCKS])
def test_download_lock(shape, when, expect, ctc_hub, tmp_path):
    cache = tmp_path / "cache"
    started = time.monotonic()
    pulled, faults = run_locked_cli(
        ["models", "pull", CTC_SPEC.name], cache, ctc_hub.url,
        {"call": "shutil.move", "contains": ".incomplete", "shape": shape,
         "failures": failures(when)}, tmp_path / "faults.json")
    assert time.monotonic() - started < LOAD_BOUND_S
    repo = store.repo_cache_dir(CTC_SPEC, CacheLayout(cache))
    assert not list(repo.rglob("*.incomplete"))
    if when == TRANSIENT:
        assert pulled.returncode == 0, pulled.stderr
        assert faults["raised"] == 2 and "is ready" in pulled.stdout
        assert "retry 1/3" in pulled.stderr and "retry 2/3" in pulled.stderr
        nemo = repo / "snapshots" / COMMIT / str(CTC_SPEC.nemo_filename)
        assert nemo.read_bytes() == ctc_hub.files[f"{CTC_SPEC.source}:{CTC_SPEC.nemo_filename}"]
        return
    assert pulled.returncode == 1
    assert faults["raised"] == TRIES
    assert "A file is locked by another program" in pulled.stderr
    assert str(cache) in pulled.stderr and "Traceback" not in pulled.stderr
    assert not list(repo.glob("snapshots/*/*.nemo")) and not list(repo.glob("blobs/*"))
    listed = subprocess.run([str(STT), "models"], env=cli_env(cache, ctc_hub.url, offline=True),
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    (row,) = [line.split() for line in listed.stdout.splitlines()
              if line.startswith(CTC_SPEC.name + " ")]
    assert row[4] == "no", listed.stdout  # NAME ENGINE SIZE MB CACHED PATH


# -- model build -------------------------------------------------------------------------


def _lock_torch_load(mp: Any, layout: CacheLayout, n: int | None, err: MakeError) -> Flaky:
    import torch

    return inject(mp, torch, "load", n, err, match=lambda f, *a, **k: name_of(f) == WEIGHTS)


def _lock_preflight_open(mp: Any, layout: CacheLayout, n: int | None, err: MakeError) -> Flaky:
    return inject_open(mp, n, err, match=lambda path: Path(path).name == CONFIG
                       and Path(path).parent.parent == layout.extracted_dir)


BUILD_POINTS = (
    LockPoint("torch.load", f"torch.load of {WEIGHTS}", READ_LOCKS, _lock_torch_load),
    LockPoint("open", f"first open of {CONFIG} before NeMo builds the model", READ_LOCKS,
              _lock_preflight_open),
)


@pytest.mark.slow
@pytest.mark.fault("locks", "{shape} at the {point} while loading a NeMo model, {when}",
                   "{expect}")
@pytest.mark.parametrize(WHEN, outcomes(
    "the model loads; only that file call is retried (NeMo's restore runs once)",
    "a lock error with remedies and the cache folder after 3 retries; no model is left "
    "loaded or half-loaded"))
@pytest.mark.parametrize(("point", "shape"), rows(BUILD_POINTS))
def test_model_build_lock(point, shape, when, expect, tiny_nemo, fresh_layout, monkeypatch):
    from nemo.core.connectors.save_restore_connector import SaveRestoreConnector

    studio = studio_for(fresh_layout)
    studio.pull(str(tiny_nemo["ctc"]))  # extracted beforehand: only the build meets the lock
    restores = count_calls(monkeypatch, SaveRestoreConnector, "restore_from")
    flaky = point.install(monkeypatch, fresh_layout, failures(when), lock_shape(shape))
    notes = Notes()
    started = time.monotonic()
    if when == TRANSIENT:
        loaded = studio.load(str(tiny_nemo["ctc"]), progress=notes)
        assert loaded.model is not None and flaky.raised == 2
        assert len(notes.texts(NoteKind.LOCK_RETRY)) == 2
        assert len(restores) == 1
        return
    with pytest.raises(FileLockedError) as info:
        studio.load(str(tiny_nemo["ctc"]), progress=notes)
    assert time.monotonic() - started < LOAD_BOUND_S
    assert flaky.raised == TRIES
    text = assert_readable_lock_error(info.value, flaky.seen[-1], fresh_layout)
    assert "Exclude the cache folder from antivirus scanning" in text
    assert len(restores) == (1 if point.name == "torch.load" else 0)
    assert studio.loaded() == [] and studio.loading() == {}


@pytest.mark.slow
@pytest.mark.fault("locks", "WinError 32 on torch.load of the model weights, released after "
                   "2 tries", "only torch.load is retried: NeMo's restore runs once and the "
                   "model loads")
def test_lock_on_the_weights_retries_only_torch_load(tiny_nemo, fresh_layout, monkeypatch):
    """Issue reproduction 3: not the whole NeMo restore."""
    from nemo.core.connectors.save_restore_connector import SaveRestoreConnector

    restores = count_calls(monkeypatch, SaveRestoreConnector, "restore_from")
    flaky = _lock_torch_load(monkeypatch, fresh_layout, 2, lock_shape("WinError 32"))
    loaded = studio_for(fresh_layout).load(str(tiny_nemo["ctc"]))
    assert loaded.model is not None
    assert flaky.raised == 2 and flaky.matched == 3 and len(restores) == 1


# -- transcription temp dirs -------------------------------------------------------------


@pytest.fixture(scope="module")
def one_second_wav(tmp_path_factory, jfk) -> Path:
    """A second of real speech (a tone has none: the VAD would never call NeMo).

    NeMo's temp folder is made per call, whatever the length.
    """
    from stt_studio.audio.decode import decode_file

    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    speech = decode_file(jfk).samples[8000:24000]  # "...so my fellow..." after the first 0.5 s
    samples = (speech * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(samples.tobytes())
    return path


@pytest.fixture(scope="module")
def ctc_studio(tiny_nemo, tmp_path_factory):
    """One studio with the tiny CTC model loaded, for the transcription rows."""
    layout = CacheLayout(tmp_path_factory.mktemp("locks") / "cache")
    layout.ensure()
    studio = studio_for(layout)
    studio.load(str(tiny_nemo["ctc"]))
    return studio


@pytest.mark.slow
@pytest.mark.fault("locks", "{shape} when NeMo's per-transcription temp folder is removed, "
                   "{when}", "{expect}")
@pytest.mark.parametrize(WHEN, outcomes(
    "the transcript is returned and the temp folder is gone",
    "the transcript is still returned; the folder is left with a note, and "
    "`stt-studio doctor --clean` removes it later"))
@pytest.mark.parametrize("shape", [pytest.param(s, id=shape_id(s)) for s in REMOVE_LOCKS])
def test_transcription_temp_dir_lock(shape, when, expect, ctc_studio, tiny_nemo, fresh_layout,
                                     one_second_wav, monkeypatch):
    tmp_dir = fresh_layout.tmp_dir
    notes = Notes()
    with monkeypatch.context() as fault:
        fault.setattr(tempfile, "tempdir", str(tmp_dir))
        rmdir = inject(fault, os, "rmdir", failures(when), lock_shape(shape),
                       match=lambda path, *a, **k: Path(os.fsdecode(path)).parent == tmp_dir
                       and name_of(path).startswith("stt-studio-"))
        result = ctc_studio.transcribe_file(one_second_wav, str(tiny_nemo["ctc"]),
                                            progress=notes)
    assert result.transcript.duration_s == pytest.approx(1.0, abs=0.01)
    assert rmdir.matched >= 1  # NeMo did make (and remove) a temp folder
    left = notes.texts(NoteKind.LEFT_BEHIND)
    if when == TRANSIENT:
        assert rmdir.raised == 2 and left == []
        assert list(tmp_dir.iterdir()) == []
        return
    (leftover,) = list(tmp_dir.iterdir())
    assert len(left) == 1 and str(leftover) in left[0] and "doctor --clean" in left[0]
    check = doctor._leftovers(fresh_layout, quick_retrier(), clean=True)
    assert check.status == doctor.OK and "removed 1" in check.detail
    assert list(tmp_dir.iterdir()) == []


# -- output writing ----------------------------------------------------------------------

TRANSCRIPT = Transcript("ask not what your country can do for you", "en", 3.0, "test",
                        (Segment(0.0, 3.0, "ask not what your country can do for you"),))


@pytest.mark.fault("locks", "{shape} when the finished transcript is renamed onto "
                   "<name>.txt, {when}", "{expect}")
@pytest.mark.parametrize(WHEN, outcomes(
    "the transcript file is written whole",
    "a lock error naming the file after 3 retries; the previous file is untouched and no "
    ".partial-* file is left"))
@pytest.mark.parametrize("shape", [pytest.param(s, id=shape_id(s)) for s in MOVE_LOCKS])
def test_output_write_lock(shape, when, expect, fresh_layout, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "talk.txt"
    target.write_text("the previous transcript", "utf-8")
    studio = studio_for(fresh_layout)
    replace = inject(monkeypatch, os, "replace", failures(when), lock_shape(shape),
                     match=lambda src, dst, *a, **k: Path(dst) == target)
    started = time.monotonic()
    if when == TRANSIENT:
        assert studio.write_outputs(TRANSCRIPT, out, "talk", ["txt"]) == [target]
        assert replace.raised == 2
        assert target.read_text("utf-8").strip() == TRANSCRIPT.text
    else:
        with pytest.raises(FileLockedError) as info:
            studio.write_outputs(TRANSCRIPT, out, "talk", ["txt"])
        assert time.monotonic() - started < BOUND_S
        assert replace.raised == TRIES
        text = info.value.render()
        assert str(target) in text and "write the transcript" in text
        assert target.read_text("utf-8") == "the previous transcript"
    assert sorted(p.name for p in out.iterdir()) == ["talk.txt"]  # no .partial-* left


# -- models rm ---------------------------------------------------------------------------

RM_NAME = "acme/tiny-parakeet"


def _lock_blob_unlink(mp: Any, layout: CacheLayout, n: int | None, err: MakeError) -> Flaky:
    return inject(mp, os, "unlink", n, err,
                  match=lambda path, *a, **k: name_of(path) == "deadbeef")


def _lock_blobs_rmdir(mp: Any, layout: CacheLayout, n: int | None, err: MakeError) -> Flaky:
    return inject(mp, os, "rmdir", n, err,
                  match=lambda path, *a, **k: name_of(path) == "blobs")


RM_POINTS = (
    LockPoint("unlink", "deletion of the downloaded .nemo inside the model folder",
              REMOVE_LOCKS, _lock_blob_unlink),
    LockPoint("rmdir", "removal of the model folder's blobs/ folder", REMOVE_LOCKS,
              _lock_blobs_rmdir),
)


def prefill(layout: CacheLayout, tmp_path: Path) -> Path:
    stand_in = tmp_path / "stand-in.nemo"
    stand_in.write_bytes(b"not a real model, only bytes to delete")
    return prefill_hf_cache(layout.hf_hub_cache, RM_NAME, stand_in)


@pytest.mark.fault("locks", "{shape} at the {point} during `stt-studio models rm`, {when}",
                   "{expect}")
@pytest.mark.parametrize(WHEN, outcomes(
    "the model folder is removed",
    "a lock error naming the model folder; the cached file is whole or gone, never half, "
    "and rm succeeds once the lock is released"))
@pytest.mark.parametrize(("point", "shape"), rows(RM_POINTS))
def test_models_rm_lock(point, shape, when, expect, fresh_layout, tmp_path, monkeypatch):
    snapshot_file = prefill(fresh_layout, tmp_path)
    original = snapshot_file.read_bytes()
    spec = catalog.resolve(RM_NAME)
    repo = store.repo_cache_dir(spec, fresh_layout)
    studio = studio_for(fresh_layout)
    flaky = point.install(monkeypatch, fresh_layout, failures(when), lock_shape(shape))
    started = time.monotonic()
    if when == TRANSIENT:
        assert studio.remove(RM_NAME) == [repo]
        assert flaky.raised == 2 and not repo.exists()
        return
    with pytest.raises(FileLockedError) as info:
        studio.remove(RM_NAME)
    assert time.monotonic() - started < BOUND_S
    assert flaky.raised >= TRIES
    text = info.value.render()
    assert str(repo) in text and f"stt-studio models rm {RM_NAME}" in text
    assert repo.exists()
    cached = store.cached_path(spec, fresh_layout)
    assert cached is None or cached.read_bytes() == original
    monkeypatch.undo()
    assert studio.remove(RM_NAME) == [repo] and not repo.exists()


@pytest.mark.slow
@pytest.mark.fault("locks", "WinError 32 on a file inside the model folder during the "
                   "`stt-studio models rm` command, {when}", "{expect}")
@pytest.mark.parametrize(WHEN, outcomes(
    "exit 0 and the folder is gone",
    "exit 1 with a readable lock error naming the folder; the folder stays"))
def test_models_rm_command_lock(when, expect, fresh_layout, tmp_path):
    prefill(fresh_layout, tmp_path)
    repo = store.repo_cache_dir(catalog.resolve(RM_NAME), fresh_layout)
    done, faults = run_locked_cli(
        ["models", "rm", RM_NAME], fresh_layout.root, "http://127.0.0.1:9",
        {"call": "os.unlink", "contains": "deadbeef", "shape": "WinError 32",
         "failures": failures(when)}, tmp_path / "faults.json")
    if when == TRANSIENT:
        assert done.returncode == 0, done.stderr
        assert f"removed {repo}" in done.stdout and not repo.exists()
        assert faults["raised"] == 2
        return
    assert done.returncode == 1
    assert "A file is locked by another program" in done.stderr and str(repo) in done.stderr
    assert "Traceback" not in done.stderr and repo.exists()
