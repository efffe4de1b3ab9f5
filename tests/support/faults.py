"""Fault injection through the OS calls the loader uses (monkeypatched)."""

from __future__ import annotations

import builtins
import errno
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOCK_MESSAGE = "The process cannot access the file because it is being used by another process"
LOCK_VIOLATION_MESSAGE = ("The process cannot access the file because another process has locked "
                          "a portion of the file")
ACCESS_DENIED_MESSAGE = "Access is denied"
DIR_NOT_EMPTY_MESSAGE = "The directory is not empty"
USER_MAPPED_MESSAGE = ("The requested operation cannot be performed on a file with a user-mapped "
                       "section open")
BUSY_MESSAGE = "Device or resource busy"
TOO_LONG_MESSAGE = "The filename or extension is too long"
PRIVILEGE_MESSAGE = "A required privilege is not held by the client"

#: the lock shapes Windows (and POSIX, EBUSY) produce, by the kind of file call
READ_LOCKS = ("WinError 32", "WinError 33", "EBUSY")  # open/read/hash
WRITE_LOCKS = ("WinError 32", "WinError 33", "WinError 1224", "EBUSY")  # create/write
MOVE_LOCKS = ("WinError 32", "WinError 5", "WinError 145", "WinError 1224", "EBUSY")  # rename
REMOVE_LOCKS = MOVE_LOCKS  # unlink/rmdir


def lock_error(path: object = "") -> PermissionError:
    """What Windows raises for a file held by antivirus or sync (WinError 32)."""
    exc = PermissionError(errno.EACCES, LOCK_MESSAGE, str(path))
    exc.winerror = 32  # type: ignore[attr-defined] - set by CPython on Windows only
    return exc


def winerror_error(winerror: int, path: object = "") -> OSError:
    """The OSError CPython raises on Windows for ``winerror`` (``winerror`` set by hand)."""
    exc: OSError
    if winerror == 32:
        exc = PermissionError(errno.EACCES, LOCK_MESSAGE, str(path))
    elif winerror == 33:
        exc = PermissionError(errno.EACCES, LOCK_VIOLATION_MESSAGE, str(path))
    elif winerror == 5:
        exc = PermissionError(errno.EACCES, ACCESS_DENIED_MESSAGE, str(path))
    elif winerror == 145:
        exc = OSError(errno.ENOTEMPTY, DIR_NOT_EMPTY_MESSAGE, str(path))
    elif winerror == 1224:
        exc = PermissionError(errno.EACCES, USER_MAPPED_MESSAGE, str(path))
    elif winerror == 206:  # a path over 260 characters without long paths: CPython's ENOENT
        exc = FileNotFoundError(errno.ENOENT, TOO_LONG_MESSAGE, str(path))
    elif winerror == 1314:  # a symlink without Developer Mode: no errno of its own (EINVAL)
        exc = OSError(errno.EINVAL, PRIVILEGE_MESSAGE, str(path))
    else:
        raise ValueError(f"no builder for WinError {winerror}")
    exc.winerror = winerror  # type: ignore[attr-defined] - set by CPython on Windows only
    return exc


def busy_error(path: object = "") -> OSError:
    """What POSIX raises for a file or mount in use (EBUSY)."""
    return OSError(errno.EBUSY, BUSY_MESSAGE, str(path))


def lock_shape(shape: str) -> Callable[[object], OSError]:
    """The error builder for one shape: ``"WinError <code>"`` or ``"EBUSY"``.

    The lock shapes, and also WinError 206 (path too long) and 1314 (no
    symlink privilege), which :mod:`tests.support.locked_cli` raises the same way.
    """
    if shape == "EBUSY":
        return busy_error
    kind, _, code_text = shape.partition(" ")
    if kind != "WinError" or not code_text.isdigit():
        raise ValueError(f"unknown lock shape {shape!r}")
    code = int(code_text)
    winerror_error(code)  # fail early on a code without a builder
    return lambda path="": winerror_error(code, path)


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
    #: the path the error names, from the call's arguments (default: the first one)
    path_of: Callable[..., object] = lambda *a, **k: a[0] if a else ""
    matched: int = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.match(*args, **kwargs):
            self.matched += 1
            if self.failures is None or self.raised < self.failures:
                self.raised += 1
                path = self.path_of(*args, **kwargs)
                self.seen.append(path)
                raise self.make_error(path)
        return self.original(*args, **kwargs)


def inject(monkeypatch, target: object, name: str, failures: int | None,
           make_error: Callable[[object], BaseException] = lock_error,
           match: Callable[..., bool] = lambda *a, **k: True) -> Flaky:
    flaky = Flaky(getattr(target, name), failures, make_error, match)
    monkeypatch.setattr(target, name, flaky)
    return flaky


def inject_method(monkeypatch, cls: type, name: str, failures: int | None,
                  make_error: Callable[[object], BaseException] = lock_error,
                  match: Callable[..., bool] = lambda *a, **k: True,
                  path_of: Callable[..., object] = lambda *a, **k: a[1] if len(a) > 1 else ""
                  ) -> Flaky:
    """:func:`inject` for a method: ``match``/``path_of`` see ``(self, *args)``."""
    flaky = Flaky(getattr(cls, name), failures, make_error, match, path_of=path_of)

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return flaky(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, method)
    return flaky


def inject_open(monkeypatch, failures: int | None,
                make_error: Callable[[object], BaseException] = lock_error,
                match: Callable[[str], bool] = lambda path: True) -> Flaky:
    """Make ``open()`` fail for the files whose path ``match`` accepts.

    Patches ``builtins.open`` and ``io.open`` (what ``Path.open``/``read_text``
    call) with one :class:`Flaky`, so a count covers both; other files open as usual.
    """
    original = builtins.open

    def matches(file: object = "", *args: Any, **kwargs: Any) -> bool:
        return isinstance(file, (str, bytes, os.PathLike)) and match(os.fsdecode(file))

    flaky = Flaky(original, failures, make_error, matches)
    monkeypatch.setattr(builtins, "open", flaky)
    monkeypatch.setattr(io, "open", flaky)
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
