"""One-time, atomic, verified extraction of .nemo archives into the cache."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stt_studio import progress
from stt_studio.domain import NoteKind
from stt_studio.errors import FileLockedError, ModelNotFoundError, PermissionDeniedError
from stt_studio.models import extract
from stt_studio.retry import Retrier, RetryPolicy
from tests.support.faults import denied_error, inject

ROOT = Path(__file__).resolve().parents[2]


def retrier(**kw) -> Retrier:
    return Retrier(RetryPolicy(**kw))


def test_extracts_once_with_marker_and_members(tiny_nemo, fresh_layout, monkeypatch):
    unpack = inject(monkeypatch, extract, "_unpack", 0)
    folder = extract.extracted_dir(tiny_nemo["tdt"], fresh_layout, retrier())
    assert folder.parent == fresh_layout.extracted_dir
    record = json.loads((folder / extract.MARKER).read_text())
    names = {m["name"] for m in record["members"]}
    assert "model_config.yaml" in names and "model_weights.ckpt" in names
    assert extract.is_complete(folder, record["sha256"])
    again = extract.extracted_dir(tiny_nemo["tdt"], fresh_layout, retrier())
    assert again == folder and unpack.calls == 1
    assert not list(fresh_layout.extracted_dir.glob(".partial-*"))


def test_key_is_the_content_not_the_name(tiny_nemo, fresh_layout, tmp_path):
    copy = tmp_path / "renamed.nemo"
    copy.write_bytes(tiny_nemo["tdt"].read_bytes())
    a = extract.extracted_dir(tiny_nemo["tdt"], fresh_layout, retrier())
    b = extract.extracted_dir(copy, fresh_layout, retrier())
    assert a == b


def test_damaged_member_is_detected_and_reextracted(tiny_nemo, fresh_layout):
    folder = extract.extracted_dir(tiny_nemo["tdt"], fresh_layout, retrier())
    weights = folder / "model_weights.ckpt"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated by a crash or a sync tool
    assert not extract.is_complete(folder)
    again = extract.extracted_dir(tiny_nemo["tdt"], fresh_layout, retrier())
    assert again == folder and extract.is_complete(folder)


def test_truncated_archive_gives_readable_error_and_leaves_nothing(tiny_nemo, fresh_layout,
                                                                    tmp_path):
    broken = tmp_path / "broken.nemo"
    data = tiny_nemo["tdt"].read_bytes()
    broken.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelNotFoundError) as info:
        extract.extracted_dir(broken, fresh_layout, retrier())
    text = info.value.render()
    assert "damaged" in text and str(broken) in text and "download it again" in text
    assert list(fresh_layout.extracted_dir.glob(".partial-*")) == []
    assert [p for p in fresh_layout.extracted_dir.iterdir() if not p.name.startswith(".")] == []


def test_not_a_nemo_archive(fresh_layout, tmp_path):
    import tarfile

    fake = tmp_path / "fake.nemo"
    (tmp_path / "readme.txt").write_text("hello")
    with tarfile.open(fake, "w") as archive:
        archive.add(tmp_path / "readme.txt", arcname="readme.txt")
    with pytest.raises(ModelNotFoundError, match="not a NeMo model"):
        extract.extracted_dir(fake, fresh_layout, retrier())


def test_lock_on_rename_released_after_two_tries(tiny_nemo, fresh_layout, monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger="stt_studio")
    replace = inject(monkeypatch, os, "replace", 2,
                     match=lambda src, dst: ".partial-" in str(src) and Path(dst).parent.name == "extracted")
    folder = extract.extracted_dir(tiny_nemo["ctc"], fresh_layout, retrier())
    assert extract.is_complete(folder) and replace.raised == 2
    tries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(tries) == 2 and "retry 1/3" in tries[0] and "retry 2/3" in tries[1]


def test_persistent_lock_ends_fast_with_lock_message(tiny_nemo, fresh_layout, monkeypatch):
    from stt_studio.models.catalog import resolve
    from stt_studio.models.manager import ModelManager

    inject(monkeypatch, os, "replace", None,
           match=lambda src, dst: ".partial-" in str(src) and Path(dst).parent.name == "extracted")
    manager = ModelManager(fresh_layout, retrier())
    started = time.monotonic()
    with pytest.raises(FileLockedError) as info:
        manager.get(resolve(str(tiny_nemo["ctc"])), "cpu")
    assert time.monotonic() - started < 5  # 0.1 + 0.2 + 0.3 s of backoff, plus work
    text = info.value.render()
    assert "in use" in text and "OneDrive" in text and "antivirus" in text
    assert str(fresh_layout.root) in text
    assert list(fresh_layout.extracted_dir.glob(".partial-*")) == []  # staging cleaned up


def test_permission_denied_is_not_retried(tiny_nemo, fresh_layout, monkeypatch):
    from stt_studio.models.catalog import resolve
    from stt_studio.models.manager import ModelManager

    replace = inject(monkeypatch, os, "replace", None, make_error=denied_error,
                     match=lambda src, dst: ".partial-" in str(src))
    with pytest.raises(PermissionDeniedError) as info:
        ModelManager(fresh_layout, retrier()).get(resolve(str(tiny_nemo["ctc"])), "cpu")
    assert replace.raised == 1
    assert "chmod" in info.value.render() and "--cache-dir" in info.value.render()


_RACE = """
import sys, time
from pathlib import Path
from stt_studio.cache import prepare_cache
from stt_studio.models import extract
from stt_studio.retry import Retrier
layout = prepare_cache(Path(sys.argv[1]))
calls = []
original = extract._unpack
def slow_unpack(src, dest, retrier):
    calls.append(1)
    time.sleep(0.5)  # widen the window in which the other process could interfere
    return original(src, dest, retrier)
extract._unpack = slow_unpack
folder = extract.extracted_dir(Path(sys.argv[2]), layout, Retrier())
print(len(calls), folder, extract.is_complete(folder))
"""


def test_two_processes_extract_the_same_model_once(tiny_nemo, tmp_path):
    cache = tmp_path / "shared-cache"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    procs = [subprocess.Popen([sys.executable, "-c", _RACE, str(cache), str(tiny_nemo["tdt"])],
                              stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(int(o[0]) for o in outputs) == [0, 1]  # exactly one extracted
    assert outputs[0][1] == outputs[1][1] and all(o[2] == "True" for o in outputs)


@pytest.mark.fault("concurrency", "another studio holds the model's cache entry and hangs",
                   "the wait is shown while it lasts and ends after a bound with a readable "
                   "lock message; once the other process is gone the load works")
def test_waiting_on_another_process_is_bounded_and_explained(tiny_nemo, fresh_layout,
                                                             monkeypatch, caplog):
    """A studio that hangs while holding the cache entry's lock cannot hang us."""
    sha = extract.content_hash(tiny_nemo["ctc"], fresh_layout, retrier())
    lock_path = fresh_layout.locks_dir / f"{sha[:32]}.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from filelock import FileLock\n"
         "with FileLock(sys.argv[1]):\n print('held', flush=True); time.sleep(30)",
         str(lock_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(extract, "LOCK_POLL_S", 0.2)
        monkeypatch.setattr(extract, "LOCK_TIMEOUT_S", 1.0)
        caplog.set_level(logging.INFO, logger="stt_studio")
        started = time.monotonic()
        events = []
        with progress.job(events.append), pytest.raises(FileLockedError) as info:
            extract.extracted_dir(tiny_nemo["ctc"], fresh_layout, retrier())
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    assert "another stt-studio process" in info.value.render()
    assert str(lock_path) in info.value.render()
    assert any("waiting for another" in r.getMessage() for r in caplog.records)
    # the wait reaches the running job (the UI's status box) as typed notes
    waits = [e.note for e in events if e.note is not None and e.note.kind is NoteKind.WAITING]
    assert waits and "another stt-studio process" in waits[0].text
    # once the other process is gone, the same call succeeds
    assert extract.is_complete(extract.extracted_dir(tiny_nemo["ctc"], fresh_layout, retrier()))
