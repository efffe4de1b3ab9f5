"""Run one slow studio call in a worker thread and stream what it is doing.

A web page must never look hung: while a model loads or audio is transcribed
the caller receives an :class:`Update` at least every ``heartbeat_s`` seconds,
with the current stage, the elapsed time, and every warning the work logged
(a locked file being retried, a temp folder left behind). The final update
carries the result or the exception; nothing is raised across the thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from stt_studio.domain import Progress

T = TypeVar("T")

#: a stage with no news for this long gets a hint that it may be stuck
SLOW_STAGE_S = 60.0


@dataclass(frozen=True, slots=True)
class Update(Generic[T]):
    stage: str
    elapsed_s: float
    stage_elapsed_s: float
    notes: tuple[str, ...]
    done: bool = False
    result: T | None = None
    error: BaseException | None = None


class _ThreadLogCapture(logging.Handler):
    """Collects the studio's warnings logged by one thread (the worker)."""

    def __init__(self, thread_id: int, sink: queue.Queue[tuple[str, str]]) -> None:
        super().__init__(logging.WARNING)
        self._thread_id = thread_id
        self._sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread_id:
            self._sink.put(("note", record.getMessage()))


def run_job(
    work: Callable[[Progress], T],
    *,
    first_stage: str = "starting…",
    heartbeat_s: float = 1.0,
    logger: str = "stt_studio",
) -> Iterator[Update[T]]:
    """Start ``work(progress)`` in a thread; yield updates until it ends."""
    events: queue.Queue[tuple[str, str]] = queue.Queue()
    outcome: dict[str, object] = {}

    def target() -> None:
        handler = _ThreadLogCapture(threading.get_ident(), events)
        logging.getLogger(logger).addHandler(handler)
        try:
            outcome["result"] = work(lambda message: events.put(("stage", message)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, never lost
            outcome["error"] = exc
        finally:
            logging.getLogger(logger).removeHandler(handler)
            events.put(("done", ""))

    started = stage_started = time.monotonic()
    stage = first_stage
    notes: list[str] = []
    thread = threading.Thread(target=target, name="stt-studio-job", daemon=True)
    thread.start()
    while True:
        try:
            kind, text = events.get(timeout=heartbeat_s)
        except queue.Empty:
            kind, text = "tick", ""
        now = time.monotonic()
        if kind == "stage":
            stage, stage_started = text, now
        elif kind == "note":
            notes.append(text)
        elif kind == "done":
            error = outcome.get("error")
            yield Update(stage, now - started, now - stage_started, tuple(notes), done=True,
                         result=outcome.get("result"),  # type: ignore[arg-type]
                         error=error if isinstance(error, BaseException) else None)
            return
        yield Update(stage, now - started, now - stage_started, tuple(notes))
