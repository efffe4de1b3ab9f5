"""Fault injection through the OS calls the loader uses (monkeypatched)."""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOCK_MESSAGE = "The process cannot access the file because it is being used by another process"


def lock_error(path: object = "") -> PermissionError:
    """What Windows raises for a file held by antivirus or sync (WinError 32)."""
    exc = PermissionError(errno.EACCES, LOCK_MESSAGE, str(path))
    exc.winerror = 32  # type: ignore[attr-defined] - set by CPython on Windows only
    return exc


def denied_error(path: object = "") -> PermissionError:
    return PermissionError(errno.EACCES, "Permission denied", str(path))


def disk_full_error(path: object = "") -> OSError:
    return OSError(errno.ENOSPC, "No space left on device", str(path))


@dataclass
class Flaky:
    """Wraps a callable: the first ``failures`` calls (None: all) raise ``make_error``."""

    original: Callable[..., Any]
    failures: int | None
    make_error: Callable[[object], BaseException] = lock_error
    match: Callable[..., bool] = lambda *a, **k: True
    calls: int = 0
    raised: int = 0
    seen: list[Any] = field(default_factory=list)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.match(*args, **kwargs) and (self.failures is None or self.raised < self.failures):
            self.raised += 1
            self.seen.append(args[0] if args else None)
            raise self.make_error(args[0] if args else "")
        return self.original(*args, **kwargs)


def inject(monkeypatch, target: object, name: str, failures: int | None,
           make_error: Callable[[object], BaseException] = lock_error,
           match: Callable[..., bool] = lambda *a, **k: True) -> Flaky:
    flaky = Flaky(getattr(target, name), failures, make_error, match)
    monkeypatch.setattr(target, name, flaky)
    return flaky


def count_calls(monkeypatch, target: object, name: str) -> list[tuple[Any, ...]]:
    """Record calls of ``target.name`` (a plain function, so methods stay bound)."""
    calls: list[tuple[Any, ...]] = []
    original = getattr(target, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)
    return calls
