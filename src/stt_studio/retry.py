"""Retry policy for lock-type file errors, wrapped around single file operations.

A locked file (antivirus scan, cloud sync, indexer) is usually released within
a fraction of a second, so a short bounded backoff turns most of those failures
into success. Only lock-type errors for the operation at hand are retried
(:func:`stt_studio.errors.is_lock_error`); anything else propagates at once so
that its own message reaches the user.

The bound is on *waiting*: however long the operation itself ran before it
met the lock, it is retried while the time spent between tries (the sleeps
and the clean-up before them) stays within ``max_wait_s``. Wrap the smallest operation that can fail (one rename, one
file read), never a whole load, so a retry repeats seconds of work at most.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from stt_studio import progress
from stt_studio.domain import NoteKind
from stt_studio.errors import FileOp, is_lock_error

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_DELAYS_S = (0.1, 0.2, 0.3)
DEFAULT_MAX_WAIT_S = 10.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait for a file operation that hit a lock.

    delays_s: the wait before each retry, in order (their count is the retries).
    max_wait_s: the most time spent waiting on one operation, in all.
    """

    delays_s: tuple[float, ...] = DEFAULT_DELAYS_S
    max_wait_s: float = DEFAULT_MAX_WAIT_S

    def __post_init__(self) -> None:
        if any(d < 0 for d in self.delays_s):
            raise ValueError("retry delays must be >= 0 seconds")
        if self.max_wait_s <= 0:
            raise ValueError("the retry time bound must be > 0 seconds")

    @classmethod
    def parse(cls, text: str, max_wait_s: float = DEFAULT_MAX_WAIT_S) -> RetryPolicy:
        """Build from ``"0.1,0.2,0.3"`` (the STT_STUDIO_RETRY_DELAYS format)."""
        delays = tuple(float(p) for p in text.split(",") if p.strip())
        return cls(delays_s=delays, max_wait_s=max_wait_s)


def release_memory() -> None:
    """Drop Python references and cached GPU blocks that may hold file handles."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001 - best effort, never a reason to fail
            log.debug("torch.cuda.empty_cache() failed", exc_info=True)


@dataclass(slots=True)
class Retrier:
    """Runs callables under a :class:`RetryPolicy`; sleep, clock and the in-between hook injectable."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = progress.sleep
    between_tries: Callable[[], None] = release_memory
    #: what measures the waiting (time.monotonic; a test passes a fake one)
    clock: Callable[[], float] = time.monotonic

    def run(self, fn: Callable[[], T], what: str, op: FileOp = FileOp.READ) -> T:
        """Call ``fn``; on a lock error for ``op`` wait and retry, then re-raise the last."""
        retries = len(self.policy.delays_s)
        waited_s = 0.0
        attempt = 0
        while True:
            try:
                return fn()
            except OSError as exc:
                exc.file_op = op  # type: ignore[attr-defined] # for translate_os_error
                if not is_lock_error(exc, op) or attempt == retries:
                    raise
                delay = self.policy.delays_s[attempt]
                if waited_s + delay > self.policy.max_wait_s:
                    log.warning("%s: still locked after waiting %.1f s, giving up",
                                what, waited_s)
                    raise
                attempt += 1
                progress.note(
                    NoteKind.LOCK_RETRY,
                    f"{what}: file locked ({exc}); retry {attempt}/{retries} in {delay:.1f} s",
                    logger=log,
                )
                paused = self.clock()
                self.between_tries()  # gc.collect() alone can take a second with NeMo loaded
                self.sleep(delay)
                waited_s += max(delay, self.clock() - paused)
