"""docs/RELIABILITY.md says exactly what the fault tests test, and that they passed."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT
from tests.support.reliability import Row, parse, render

DOC = ROOT / "docs" / "RELIABILITY.md"
MIN_FAULTS = 40


def _collected_rows(tmp_path) -> list[Row]:
    out = tmp_path / "rows.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         f"--reliability-rows={out}", "tests"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [Row(*key) for key in json.loads(out.read_text("utf-8"))]


def test_the_document_lists_every_fault_test_and_nothing_else(tmp_path):
    documented, results = parse(DOC.read_text("utf-8"))
    collected = _collected_rows(tmp_path)
    assert len(collected) >= MIN_FAULTS
    missing = sorted(set(r.key() for r in collected) - set(r.key() for r in documented))
    stale = sorted(set(r.key() for r in documented) - set(r.key() for r in collected))
    assert not missing and not stale, (
        "docs/RELIABILITY.md is out of date: run `make reliability`\n"
        f"missing: {missing[:5]}\nstale: {stale[:5]}")
    assert {t: o for t, o in results.items() if o != "passed"} == {}


def test_rendering_round_trips_and_escapes_pipes():
    rows = [Row("locks", "WinError 5 | on rename", "retried", "tests/x.py::t[5|move]"),
            Row("bad input", "empty file", "AudioError", "tests/y.py::u")]
    results = {"tests/x.py::t[5|move]": "passed", "tests/y.py::u": "failed"}
    text = render(rows, results)
    assert "2 faults: 1 failed, 1 passed" in text
    back, back_results = parse(text)
    assert sorted(r.key() for r in back) == sorted(r.key() for r in rows)
    assert back_results == results
