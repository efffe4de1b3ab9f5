"""Run one slow studio call in a worker thread and stream what it is doing.

A web page must never look hung: while a model loads or audio is transcribed
the caller receives an :class:`Update` at least every ``heartbeat_s`` seconds,
with the typed stage, the elapsed time, and every note the work produced (a
locked file being retried, a wait for another process, skipped audio). The
final update carries the result or the exception; nothing is raised across
the thread.

Closing the generator (Gradio does when the page goes away) cancels the work:
it stops at its next checkpoint (see :mod:`stt_studio.progress`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Generic, TypeVar

from stt_studio import progress
from stt_studio.domain import Note, NoteKind, Progress, ProgressEvent, Stage

T = TypeVar("T")

#: a stage with no news for this long gets a hint that it may be stuck
SLOW_STAGE_S = 60.0


@dataclass(frozen=True, slots=True)
class Update(Generic[T]):
    stage: Stage
    elapsed_s: float
    stage_elapsed_s: float
    notes: tuple[Note, ...]
    detail: str = ""
    fraction: float | None = None
    done: bool = False
    result: T | None = None
    error: BaseException | None = None

    @property
    def stage_text(self) -> str:
        return ProgressEvent(self.stage, self.detail).text

    @property
    def failed_stage_text(self) -> str:
        return ProgressEvent(self.stage, self.detail).plain_text


class _ThreadLogCapture(logging.Handler):
    """Turns warnings the worker thread logged (and did not already note) into notes."""

    def __init__(self, thread_id: int, sink: queue.Queue[ProgressEvent | None]) -> None:
        super().__init__(logging.WARNING)
        self._thread_id = thread_id
        self._sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread_id and not getattr(record, progress.NOTED, False):
            self._sink.put(ProgressEvent(None, note=Note(NoteKind.WARNING, record.getMessage())))


def run_job(
    work: Callable[[Progress], T],
    *,
    first_stage: Stage = Stage.STARTING,
    heartbeat_s: float = 1.0,
    logger: str = "stt_studio",
    cancel: threading.Event | None = None,
) -> Generator[Update[T], None, None]:
    """Start ``work(progress)`` in a thread; yield updates until it ends.

    ``cancel`` (optional) stops the work when set; so does closing the generator.
    """
    events: queue.Queue[ProgressEvent | None] = queue.Queue()
    outcome: dict[str, object] = {}
    cancel = cancel or threading.Event()

    def target() -> None:
        handler = _ThreadLogCapture(threading.get_ident(), events)
        logging.getLogger(logger).addHandler(handler)
        try:
            with progress.job(events.put, cancel):
                outcome["result"] = work(events.put)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, never lost
            outcome["error"] = exc
        finally:
            logging.getLogger(logger).removeHandler(handler)
            events.put(None)

    started = stage_started = time.monotonic()
    stage, detail, fraction = first_stage, "", None
    notes: list[Note] = []
    thread = threading.Thread(target=target, name="stt-studio-job", daemon=True)
    thread.start()
    finished = False
    try:
        while True:
            try:
                event = events.get(timeout=heartbeat_s)
            except queue.Empty:
                event = ProgressEvent(None)
            now = time.monotonic()
            if event is None:
                finished = True
                error = outcome.get("error")
                yield Update(stage, now - started, now - stage_started, tuple(notes), detail,
                             fraction, done=True,
                             result=outcome.get("result"),  # type: ignore[arg-type]
                             error=error if isinstance(error, BaseException) else None)
                return
            if event.stage is not None:
                stage, detail, fraction = event.stage, event.detail, event.fraction
                stage_started = now
            if event.note is not None:
                notes.append(event.note)
            yield Update(stage, now - started, now - stage_started, tuple(notes), detail,
                         fraction)
    finally:
        if not finished:  # the caller went away: stop the work too (never wait here:
            cancel.set()  # Gradio closes generators on its event loop)
