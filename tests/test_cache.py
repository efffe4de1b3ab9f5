"""prepare_cache: folders created, every library's cache and temp pointed inside."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from stt_studio.cache import CacheLayout, prepare_cache

VARS = ("TORCH_HOME", "HF_HOME", "HF_HUB_CACHE", "NEMO_CACHE_DIR", "TMPDIR", "TEMP", "TMP",
        "XDG_CACHE_HOME", "MPLCONFIGDIR", "NUMBA_CACHE_DIR")


@pytest.fixture()
def restore_process_state(monkeypatch):
    """The session's own cache relies on these: put them back after the test."""
    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)
    for name in VARS:
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)


def test_prepare_cache_points_everything_inside(tmp_path, restore_process_state):
    root = tmp_path / "my cache"  # a space in the path must not matter
    layout = prepare_cache(root)
    assert layout.root == root.resolve()
    for folder in (layout.root, layout.tmp_dir, layout.hf_hub_cache, layout.nemo_cache,
                   layout.torch_home, layout.extracted_dir, layout.locks_dir, layout.xdg_cache):
        assert folder.is_dir(), folder
        assert folder.is_relative_to(layout.root)
    assert os.environ["TORCH_HOME"] == str(layout.root / "torch")
    assert os.environ["HF_HOME"] == str(layout.root / "huggingface")
    assert os.environ["HF_HUB_CACHE"] == str(layout.root / "huggingface" / "hub")
    assert os.environ["NEMO_CACHE_DIR"] == str(layout.root / "nemo")
    for name in ("TMPDIR", "TEMP", "TMP"):
        assert os.environ[name] == str(layout.root / "tmp")
    for name in VARS:
        assert Path(os.environ[name]).is_relative_to(layout.root), name
    assert tempfile.tempdir == str(layout.tmp_dir)
    assert Path(tempfile.gettempdir()) == layout.tmp_dir
    with tempfile.TemporaryDirectory() as scratch:
        assert Path(scratch).parent == layout.tmp_dir


def test_prepare_cache_is_idempotent(tmp_path, restore_process_state):
    first = prepare_cache(tmp_path / "c")
    (first.tmp_dir / "keep.txt").write_text("x")
    second = prepare_cache(tmp_path / "c")
    assert first == second
    assert (second.tmp_dir / "keep.txt").read_text() == "x"


def test_env_matches_the_layout(tmp_path):
    layout = CacheLayout(tmp_path)
    env = layout.env()
    assert set(env) == set(VARS)
    assert env["TMPDIR"] == env["TEMP"] == env["TMP"] == str(tmp_path / "tmp")


def test_prepare_cache_warns_when_heavy_modules_came_first(tmp_path, restore_process_state,
                                                           caplog, monkeypatch):
    import sys
    import types

    monkeypatch.setitem(sys.modules, "torch", sys.modules.get("torch") or types.ModuleType("torch"))
    with caplog.at_level("WARNING", logger="stt_studio.cache"):
        prepare_cache(tmp_path / "late")
    assert any("torch" in r.getMessage() and "before the cache" in r.getMessage()
               for r in caplog.records)


def test_prepare_cache_under_a_file_raises_oserror(tmp_path, restore_process_state):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    before = dict(os.environ)
    with pytest.raises(OSError):
        prepare_cache(blocker / "cache")
    # nothing was pointed at the half-made cache
    assert {k: os.environ.get(k) for k in VARS} == {k: before.get(k) for k in VARS}


def test_session_cache_is_in_effect(session_layout):
    # conftest prepared it at import time; the rest of the suite relies on it
    assert Path(tempfile.gettempdir()).resolve().is_relative_to(session_layout.root)
    assert os.environ["HF_HUB_CACHE"] == str(session_layout.hf_hub_cache)
