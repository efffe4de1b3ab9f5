"""Loading: once per process, serialised, retried on locks, never losing a built model."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time

import pytest

from stt_studio.doctor import _leftovers
from stt_studio.engines import nemo as nemo_engine
from stt_studio.errors import FileLockedError, FileSystemError, UnexpectedError
from stt_studio.models.catalog import resolve
from stt_studio.models.manager import ModelManager
from stt_studio.retry import Retrier, RetryPolicy
from tests.conftest import make_studio
from tests.support.faults import count_calls, disk_full_error, inject

pytestmark = pytest.mark.slow


def test_each_model_loads_once_and_unload_frees_it(tiny_nemo, fresh_layout, monkeypatch):
    load = count_calls(monkeypatch, nemo_engine.NemoEngine, "load")
    manager = ModelManager(fresh_layout, Retrier())
    spec = resolve(str(tiny_nemo["tdt"]))
    first = manager.get(spec, "cpu")
    assert manager.get(spec, "auto") is first  # auto resolves to cpu here
    assert len(load) == 1
    assert [(e.name, e.device) for e in manager.loaded()] == [(spec.name, "cpu")]
    assert manager.unload(spec.name) and manager.loaded() == []
    assert first.model is None
    manager.get(spec, "cpu")
    assert len(load) == 2


def test_concurrent_loads_are_serialised_into_one(tiny_nemo, fresh_layout, monkeypatch):
    load = count_calls(monkeypatch, nemo_engine.NemoEngine, "load")
    manager = ModelManager(fresh_layout, Retrier())
    spec = resolve(str(tiny_nemo["ctc"]))
    results, errors = [], []

    def worker() -> None:
        try:
            results.append(manager.get(spec, "cpu"))
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(results) == 3
    assert all(r is results[0] for r in results) and len(load) == 1


def test_weights_locked_twice_then_released(tiny_nemo, fresh_layout, monkeypatch, caplog):
    import torch

    caplog.set_level(logging.WARNING, logger="stt_studio")
    make_studio(fresh_layout).load(str(tiny_nemo["tdt"]))  # extract first
    torch_load = inject(monkeypatch, torch, "load", 2)
    studio = make_studio(fresh_layout)
    loaded = studio.load(str(tiny_nemo["tdt"]))
    assert loaded.model is not None and torch_load.raised == 2
    tries = [r.getMessage() for r in caplog.records if "file locked" in r.getMessage()]
    assert len(tries) == 2


def test_weights_locked_for_good_gives_lock_message(tiny_nemo, fresh_layout, monkeypatch):
    import torch

    make_studio(fresh_layout).load(str(tiny_nemo["tdt"]))
    inject(monkeypatch, torch, "load", None)
    studio = make_studio(fresh_layout, retry=RetryPolicy((0.1, 0.2, 0.3), max_wait_s=3))
    started = time.monotonic()
    with pytest.raises(FileLockedError) as info:
        studio.load(str(tiny_nemo["tdt"]))
    assert time.monotonic() - started < 10
    text = info.value.render()
    for phrase in ("in use", "antivirus", "OneDrive", "Exclude the cache folder",
                   str(fresh_layout.root)):
        assert phrase in text


def test_cleanup_failures_never_lose_model_or_transcript(tiny_nemo, fresh_layout, monkeypatch,
                                                         jfk, caplog):
    """Every delete fails with a lock: load and transcription still succeed."""
    caplog.set_level(logging.WARNING, logger="stt_studio")
    monkeypatch.setattr(tempfile, "tempdir", str(fresh_layout.tmp_dir))  # as prepare_cache does
    for target, name in ((shutil, "rmtree"), (os, "rmdir"), (os, "unlink")):
        inject(monkeypatch, target, name, None,
               match=lambda p, *a, **k: str(fresh_layout.root) in str(p))
    studio = make_studio(fresh_layout, retry=RetryPolicy((0.01, 0.01, 0.01)))
    result = studio.transcribe_file(jfk, str(tiny_nemo["ctc"]))
    assert result.transcript.duration_s == pytest.approx(11.0, abs=0.01)
    assert any("left behind" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    check = _leftovers(fresh_layout, Retrier(), clean=False)
    assert check.status == "warn" and "stt-studio-" in check.detail
    assert _leftovers(fresh_layout, Retrier(), clean=True).status == "ok"
    assert list(fresh_layout.tmp_dir.iterdir()) == []


def test_disk_full_during_extraction_is_a_filesystem_error(tiny_nemo, fresh_layout,
                                                           monkeypatch):
    import tarfile

    inject(monkeypatch, tarfile.TarFile, "extract", None,
           make_error=lambda *_: disk_full_error(fresh_layout.extracted_dir))
    with pytest.raises(FileSystemError) as info:
        make_studio(fresh_layout).load(str(tiny_nemo["ctc"]))
    text = info.value.render()
    assert "disk is full" in text and "models rm" in text
    assert list(fresh_layout.extracted_dir.glob(".partial-*")) == []


def test_engine_failure_is_an_unexpected_error_with_paths(tiny_nemo, fresh_layout, monkeypatch):
    from nemo.collections.asr.models import ASRModel

    def broken(*args, **kwargs):
        raise KeyError("encoder")

    monkeypatch.setattr(ASRModel, "restore_from", broken)
    with pytest.raises(UnexpectedError) as info:
        make_studio(fresh_layout).load(str(tiny_nemo["ctc"]))
    text = info.value.render()
    assert "could not build" in text and "KeyError" in text and "extracted" in text
