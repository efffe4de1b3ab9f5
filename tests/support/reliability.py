"""The fault matrix, collected from the tests themselves into docs/RELIABILITY.md.

Every fault test carries ``@pytest.mark.fault(area, fault, expect)``; ``fault``
and ``expect`` may hold ``{name}`` placeholders filled from the test's
parameters. ``pytest --reliability-report PATH`` writes the matrix with each
test's result (``make reliability``); ``pytest --reliability-rows PATH``
writes only the rows of the collected tests, which is how
``tests/test_reliability_doc.py`` proves the committed document has not
drifted from the tests.

Every other run holds the document to what it saw: each fault test that ran
records its outcome, and at the end the run fails (naming the rows) where
``docs/RELIABILITY.md`` shows another row or another result for that test.
Only the tests that ran are compared, so a run of a few tests, or one
stopped early by ``-x``, is checked on what it did and nothing else.
``--no-reliability-check`` turns this off. Under pytest-xdist the workers
collect, so each test's row travels to the controller with its reports (as a
user property), and the controller alone checks and writes.
"""

from __future__ import annotations

import datetime
import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

AREAS = ("locks", "cache folder", "model files", "concurrency", "output", "bad input", "load",
         "windows paths")
HEADER = """# Reliability: the fault matrix

Each row is a fault stt-studio is built to survive, what the user gets, and the
test that injects it (real files, real processes, faults raised at the OS calls
the studio makes). This file is generated from the tests marked
`@pytest.mark.fault` by `make reliability`; `tests/test_reliability_doc.py`
fails whenever it and the tests disagree, so it cannot drift.
"""


@dataclass(frozen=True, slots=True)
class Row:
    area: str
    fault: str
    expect: str
    test: str

    def key(self) -> tuple[str, str, str, str]:
        return (self.area, self.fault, self.expect, self.test)


class _Keep(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _fill(text: str, params: dict[str, object]) -> str:
    values = _Keep({k: _show(v) for k, v in params.items()})
    return string.Formatter().vformat(text, (), values)


def _show(value: object) -> str:
    if isinstance(value, Path):
        return value.name
    name = getattr(value, "__name__", None)
    return name if isinstance(name, str) else str(value)


def row_of(item: pytest.Item) -> Row | None:
    marker = item.get_closest_marker("fault")
    if marker is None:
        return None
    args = dict(zip(("area", "fault", "expect"), marker.args))
    args.update(marker.kwargs)
    missing = {"area", "fault", "expect"} - set(args)
    if missing:
        raise pytest.UsageError(f"{item.nodeid}: fault marker lacks {', '.join(sorted(missing))}")
    if args["area"] not in AREAS:
        raise pytest.UsageError(f"{item.nodeid}: unknown fault area {args['area']!r}; "
                                f"use one of {', '.join(AREAS)}")
    callspec = getattr(item, "callspec", None)
    params = dict(callspec.params) if callspec is not None else {}
    return Row(str(args["area"]), _fill(str(args["fault"]), params),
               _fill(str(args["expect"]), params), item.nodeid)


#: the committed matrix, relative to the project root
DOC = Path("docs") / "RELIABILITY.md"
#: rows named in the summary of a run that disagrees with the document
MAX_SHOWN = 20
#: the user property that carries a test's row in its reports (to an xdist controller)
ROW_PROPERTY = "reliability_row"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("reliability")
    group.addoption("--reliability-report", metavar="PATH", default=None,
                    help="write the fault matrix with results (docs/RELIABILITY.md)")
    group.addoption("--reliability-rows", metavar="PATH", default=None,
                    help="write the collected fault rows as JSON (no results)")
    group.addoption("--no-reliability-check", action="store_true", default=False,
                    help="do not fail the run when docs/RELIABILITY.md shows other rows or "
                         "results for the fault tests that ran")


class _Collector:
    def __init__(self, report: str | None, rows: str | None,
                 check: Path | None = None, worker: bool = False) -> None:
        self.report = Path(report) if report else None
        self.rows_path = Path(rows) if rows else None
        self.check = check  # the document this run's outcomes are held to
        self.worker = worker  # an xdist worker: collects and runs, the controller judges
        self.rows: dict[str, Row] = {}
        self.results: dict[str, str] = {}
        self.drift: list[str] = []

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            row = row_of(item)
            if row is not None:
                self.rows[item.nodeid] = row
                item.user_properties.append((ROW_PROPERTY, list(row.key())))
        if self.rows_path is not None and not self.worker:
            self.rows_path.write_text(
                json.dumps([r.key() for r in self.rows.values()], indent=1), "utf-8")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid not in self.rows:
            carried = [value for name, value in report.user_properties if name == ROW_PROPERTY]
            if not carried:
                return
            self.rows[report.nodeid] = Row(*carried[0])
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.results[report.nodeid] = report.outcome
        elif report.when == "teardown" and report.failed:
            self.results[report.nodeid] = "failed"

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.worker:
            return
        if self.report is not None and self.rows:
            self.report.write_text(render(list(self.rows.values()), self.results), "utf-8")
        if self.check is not None and self.results:
            self.drift = drift(self.check, self.rows, self.results)
            if self.drift and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.drift:
            return
        terminalreporter.write_sep("=", f"{self.check} disagrees with this run", red=True)
        for line in self.drift[:MAX_SHOWN]:
            terminalreporter.write_line(line)
        if len(self.drift) > MAX_SHOWN:
            terminalreporter.write_line(f"... and {len(self.drift) - MAX_SHOWN} more")
        terminalreporter.write_line("regenerate it from the tests: `make reliability`")


def drift(doc: Path, rows: dict[str, Row], results: dict[str, str]) -> list[str]:
    """How ``doc`` differs from what this run's fault tests are and did, a line a test.

    Only the tests with a result in this run are compared; the rest of the
    document is left to the runs that run them.
    """
    try:
        documented, said = parse(doc.read_text("utf-8"))
    except OSError as exc:
        return [f"cannot read {doc}: {exc}"]
    by_test = {r.test: r for r in documented}
    lines = []
    for test in sorted(results):
        row = rows.get(test)
        if row is None:
            continue
        written = by_test.get(test)
        if written is None:
            lines.append(f"{test}: not in the document (this run: {results[test]})")
        elif written.key() != row.key():
            lines.append(f"{test}: the document's row is not the test's marker: "
                         f"documented {written.key()[:3]}, marked {row.key()[:3]}")
        elif said.get(test) != results[test]:
            lines.append(f"{test}: the document says {said.get(test)}, this run "
                         f"{results[test]}")
    return lines


def pytest_configure(config: pytest.Config) -> None:
    report = config.getoption("--reliability-report")
    rows = config.getoption("--reliability-rows")
    check = None
    if not report and not config.getoption("--no-reliability-check"):
        check = Path(config.rootpath) / DOC
    if report or rows or check is not None:
        worker = hasattr(config, "workerinput")
        config.pluginmanager.register(_Collector(report, rows, check, worker),
                                      "stt-studio-reliability")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(rows: list[Row], results: dict[str, str]) -> str:
    outcomes = [results.get(r.test, "not run") for r in rows]
    totals = {o: outcomes.count(o) for o in sorted(set(outcomes))}
    lines = [HEADER, f"Last run: {datetime.date.today().isoformat()} — {len(rows)} faults: "
             + ", ".join(f"{n} {o}" for o, n in totals.items()) + ".", ""]
    lines.append("| area | faults | passed |")
    lines.append("|---|---|---|")
    for area in AREAS:
        mine = [r for r in rows if r.area == area]
        if mine:
            passed = sum(results.get(r.test) == "passed" for r in mine)
            lines.append(f"| {area} | {len(mine)} | {passed} |")
    for area in AREAS:
        mine = sorted((r for r in rows if r.area == area), key=lambda r: r.test)
        if not mine:
            continue
        lines += ["", f"## {area.capitalize()} ({len(mine)})", "",
                  "| fault | expected behaviour | test | result |", "|---|---|---|---|"]
        for r in mine:
            lines.append(f"| {_cell(r.fault)} | {_cell(r.expect)} | `{_cell(r.test)}` | "
                         f"{results.get(r.test, 'not run')} |")
    return "\n".join(lines) + "\n"


def parse(text: str) -> tuple[list[Row], dict[str, str]]:
    """Rows and results back out of a rendered document (for the drift test)."""
    rows: list[Row] = []
    results: dict[str, str] = {}
    area = ""
    for line in text.splitlines():
        if line.startswith("## "):
            area = line[3:].rsplit(" (", 1)[0].lower()
            continue
        if not line.startswith("| ") or not area or line.startswith(("| fault |", "|---")):
            continue
        cells = [c.strip().replace("\\|", "|") for c in _split(line)]
        if len(cells) != 4:
            continue
        test = cells[2].strip("`")
        rows.append(Row(area, cells[0], cells[1], test))
        results[test] = cells[3]
    return rows, results


def _split(line: str) -> list[str]:
    """Split a table row on unescaped pipes."""
    cells, current, escaped = [], "", False
    for ch in line.strip()[1:-1]:
        if ch == "|" and not escaped:
            cells.append(current)
            current = ""
        else:
            current += ch
        escaped = ch == "\\" and not escaped
    cells.append(current)
    return cells
