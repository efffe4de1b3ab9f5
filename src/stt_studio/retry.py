"""Retry policy for lock-type file errors, used around every file step of loading.

A locked file (antivirus scan, cloud sync, indexer) is usually released within
a fraction of a second, so a short bounded backoff turns most of those failures
into a successful load. Only lock-type errors are retried; anything else
propagates at once so that its own message reaches the user.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from stt_studio.errors import is_lock_error

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a file operation that hit a lock."""

    delays_s: tuple[float, ...] = (0.1, 0.2, 0.3)
    max_total_s: float = 10.0

    def __post_init__(self) -> None:
        if any(d < 0 for d in self.delays_s):
            raise ValueError("retry delays must be >= 0 seconds")
        if self.max_total_s <= 0:
            raise ValueError("max_total_s must be > 0")

    @classmethod
    def parse(cls, text: str, max_total_s: float = 10.0) -> RetryPolicy:
        """Build from ``"0.1,0.2,0.3"`` (the STT_STUDIO_RETRY_DELAYS format)."""
        delays = tuple(float(p) for p in text.split(",") if p.strip())
        return cls(delays_s=delays, max_total_s=max_total_s)


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
    """Runs callables under a :class:`RetryPolicy`; clock and sleep injectable."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    between_tries: Callable[[], None] = release_memory

    def run(self, fn: Callable[[], T], what: str) -> T:
        """Call ``fn``; on a lock error wait and retry, then re-raise the last error."""
        started = self.clock()
        attempts = len(self.policy.delays_s) + 1
        for attempt in range(1, attempts + 1):
            try:
                return fn()
            except OSError as exc:
                if not is_lock_error(exc) or attempt == attempts:
                    raise
                delay = self.policy.delays_s[attempt - 1]
                elapsed = self.clock() - started
                if elapsed + delay > self.policy.max_total_s:
                    log.warning("%s: still locked after %.1f s, giving up", what, elapsed)
                    raise
                log.warning(
                    "%s: file locked (%s); retry %d/%d in %.1f s",
                    what, exc, attempt, attempts - 1, delay,
                )
                self.between_tries()
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
