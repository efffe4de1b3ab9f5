"""The code follows the project's ruff rule set and type-checks strictly (pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean():
    done = run(str(BIN / "ruff"), "check", "src", "tests", "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def test_src_type_checks_strictly():
    done = run(str(BIN / "mypy"))  # settings in [tool.mypy]: strict, files = src
    assert done.returncode == 0, done.stdout + done.stderr
