"""First come, first served: one job at a time per model, in the order they asked.

The web UI, the HTTP API and a batch share one process and one model
manager; a model decodes one job at a time (a NeMo model switches its own
attention and decoding state inside a call, and two jobs on two CPU cores only
slow each other down). A plain lock wakes waiters in no particular order, so
a client that keeps sending could starve another: here every job takes a
ticket and runs when the tickets before it for that model are done.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Iterator

from stt_studio import progress as job_progress
from stt_studio.domain import NoteKind

log = logging.getLogger(__name__)

#: how often a waiting job looks whether it was cancelled
POLL_S = 0.2


class Turns:
    """Per-key FIFO queues of jobs; :meth:`turn` holds a job's place."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._queues: dict[str, deque[object]] = {}

    @contextlib.contextmanager
    def turn(self, key: str) -> Iterator[None]:
        """Wait until every job that asked for ``key`` before this one is done.

        A job cancelled while it waits leaves the queue at once
        (:class:`~stt_studio.errors.JobCancelled` propagates).
        """
        ticket = object()
        with self._changed:
            queue = self._queues.setdefault(key, deque())
            queue.append(ticket)
            ahead = len(queue) - 1
        try:
            if ahead:
                job_progress.note(NoteKind.WAITING,
                                  f"waiting for {ahead} job(s) ahead with {key}",
                                  logger=log, level=logging.INFO)
            with self._changed:
                while queue[0] is not ticket:
                    self._changed.wait(POLL_S)
                    job_progress.check_cancelled()
            yield
        finally:
            with self._changed:
                queue.remove(ticket)
                if not queue:
                    self._queues.pop(key, None)
                self._changed.notify_all()

    def waiting(self, key: str) -> int:
        """Jobs queued for ``key``, the running one included."""
        with self._changed:
            return len(self._queues.get(key, ()))
