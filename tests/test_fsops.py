"""File operations that survive locks and never leave half-written files."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from stt_studio.fsops import RobustTemporaryDirectory, remove_tree, write_text_atomic
from stt_studio.retry import Retrier, RetryPolicy
from tests.support.faults import disk_full_error, inject


def fast() -> Retrier:
    return Retrier(RetryPolicy((0.01, 0.01, 0.01)), sleep=lambda _s: None)


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "out.srt"
    write_text_atomic(target, "one", fast())
    write_text_atomic(target, "two", fast())
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["out.srt"]


def test_disk_full_keeps_old_file_and_leaves_no_partial(tmp_path, monkeypatch):
    target = tmp_path / "out.srt"
    target.write_text("previous transcript")
    inject(monkeypatch, os, "fsync", None, make_error=lambda *_: disk_full_error(target))
    with pytest.raises(OSError) as info:
        write_text_atomic(target, "new transcript", fast())
    assert info.value.errno == 28
    assert target.read_text() == "previous transcript"
    assert [p.name for p in tmp_path.iterdir()] == ["out.srt"]


def test_rename_locked_twice_then_succeeds(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    flaky = inject(monkeypatch, os, "replace", 2)
    write_text_atomic(target, "text", fast())
    assert target.read_text() == "text" and flaky.raised == 2


def test_remove_tree_leaves_locked_folder_and_says_so(tmp_path, monkeypatch, caplog):
    folder = tmp_path / "leftover"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "weights.ckpt").write_text("x")
    caplog.set_level(logging.WARNING, logger="stt_studio")
    inject(monkeypatch, shutil, "rmtree", None)
    assert remove_tree(folder, fast()) is False
    assert folder.exists()
    assert any("left behind" in r.getMessage() and str(folder) in r.getMessage()
               for r in caplog.records)
    monkeypatch.undo()
    assert remove_tree(folder, fast()) is True and not folder.exists()
    assert remove_tree(folder, fast()) is True  # already gone is fine


def test_robust_temporary_directory_cleanup_never_raises(tmp_path, monkeypatch):
    with RobustTemporaryDirectory(dir=tmp_path, retrier=fast()) as name:
        Path(name, "manifest.json").write_text("{}")
        inject(monkeypatch, shutil, "rmtree", None)
    assert Path(name).exists()  # left behind, but the with-block's work survived
    monkeypatch.undo()
    with RobustTemporaryDirectory(dir=tmp_path, retrier=fast()) as name2:
        pass
    assert not Path(name2).exists()
    assert Path(name).name.startswith("stt-studio-")
