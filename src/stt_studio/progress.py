"""Progress, notes and cancellation for the job running in this context.

A lock retry happens deep inside a file helper, an "another process is
extracting" wait inside the extraction cache, a skipped audio packet inside
the decoder; threading a callback through every one of those calls would be
noise. Instead the job that runs them (a CLI file, a UI request) installs a
:class:`JobControl` in a context variable with :func:`job`, and those helpers
call :func:`stage`, :func:`note` and :func:`check_cancelled`. Outside a job
the calls only log.

Cancellation is cooperative: a cancelled job raises :class:`JobCancelled` at
its next checkpoint (every stage change, retry wait and engine step).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from stt_studio.domain import Note, NoteKind, Progress, ProgressEvent, Stage
from stt_studio.errors import JobCancelled

log = logging.getLogger(__name__)

#: set on log records that are already notes, so a log capture does not note them twice
NOTED = "stt_studio_noted"


def _ignore(_event: ProgressEvent) -> None:
    return None


@dataclass(frozen=True, slots=True)
class JobControl:
    progress: Progress = _ignore
    cancel: threading.Event = field(default_factory=threading.Event)


_current: ContextVar[JobControl | None] = ContextVar("stt_studio_job", default=None)


@contextlib.contextmanager
def job(progress: Progress | None = None,
        cancel: threading.Event | None = None) -> Iterator[JobControl]:
    """Route this context's news to ``progress``; ``cancel`` stops it when set.

    Nested calls keep the outer job's cancel event unless given their own, and
    its progress unless given a new one.
    """
    outer = _current.get()
    control = JobControl(
        progress or (outer.progress if outer else _ignore),
        cancel or (outer.cancel if outer else threading.Event()),
    )
    token = _current.set(control)
    try:
        yield control
    finally:
        _current.reset(token)


def current() -> JobControl | None:
    return _current.get()


def check_cancelled() -> None:
    control = _current.get()
    if control is not None and control.cancel.is_set():
        raise JobCancelled("the job was cancelled")


def emit(event: ProgressEvent) -> None:
    """Send ``event`` to the current job (checking for cancellation first)."""
    check_cancelled()
    control = _current.get()
    if control is not None:
        control.progress(event)


def stage(stage: Stage, detail: str = "", fraction: float | None = None) -> None:
    emit(ProgressEvent(stage, detail, fraction))


def note(kind: NoteKind, text: str, *, logger: logging.Logger | None = None,
         level: int = logging.WARNING) -> None:
    """Log ``text`` and hand it to the current job as a typed note.

    Never raises for cancellation: notes are also sent from cleanup code.
    """
    (logger or log).log(level, "%s", text, extra={NOTED: True})
    control = _current.get()
    if control is not None:
        control.progress(ProgressEvent(None, note=Note(kind, text)))


def sleep(seconds: float) -> None:
    """Wait, but wake up and raise at once if the job is cancelled meanwhile."""
    control = _current.get()
    if control is None:
        threading.Event().wait(seconds)
        return
    if control.cancel.wait(seconds):
        raise JobCancelled("the job was cancelled")


@dataclass(frozen=True, slots=True)
class _Span:
    start_s: float
    end_s: float
    total_s: float | None


_covering: ContextVar[_Span | None] = ContextVar("stt_studio_covering", default=None)


@contextlib.contextmanager
def covering(start_s: float, end_s: float, total_s: float | None) -> Iterator[None]:
    """The engine call inside covers [start_s, end_s] of a recording ``total_s`` long.

    :func:`advance` maps an engine's own fraction onto the recording, so the
    bar shows the position in the whole file, however it was cut up.
    """
    token = _covering.set(_Span(start_s, max(end_s, start_s), total_s))
    try:
        yield
    finally:
        _covering.reset(token)


def heard(position_s: float, total_s: float | None) -> None:
    """Transcription has reached ``position_s`` of a recording ``total_s`` long (None: unknown)."""
    if total_s:
        position_s = min(position_s, total_s)
        stage(Stage.TRANSCRIBING, f"{position_s:.0f} of {total_s:.0f} s",
              min(position_s / total_s, 1.0))
    else:
        stage(Stage.TRANSCRIBING, f"{position_s:.0f} s")


def advance(fraction: float) -> None:
    """An engine is ``fraction`` (0..1) through the audio it was handed.

    Also a cancellation checkpoint. Outside :func:`covering` only the latter.
    """
    span = _covering.get()
    if span is None:
        check_cancelled()
        return
    fraction = min(max(fraction, 0.0), 1.0)
    heard(span.start_s + fraction * (span.end_s - span.start_s), span.total_s)
