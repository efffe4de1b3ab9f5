"""Running an entrypoint inside the test process without leaking its process-wide set-up."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pytest

from stt_studio.cache import CacheLayout


def keep_process_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo, at the test's end, what an entrypoint sets for its whole process.

    ``prepare_cache`` points TMPDIR, HF_HOME, ... and ``tempfile.tempdir`` at the
    cache it is given, and the CLI sets up logging. A test that runs ``cli.main``
    in-process with its own ``--cache-dir`` would otherwise leave every later test
    in that process (a pytest-xdist worker) on that test's tmp folder.
    """
    for name in CacheLayout(Path("/")).env():
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)
    root, ours = logging.getLogger(), logging.getLogger("stt_studio")
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    for logger in (root, ours):
        monkeypatch.setattr(logger, "level", logger.level)
