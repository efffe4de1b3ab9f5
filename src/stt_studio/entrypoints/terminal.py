"""How a batch looks on the terminal: progress while it runs, a summary at the end.

On a terminal (stderr is a TTY) ``rich`` draws two bars: the whole batch
(files and hours of audio done, ETA) and the file in progress (audio
position, from the TRANSCRIBING stage's fraction); log lines and error
reports scroll above them. Anywhere else (a pipe, a log file, CI) the same
news arrives as plain log lines. Either way the batch ends with a summary
table: file, duration, time, ×real time, status.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from stt_studio.domain import Progress, ProgressEvent, Stage

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

log = logging.getLogger("stt_studio.cli")

#: weight of a file whose length is unknown, when no other length is known either
_UNKNOWN_WEIGHT_S = 60.0


class RowStatus(str, Enum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_RUN = "not run"


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One input of the batch as the summary shows it."""

    file: str
    status: RowStatus
    duration_s: float | None = None
    elapsed_s: float | None = None
    reason: str = ""

    @property
    def speed_x(self) -> float | None:
        if self.status is not RowStatus.DONE or not self.duration_s or not self.elapsed_s:
            return None
        return self.duration_s / self.elapsed_s

    @property
    def status_text(self) -> str:
        if self.status is RowStatus.FAILED:
            return f"failed: {self.reason}" if self.reason else "failed"
        if self.status is RowStatus.SKIPPED:
            return f"skipped: {self.reason or 'already done'}"
        if self.status is RowStatus.NOT_RUN:
            return f"not run ({self.reason or 'interrupted'})"
        return f"done; {self.reason}" if self.reason else "done"


def clock(seconds: float | None) -> str:
    """``0:05``, ``12:30``, ``1:02:03``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _cells(row: SummaryRow) -> tuple[str, str, str, str, str]:
    elapsed = f"{row.elapsed_s:.1f} s" if row.elapsed_s is not None else "-"
    speed = f"{row.speed_x:.1f}×" if row.speed_x is not None else "-"
    duration = "-" if row.status is RowStatus.SKIPPED else clock(row.duration_s)
    return row.file, duration, elapsed, speed, row.status_text


HEADERS = ("FILE", "DURATION", "TIME", "×REAL TIME", "STATUS")


def plain_table(rows: Sequence[SummaryRow]) -> str:
    """The summary as aligned text (numbers right-aligned)."""
    table = [HEADERS, *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    lines = []
    for line in table:
        left = line[0].ljust(widths[0])
        numbers = "  ".join(cell.rjust(w) for cell, w in zip(line[1:4], widths[1:4]))
        lines.append(f"{left}  {numbers}  {line[4]}")
    return "\n".join(lines)


def totals_line(rows: Sequence[SummaryRow]) -> str:
    """``3 done, 1 failed, 2 skipped (already done), 4 not run``."""
    counts = {status: sum(r.status is status for r in rows) for status in RowStatus}
    parts = [f"{counts[RowStatus.DONE]} done"]
    if counts[RowStatus.FAILED]:
        parts.append(f"{counts[RowStatus.FAILED]} failed")
    if counts[RowStatus.SKIPPED]:
        parts.append(f"{counts[RowStatus.SKIPPED]} skipped (already done)")
    if counts[RowStatus.NOT_RUN]:
        parts.append(f"{counts[RowStatus.NOT_RUN]} not run")
    done = [r for r in rows if r.status is RowStatus.DONE]
    audio_s = sum(r.duration_s or 0.0 for r in done)
    work_s = sum(r.elapsed_s or 0.0 for r in done)
    tail = f": {clock(audio_s)} of audio in {work_s:.1f} s" if done else ""
    return ", ".join(parts) + tail


class BatchDisplay:
    """Plain log lines (not a terminal); the base of :class:`RichDisplay`.

    ``durations_s``: the length of each file to run (None when unknown), in order.
    """

    def __init__(self, durations_s: Sequence[float | None], *, quiet: bool = False,
                 stream: TextIO | None = None) -> None:
        self.durations_s = list(durations_s)
        self.quiet = quiet
        self.stream = stream
        known = [d for d in self.durations_s if d]
        self._fallback_s = sum(known) / len(known) if known else _UNKNOWN_WEIGHT_S
        self.files_done = 0
        self.weight_done_s = 0.0
        self.audio_done_s = 0.0
        self.started = 0

    @property
    def out(self) -> TextIO:
        return self.stream or sys.stderr

    def weight(self, duration_s: float | None) -> float:
        """How much of the batch a file is (its length, or a typical one when unknown)."""
        return duration_s if duration_s else self._fallback_s

    @property
    def total_audio_s(self) -> float:
        return sum(d or 0.0 for d in self.durations_s)

    def __enter__(self) -> BatchDisplay:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop drawing (idempotent); what is printed afterwards is plain."""

    def progress_for(self, label: str, duration_s: float | None) -> Progress:
        """A file starts: its progress callback."""
        self.started += 1
        log.info("[%d/%d] %s (%s of audio)", self.started, len(self.durations_s), label,
                 clock(duration_s))
        last: list[tuple[Stage | None, str]] = []

        def progress(event: ProgressEvent) -> None:
            if event.stage is None:  # a note: it was logged where it happened
                return
            if last and last[-1] == (event.stage, event.detail):
                return
            last[:] = [(event.stage, event.detail)]
            log.info("%s: %s", label, event.text)

        return progress

    def file_finished(self, duration_s: float | None) -> None:
        self.files_done += 1
        self.weight_done_s += self.weight(duration_s)
        self.audio_done_s += duration_s or 0.0

    def summary(self, rows: Sequence[SummaryRow]) -> None:
        if self.quiet or not rows:
            return
        print(f"\n{plain_table(rows)}\n{totals_line(rows)}", file=self.out, flush=True)


class _ConsoleHandler(logging.Handler):
    """Log records printed above the live bars, not through them."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.print(self.format(record), markup=False, highlight=False,
                               soft_wrap=True)
        except Exception:  # noqa: BLE001 - logging must never break the batch
            self.handleError(record)


class RichDisplay(BatchDisplay):
    """Live bars on a terminal: the batch (files, hours, ETA) and the current file."""

    def __init__(self, durations_s: Sequence[float | None], *, quiet: bool = False,
                 console: Console | None = None) -> None:
        from rich.console import Console

        super().__init__(durations_s, quiet=quiet)
        self.console = console or Console(stderr=True)
        self._bars: RichProgress | None = None
        self._overall: TaskID | None = None
        self._current: TaskID | None = None
        self._current_weight_s = 0.0
        self._saved_handlers: list[logging.Handler] = []

    def __enter__(self) -> RichDisplay:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self._bars = Progress(
            TextColumn("{task.description}", markup=False), BarColumn(),
            TextColumn("{task.fields[info]}", markup=False), TimeRemainingColumn(),
            # stdout is only drawn through the bars when it is the same screen: a
            # transcript piped to a file must reach the file
            console=self.console, redirect_stdout=_is_tty(sys.stdout), redirect_stderr=True,
        )
        total = sum(self.weight(d) for d in self.durations_s) or 1.0
        self._overall = self._bars.add_task("batch", total=total, info=self._overall_info())
        self._current = self._bars.add_task("", total=1.0, visible=False, info="")
        root = logging.getLogger()
        self._saved_handlers = root.handlers[:]
        handler = _ConsoleHandler(self.console)
        if self._saved_handlers and self._saved_handlers[0].formatter:
            handler.setFormatter(self._saved_handlers[0].formatter)
        root.handlers[:] = [handler]
        self._bars.start()
        return self

    def close(self) -> None:
        if self._bars is None:
            return
        bars, self._bars = self._bars, None
        try:
            if self._current is not None:
                bars.update(self._current, visible=False)
            bars.stop()
        finally:
            logging.getLogger().handlers[:] = self._saved_handlers

    def _overall_info(self, position_s: float = 0.0) -> str:
        files = f"{self.files_done}/{len(self.durations_s)} files"
        audio = f"{clock(self.audio_done_s + position_s)}/{clock(self.total_audio_s)} audio"
        return f"{files} · {audio}"

    def progress_for(self, label: str, duration_s: float | None) -> Progress:
        self.started += 1
        weight_s = self.weight(duration_s)
        self._current_weight_s = weight_s
        if self._bars is not None and self._current is not None:
            self._bars.reset(self._current, total=weight_s, completed=0, visible=True,
                             description=label, info=f"0:00 of {clock(duration_s)}")

        def progress(event: ProgressEvent) -> None:
            if event.stage is None or self._bars is None or self._current is None:
                return
            fraction = event.fraction if event.stage is Stage.TRANSCRIBING else None
            if fraction is None:
                self._bars.update(self._current, info=event.text)
                return
            fraction = min(max(fraction, 0.0), 1.0)
            position_s = fraction * (duration_s or 0.0)
            self._bars.update(self._current, completed=fraction * weight_s,
                              info=f"{clock(position_s)} of {clock(duration_s)}")
            if self._overall is not None:
                self._bars.update(self._overall,
                                  completed=self.weight_done_s + fraction * weight_s,
                                  info=self._overall_info(position_s))

        return progress

    def file_finished(self, duration_s: float | None) -> None:
        super().file_finished(duration_s)
        if self._bars is not None and self._overall is not None:
            self._bars.update(self._overall, completed=self.weight_done_s,
                              info=self._overall_info())

    def summary(self, rows: Sequence[SummaryRow]) -> None:
        self.close()
        if self.quiet or not rows:
            return
        from rich.table import Table
        from rich.text import Text

        table = Table(title="stt-studio transcribe", title_justify="left")
        for index, header in enumerate(HEADERS):
            table.add_column(header.lower() if index else "file",
                             justify="right" if 1 <= index <= 3 else "left",
                             overflow="fold")
        styles = {RowStatus.DONE: "green", RowStatus.FAILED: "red",
                  RowStatus.SKIPPED: "dim", RowStatus.NOT_RUN: "yellow"}
        for row in rows:  # Text: a file named "[red]x.wav" is not markup
            table.add_row(*(Text(cell) for cell in _cells(row)), style=styles[row.status])
        self.console.print(table, markup=False, highlight=False)
        self.console.print(totals_line(rows), markup=False, highlight=False)


def _is_tty(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def open_display(durations_s: Sequence[float | None], *, quiet: bool = False,
                 tty: bool | None = None) -> BatchDisplay:
    """Bars when stderr is a terminal (``tty`` overrides the check), plain lines otherwise."""
    if tty is None:
        tty = _is_tty(sys.stderr)
    if tty and not quiet:
        return RichDisplay(durations_s)
    return BatchDisplay(durations_s, quiet=quiet)
