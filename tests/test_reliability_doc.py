"""docs/RELIABILITY.md says exactly what the fault tests test, and that they passed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.reliability import Row, drift, parse, render

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


def test_the_summary_lines_are_the_rows_counted():
    """A hand edit of a result or a total shows: the document is what its rows render to."""
    text = DOC.read_text("utf-8")
    rows, results = parse(text)
    dated = re.compile(r"^Last run: \d{4}-\d{2}-\d{2} ", re.MULTILINE)
    assert dated.sub("Last run: ", render(rows, results)) == dated.sub("Last run: ", text)


# -- a run holds the document to what its fault tests did -------------------------------------

ROWS = {
    "tests/t.py::test_ok": Row("locks", "a lock", "retried", "tests/t.py::test_ok"),
    "tests/t.py::test_other": Row("output", "disk full", "said", "tests/t.py::test_other"),
}


def test_drift_compares_only_the_tests_that_ran(tmp_path):
    doc = tmp_path / "RELIABILITY.md"
    doc.write_text(render(list(ROWS.values()), {t: "passed" for t in ROWS}), "utf-8")
    assert drift(doc, ROWS, {"tests/t.py::test_ok": "passed"}) == []
    assert drift(doc, ROWS, {}) == []
    assert drift(doc, ROWS, {"tests/t.py::test_ok": "skipped"}) == [
        "tests/t.py::test_ok: the document says passed, this run skipped"]
    moved = {**ROWS, "tests/t.py::test_ok": Row("locks", "a lock", "gives up",
                                                "tests/t.py::test_ok")}
    (line,) = drift(doc, moved, {"tests/t.py::test_ok": "passed"})
    assert line.startswith("tests/t.py::test_ok: the document's row is not the test's marker")
    new = {**ROWS, "tests/t.py::test_new": Row("load", "x", "y", "tests/t.py::test_new")}
    assert drift(doc, new, {"tests/t.py::test_new": "passed"}) == [
        "tests/t.py::test_new: not in the document (this run: passed)"]


PLAYGROUND_TESTS = """
import pytest

@pytest.mark.fault("locks", "a lock", "retried")
def test_ok():
    pass

@pytest.mark.fault("output", "disk full", "said")
def test_other():
    pass
"""


def _run_playground(tmp_path: Path, doc_results: dict[str, str], *args: str,
                    ) -> subprocess.CompletedProcess[str]:
    """pytest on two fault tests of its own, against a docs/RELIABILITY.md of its own."""
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests" / "t.py").write_text(PLAYGROUND_TESTS, "utf-8")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.support.reliability"]\n',
                                          "utf-8")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    fault(area, fault, expect): a row\n", "utf-8")
    (tmp_path / "docs").mkdir(exist_ok=True)
    (tmp_path / "docs" / "RELIABILITY.md").write_text(
        render(list(ROWS.values()), doc_results), "utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers",
         "tests/t.py", *args], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120)


@pytest.mark.parametrize("workers", [
    pytest.param((), id="one-process"),
    pytest.param(("-p", "xdist", "-n", "1"), id="xdist"),  # how `make test` runs
])
def test_a_run_fails_where_the_document_says_otherwise_of_a_test_it_ran(tmp_path, workers):
    if workers:
        pytest.importorskip("xdist")
    ran = _run_playground(tmp_path, {"tests/t.py::test_ok": "failed",
                                     "tests/t.py::test_other": "failed"}, "-k", "test_ok",
                          *workers)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "1 passed" in ran.stdout  # (xdist does not count the deselected one)
    assert "disagrees with this run" in ran.stdout
    assert "tests/t.py::test_ok: the document says failed, this run passed" in ran.stdout
    assert "test_other" not in ran.stdout.split("disagrees with this run")[1]  # it did not run

