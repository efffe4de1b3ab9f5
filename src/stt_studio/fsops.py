"""File operations that survive locked files.

Removing a folder is never worth losing a loaded model or a finished
transcript: these helpers retry lock errors under the policy, then leave the
folder behind and log where it is (``stt-studio doctor`` lists leftovers).
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from stt_studio import progress
from stt_studio.domain import NoteKind
from stt_studio.errors import FileOp
from stt_studio.retry import Retrier

log = logging.getLogger(__name__)

LEFTOVER_PREFIX = "stt-studio-"


def _retryable_removal(func: Any) -> bool:
    """Whether shutil's failing ``func`` is a single unlink/rmdir worth retrying.

    Compared with the ``os`` functions of the moment, not copies taken at
    import, so a wrapped ``os.unlink`` (a test's fault injection, a sandbox)
    is still recognised and retried.
    """
    return func in (os.unlink, os.remove, os.rmdir)


def _remove_one(func: Any, path: str, retrier: Retrier) -> None:
    """Retry one failed unlink/rmdir; a read-only file (Windows) is made writable first."""

    def again() -> None:
        try:
            func(path)
        except PermissionError:
            if func is os.rmdir or not os.path.lexists(path):
                raise
            os.chmod(path, stat.S_IWRITE)  # Windows will not delete a read-only file
            func(path)

    retrier.run(again, f"remove {path}", FileOp.REMOVE)


def remove_tree(path: Path, retrier: Retrier) -> bool:
    """Delete ``path`` (file or folder). True if gone, False if left behind.

    Each file and folder that fails is retried on its own (a lock on one file
    never redoes the whole walk); what stays locked is left, logged, and
    reported to the running job as a note.
    """
    path = Path(path)
    stuck: list[tuple[str, BaseException]] = []

    def on_error(func: Any, failed: str, exc_info: Any) -> None:
        exc = exc_info[1]
        if isinstance(exc, FileNotFoundError):
            return
        if _retryable_removal(func):
            try:
                _remove_one(func, failed, retrier)
                return
            except FileNotFoundError:
                return
            except OSError as again:
                exc = again
        stuck.append((failed, exc))

    def _remove() -> None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, onerror=on_error)
        elif path.exists() or path.is_symlink():
            _remove_one(os.unlink, str(path), retrier)

    try:
        retrier.run(_remove, f"remove {path}", FileOp.REMOVE)
    except FileNotFoundError:
        return True
    except OSError as exc:
        stuck.append((str(path), exc))
    if not stuck and not os.path.lexists(path):
        return True
    first, error = stuck[0] if stuck else (str(path), None)
    progress.note(
        NoteKind.LEFT_BEHIND,
        f"could not remove {path} ({first}: {error}); it was left behind and can be "
        "deleted later (see `stt-studio doctor --clean`)",
        logger=log,
    )
    return False


class RobustTemporaryDirectory:
    """Drop-in for ``tempfile.TemporaryDirectory`` whose cleanup cannot fail.

    NeMo builds a model or runs ``transcribe()`` inside a ``with
    TemporaryDirectory()`` block; if the cleanup raises (a locked file), the
    finished work is lost. This cleanup retries, then leaves the folder.
    """

    def __init__(
        self,
        suffix: str | None = None,
        prefix: str | None = None,
        dir: str | os.PathLike[str] | None = None,  # noqa: A002 - stdlib signature
        ignore_cleanup_errors: bool = False,
        *,
        retrier: Retrier,
        delete: bool = True,
    ) -> None:
        self.name = tempfile.mkdtemp(suffix, prefix or LEFTOVER_PREFIX, dir)
        self._retrier = retrier
        self._delete = delete

    def __enter__(self) -> str:
        return self.name

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._delete:
            self.cleanup()

    def cleanup(self) -> None:
        remove_tree(Path(self.name), self._retrier)


def unique_sibling(path: Path, label: str) -> Path:
    """A fresh name next to ``path`` for write-then-rename."""
    return path.with_name(f".{label}-{path.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def write_text_atomic(path: Path, text: str, retrier: Retrier) -> None:
    """Write ``text`` to ``path`` so that a reader never sees a partial file."""
    tmp = unique_sibling(path, "partial")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        retrier.run(lambda: os.replace(tmp, path), f"save {path}", FileOp.MOVE)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
