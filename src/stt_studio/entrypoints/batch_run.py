"""`stt-studio transcribe` on a batch: runs the plan, shows progress, sums it up.

Outputs of the file in progress are written atomically; on Ctrl-C everything
that file created (outputs, temp files, new folders) is removed, finished files
stay, and the summary names what was not run.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stt_studio import batch
from stt_studio.audio import probe
from stt_studio.domain import Progress, TranscriptionOptions
from stt_studio.entrypoints import terminal
from stt_studio.entrypoints.console import as_studio_error, report
from stt_studio.entrypoints.terminal import RowStatus, SummaryRow
from stt_studio.errors import AudioError
from stt_studio.formats import SubtitleLayout

if TYPE_CHECKING:
    from stt_studio.service import Result, Studio

log = logging.getLogger("stt_studio.cli")

#: the temp names of `fsops.write_text_atomic` (``.partial-<name>-<pid>-<random>``)
PARTIAL_PREFIX = ".partial-"
#: non-media files named one by one before the rest are counted
_NOTES_SHOWN = 20


def say_skipped(work: batch.BatchPlan, formats: Sequence[str]) -> None:
    for path in work.skipped_non_media[:_NOTES_SHOWN]:
        log.info("skipped %s: not an audio or video file", path)
    if len(work.skipped_non_media) > _NOTES_SHOWN:
        log.info("skipped %d more files that are not audio or video",
                 len(work.skipped_non_media) - _NOTES_SHOWN)
    for folder in work.unreadable:
        log.warning("cannot read the folder %s (%s): its files are left out", folder.path,
                    folder.reason)
    for item in work.skipped_existing:
        log.info("skipped %s: already done (%s exist; --overwrite redoes it)", item.source,
                 ", ".join(t.name for t in item.targets(formats)))


def _empty_folder_error(folder: Path, recursive: bool) -> AudioError:
    """A folder input without one audio or video file: said like a bad file."""
    try:
        nested = any(entry.is_dir() for entry in folder.iterdir())
    except OSError:
        nested = False
    hint = nested and not recursive
    return AudioError(
        f"no audio or video files in the folder: {folder}",
        causes=(("Its recordings are in sub-folders, and --recursive was not given",)
                if hint else ()) + (
            "The folder holds other files only, or none",
            "The recordings have an extension that is not audio or video",
        ),
        remedies=(("Add --recursive to include its sub-folders",) if hint else ()) + (
            "Name a recording directly: a file named on the command line is tried whatever "
            "its extension",
        ),
        paths=(folder,),
    )


def _signature(path: Path) -> tuple[int, int, int] | None:
    """What a file is right now (None: absent), to tell whether a write replaced it."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


@dataclass(frozen=True, slots=True)
class _Before:
    """An item's outputs and the folders missing just before its write began."""

    item: batch.BatchItem
    targets: dict[Path, tuple[int, int, int] | None]
    new_folders: tuple[Path, ...]


class BatchRun:
    """Transcribe a plan's items, write their outputs, keep the summary rows."""

    def __init__(self, studio: Studio | None, args: argparse.Namespace, formats: Sequence[str],
                 options: TranscriptionOptions, subtitles: SubtitleLayout,
                 work: batch.BatchPlan) -> None:
        self.studio = studio
        self.args = args
        self.formats = formats
        self.options = options
        self.subtitles = subtitles
        self.work = work
        self.debug = getattr(args, "debug", False)
        self.single = len(args.inputs) == 1 and not Path(args.inputs[0]).is_dir()
        self.rows: dict[Path, SummaryRow] = {
            item.source: SummaryRow(str(item.source), RowStatus.SKIPPED)
            for item in work.skipped_existing}
        self.durations = {item.source: probe.duration_s(item.source) for item in work.items}
        self.started: dict[Path, float] = {}
        self.writing: _Before | None = None
        self.empty_rows: list[SummaryRow] = []

    def run(self) -> int:
        for folder in self.work.empty_folders:
            error = _empty_folder_error(folder, self.args.recursive)
            report(error, subject=str(folder))
            self.empty_rows.append(SummaryRow(str(folder), RowStatus.FAILED,
                                              reason=f"{error.title}: {error.summary}"))
        display = terminal.open_display([self.durations[i.source] for i in self.work.items],
                                        quiet=getattr(self.args, "quiet", False))
        if self.single and self.work.skipped_existing and "txt" in self.formats:
            self._print_existing_text(self.work.skipped_existing[0])
        try:
            with display:
                self._run_items(display)
        except KeyboardInterrupt:
            with _sigint_ignored():  # a second Ctrl-C must not cut the clean-up short
                if self.writing is not None:
                    _discard(self.writing)
                display.close()
                left = self._rows_in_order(interrupted=True)
                missing = sum(r.status is RowStatus.NOT_RUN for r in left)
                print(f"\ninterrupted: {missing} file(s) not run; finished files are kept, "
                      "and the same command finishes the rest", file=sys.stderr)
                display.summary(left)
            return 130
        rows = self._rows_in_order(interrupted=False)
        display.summary(rows)
        failures = sum(r.status is RowStatus.FAILED for r in rows)
        if failures:
            print(f"{failures} of {len(rows)} file(s) failed", file=sys.stderr)
        return 1 if failures else 0

    def _run_items(self, display: terminal.BatchDisplay) -> None:
        if self.studio is None or not self.work.items:
            return
        items = {item.source: item for item in self.work.items}

        def progress_for(path: Path) -> Progress:
            self.started.setdefault(path, time.perf_counter())
            return display.progress_for(str(path), self.durations.get(path))

        outcomes = self.studio.transcribe_many(list(items), self.args.model, self.options,
                                               progress_for)
        try:
            for path, outcome in outcomes:
                item = items[path]
                if isinstance(outcome, Exception):
                    report(outcome, subject=str(path), show_traceback=self.debug)
                    row = self._failed(item, outcome)
                else:
                    row = self._save(item, outcome)
                self.rows[path] = row
                display.file_finished(self.durations.get(path))
        finally:
            closer = getattr(outcomes, "close", None)
            if closer is not None:
                closer()

    def _failed(self, item: batch.BatchItem, exc: BaseException) -> SummaryRow:
        error = as_studio_error(exc)
        since = self.started.get(item.source)
        return SummaryRow(str(item.source), RowStatus.FAILED, self.durations.get(item.source),
                          time.perf_counter() - since if since is not None else None,
                          f"{error.title}: {error.summary}")

    def _save(self, item: batch.BatchItem, result: Result) -> SummaryRow:
        assert self.studio is not None
        transcript = result.transcript
        self.writing = _Before(item, {t: _signature(t) for t in item.targets(self.formats)},
                               _missing_folders(item.output_folder, self.args.output_dir))
        try:
            written = self.studio.write_outputs(transcript, item.output_folder, item.stem,
                                                self.formats, layout=self.subtitles)
        except Exception as exc:  # noqa: BLE001 - the transcript is never lost
            self.writing = None
            if self.work.total > 1:
                print(f"# {item.source}")
            print(transcript.text, flush=True)
            report(exc, subject=str(item.source), show_traceback=self.debug)
            print(f"The transcript of {item.source} was printed to standard output instead.\n",
                  file=sys.stderr)
            return self._failed(item, exc)
        self.writing = None
        if self.single and "txt" in self.formats:
            print(transcript.text, flush=True)
        log.info("%s: %.1f s of audio in %.1f s (%.1fx real time, %s on %s) -> %s",
                 item.source, transcript.duration_s, result.elapsed_s, result.speed_x,
                 transcript.model, result.device, ", ".join(map(str, written)))
        return SummaryRow(str(item.source), RowStatus.DONE, transcript.duration_s,
                          result.elapsed_s, reason=transcript.unheard_summary)

    def _print_existing_text(self, item: batch.BatchItem) -> None:
        """A single input already done: its text, as a fresh run would print it."""
        try:
            print(item.targets(("txt",))[0].read_text("utf-8").rstrip("\n"), flush=True)
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("cannot read %s: %s", item.targets(("txt",))[0], exc)

    def _rows_in_order(self, *, interrupted: bool) -> list[SummaryRow]:
        """Empty folders, skipped inputs, then the batch in its order; unfinished: 'not run'."""
        rows = self.empty_rows + [self.rows[i.source] for i in self.work.skipped_existing]
        for item in self.work.items:
            row = self.rows.get(item.source)
            if row is None:
                row = SummaryRow(str(item.source), RowStatus.NOT_RUN,
                                 self.durations.get(item.source),
                                 reason="interrupted" if interrupted else "no result")
            rows.append(row)
        return rows


def _missing_folders(folder: Path, top: Path) -> tuple[Path, ...]:
    """``folder`` and its parents up to (not including) ``top`` that do not exist yet."""
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate == top or candidate.exists():
            break
        missing.append(candidate)
    return tuple(missing)


def _discard(before: _Before) -> None:
    """An interrupted write leaves nothing: outputs it made, its temp files, new folders."""
    for target, signature in before.targets.items():
        if _signature(target) != signature:
            try:
                target.unlink()
            except OSError as exc:
                log.warning("could not remove the unfinished output %s: %s", target, exc)
    stems = tuple(f"{PARTIAL_PREFIX}{t.name}-{os.getpid()}-" for t in before.targets)
    try:
        leftovers = [p for p in before.item.output_folder.iterdir() if p.name.startswith(stems)]
    except OSError:
        leftovers = []
    for leftover in leftovers:
        try:
            leftover.unlink()
        except OSError as exc:
            log.warning("could not remove the temp file %s: %s", leftover, exc)
    for folder in before.new_folders:  # deepest first; only if still empty
        try:
            folder.rmdir()
        except OSError:
            break


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to hold back
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

