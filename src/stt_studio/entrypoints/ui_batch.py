"""One press of Transcribe in the web UI: several recordings, one job, one folder of outputs.

The job runs in :func:`~stt_studio.entrypoints.jobs.run_job`'s worker thread:
:meth:`Studio.transcribe_many` goes through the files in turn, each finished
transcript is written at once (so a cancelled run keeps what finished), and a
:class:`Batch` records what happened to each file. The UI thread reads it while
the job runs (status box, results table) and once more when it ends.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from stt_studio.diarize.assign import rename
from stt_studio.domain import (
    Note,
    Progress,
    ProgressEvent,
    Stage,
    Transcript,
    TranscriptionOptions,
)
from stt_studio.entrypoints.console import as_studio_error
from stt_studio.errors import FileOp, JobCancelled, translate_os_error
from stt_studio.progress import NOTED
from stt_studio.retry import Retrier

if TYPE_CHECKING:  # the page's text module imports these types without the service
    from stt_studio.service import Result, Studio

log = logging.getLogger("stt_studio.ui")

#: writes one transcript's download files: (result, stem) -> the files
Writer = Callable[["Result", str], list[Path]]


class FileState(str, Enum):
    """Where one recording of a run stands; the value is what the results table says."""

    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NOT_RUN = "not run"


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """One recording of a run, as the results table and the file picker show it.

    name: unique within the run (``talk.wav``, ``talk.wav (2)``); stem: the name its
    download files carry (``talk``, ``talk-2``). reason: why it failed, in a few words.
    names: the speakers' names the user gave, (label, name) — ``("SPEAKER_1", "Alice")``;
    ``result`` keeps the labels as found, :attr:`transcript` shows the names.
    """

    name: str
    stem: str
    path: Path
    state: FileState = FileState.WAITING
    result: Result | None = None
    files: tuple[Path, ...] = ()
    reason: str = ""
    names: tuple[tuple[str, str], ...] = ()

    @property
    def duration_s(self) -> float | None:
        return self.result.transcript.duration_s if self.result is not None else None

    @property
    def transcript(self) -> Transcript | None:
        """The transcript as shown and downloaded: with the speakers' given names."""
        if self.result is None:
            return None
        found = self.result.transcript
        given = {label: name for label, name in self.names if name}
        return replace(found, segments=rename(found.segments, given)) if given else found


@dataclass(frozen=True, slots=True)
class Failure:
    """Why one recording failed: the exception, the stage it was in, the notes it had."""

    name: str
    error: BaseException
    stage: str
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True, slots=True)
class RunView:
    """What a finished run leaves for the page: its files and the zip of all outputs."""

    files: tuple[FileOutcome, ...]
    zip_path: Path | None = None

    def find(self, name: str | None) -> FileOutcome | None:
        return next((f for f in self.files if f.name == name), None)

    def first_shown(self) -> FileOutcome | None:
        """The file shown when the run ends: the first with a transcript, else the first."""
        return next((f for f in self.files if f.result is not None),
                    self.files[0] if self.files else None)

    def shown(self, name: str | None) -> FileOutcome | None:
        """The file the page shows (the picker's name), else the one shown at the end."""
        return self.find(name) or self.first_shown()

    def replaced(self, outcome: FileOutcome) -> RunView:
        """This run with ``outcome`` in place of the file of the same name."""
        return replace(self, files=tuple(outcome if f.name == outcome.name else f
                                         for f in self.files))


@dataclass
class _Slot:
    outcome: FileOutcome
    claimed: bool = False  # the service asked for its progress callback
    event: ProgressEvent | None = None  # its last stage
    notes: list[Note] = field(default_factory=list)
    failure: Failure | None = None


def unique_names(paths: Sequence[Path]) -> list[tuple[str, str]]:
    """(shown name, output stem) for each path, unique within the run."""
    seen_names: dict[str, int] = {}
    seen_stems: set[str] = set()
    out = []
    for path in paths:
        count = seen_names[path.name] = seen_names.get(path.name, 0) + 1
        name = path.name if count == 1 else f"{path.name} ({count})"
        stem, number = path.stem or "recording", 1
        while stem.lower() in seen_stems:  # case-insensitive file systems, and the zip
            number += 1
            stem = f"{path.stem or 'recording'}-{number}"
        seen_stems.add(stem.lower())
        out.append((name, stem))
    return out


class Batch:
    """The files of one run and what happened to each; shared by the job and the page."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._lock = threading.Lock()
        self._slots = [_Slot(FileOutcome(name, stem, path))
                       for path, (name, stem) in zip(paths, unique_names(paths))]
        self._current: int | None = None

    @property
    def count(self) -> int:
        return len(self._slots)

    # -- the job's side (worker thread) ---------------------------------------------
    def run(self, studio: Studio, model: str, options: TranscriptionOptions,
            say: Progress, write: Writer) -> None:
        """Transcribe every file in turn; write each transcript as soon as it is there."""
        from stt_studio.service import Result

        paths = [slot.outcome.path for slot in self._slots]
        progress_for = functools.partial(self._progress_for, say=say)
        for path, outcome in studio.transcribe_many(paths, model, options, progress_for):
            index = self._finished_index(path)
            if isinstance(outcome, Result):
                self._event(index, ProgressEvent(Stage.WRITING, self._slots[index].outcome.name),
                            say)
                try:
                    files = write(outcome, self._slots[index].outcome.stem)
                except Exception as exc:  # noqa: BLE001 - this file failed; the rest go on
                    self._fail(index, exc, "writing the download files", outcome)
                    continue
                self._set(index, state=FileState.DONE, result=outcome, files=tuple(files))
            elif isinstance(outcome, BaseException):
                self._fail(index, outcome, None)
            else:  # the real service never yields this; a stand-in might
                self._fail(index, RuntimeError("the job ended without a result"), None)

    def _progress_for(self, path: Path, say: Progress) -> Progress:
        with self._lock:
            index = next((n for n, s in enumerate(self._slots)
                          if s.outcome.path == path and not s.claimed), None)
            if index is None:  # asked twice for one path: the last claim of it
                index = max(n for n, s in enumerate(self._slots) if s.outcome.path == path)
            self._slots[index].claimed = True
        return lambda event: self._event(index, event, say)

    def _event(self, index: int, event: ProgressEvent, say: Progress) -> None:
        with self._lock:
            slot = self._slots[index]
            self._current = index
            if slot.outcome.state is FileState.WAITING:
                slot.outcome = replace(slot.outcome, state=FileState.RUNNING)
            if event.stage is not None:
                slot.event = event
            if event.note is not None:
                slot.notes.append(event.note)
        say(event)

    def _finished_index(self, path: Path) -> int:
        with self._lock:
            candidates = [n for n, s in enumerate(self._slots) if s.outcome.path == path
                          and s.outcome.state in (FileState.WAITING, FileState.RUNNING)]
            claimed = [n for n in candidates if self._slots[n].claimed]
            return (claimed or candidates)[0]

    def _set(self, index: int, **changes: object) -> None:
        with self._lock:
            slot = self._slots[index]
            slot.outcome = replace(slot.outcome, **changes)  # type: ignore[arg-type]

    def _fail(self, index: int, error: BaseException, stage: str | None,
              result: Result | None = None) -> None:
        with self._lock:
            slot = self._slots[index]
            shown = stage or (slot.event or ProgressEvent(Stage.STARTING)).plain_text
            slot.failure = Failure(slot.outcome.name, error, shown, tuple(slot.notes))
            slot.outcome = replace(slot.outcome, state=FileState.FAILED, result=result,
                                   reason=short_reason(as_studio_error(error).render(),
                                                       slot.outcome.path))
        # logged here, with its traceback, as it happens; NOTED: not a note of the job
        log.error("%s failed while %s", slot.outcome.name, shown,
                  exc_info=(type(error), error, error.__traceback__), extra={NOTED: True})

    # -- the page's side ----------------------------------------------------------------
    def finish(self, error: BaseException | None) -> None:
        """The job ended (``error``: what stopped it): settle the files left open."""
        cancelled = isinstance(error, JobCancelled)
        for index, slot in enumerate(self._slots):
            state = slot.outcome.state
            if state is FileState.RUNNING and error is not None and not cancelled:
                self._fail(index, error, None)
            elif state is FileState.RUNNING:
                self._set(index, state=FileState.CANCELLED if cancelled else FileState.NOT_RUN)
            elif state is FileState.WAITING:
                self._set(index, state=FileState.NOT_RUN)

    def outcomes(self) -> tuple[FileOutcome, ...]:
        with self._lock:
            return tuple(slot.outcome for slot in self._slots)

    def failures(self) -> list[Failure]:
        with self._lock:
            return [slot.failure for slot in self._slots if slot.failure is not None]

    def current(self) -> tuple[int, ProgressEvent] | None:
        """The file the job works on now (the last one with news) and its stage, if any.

        The stage is that file's own: the job's latest news may still be about the
        file before it.
        """
        with self._lock:
            if self._current is None:
                return None
            slot = self._slots[self._current]
            if slot.outcome.state is not FileState.RUNNING:
                return None
            return self._current, slot.event or ProgressEvent(Stage.STARTING)


def short_reason(rendered: str, path: Path | None = None, limit: int = 90) -> str:
    """The first line of a rendered error, cut to fit a table cell (the file by its name)."""
    first = rendered.strip().splitlines()[0] if rendered.strip() else "unknown error"
    if path is not None:
        first = first.replace(str(path), path.name)
    return first if len(first) <= limit else first[:limit - 1].rstrip() + "…"


def write_zip(target: Path, files: Sequence[Path], retrier: Retrier, cache_dir: Path) -> Path:
    """All ``files`` in one zip at ``target`` (flat: their names are unique), atomically."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, arcname=path.name)
        retrier.run(lambda: os.replace(partial, target), f"move {partial}", FileOp.MOVE)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise translate_os_error(exc, action="write the zip of all outputs",
                                 path=exc.filename or target, cache_dir=cache_dir) from exc
    return target
