"""Extract each ``.nemo`` archive once into the cache, keyed by content hash.

A later load points NeMo's ``SaveRestoreConnector.model_extracted_dir`` at the
folder, so no load ever extracts into a temp dir (where Windows antivirus and
sync tools lock files) and warm loads skip the copy entirely.

Layout under ``<cache>/extracted``::

    <sha256[:32]>/            the members, plus MARKER listing them
    .partial-<sha>-<pid>-<r>/ an extraction in progress (renamed when complete)
    .keys/<sha1(path,size,mtime)>  memo of a file's sha256, to skip re-hashing

Extraction is serialised across processes by a file lock per archive. Every
file operation is retried on its own when it meets a lock, and an entry is
only removed when it is provably incomplete (missing marker or member, wrong
size); an entry that cannot be read right now is left alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tarfile
import uuid
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from stt_studio import progress
from stt_studio.cache import CacheLayout
from stt_studio.domain import NoteKind, Stage
from stt_studio.errors import (
    FileLockedError,
    FileOp,
    FileSystemError,
    ModelNotFoundError,
    lock_remedies,
)
from stt_studio.fsops import remove_tree, write_text_atomic
from stt_studio.retry import Retrier

log = logging.getLogger(__name__)

MARKER = ".stt-studio-extracted.json"
REQUIRED_MEMBER = "model_config.yaml"
LOCK_TIMEOUT_S = 600.0
LOCK_POLL_S = 5.0


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    size_bytes: int


class EntryState(Enum):
    ABSENT = "absent"  # no folder at all
    INCOMPLETE = "incomplete"  # provably unfinished or damaged: safe to remove
    COMPLETE = "complete"


def content_hash(path: Path, layout: CacheLayout, retrier: Retrier) -> str:
    """sha256 of the file, memoised by (real path, size, mtime)."""
    stat = retrier.run(lambda: path.stat(), f"read {path}")
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    memo = layout.extracted_dir / ".keys" / hashlib.sha1(key.encode()).hexdigest()
    try:
        cached = retrier.run(lambda: memo.read_text("ascii").strip(), f"read {memo}")
        if len(cached) == 64:
            return cached
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError):  # an unreadable memo only costs a re-hash
        log.debug("hash memo %s unreadable", memo, exc_info=True)

    def _hash() -> str:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()

    digest = retrier.run(_hash, f"read {path}")
    retrier.run(lambda: memo.parent.mkdir(parents=True, exist_ok=True), f"create {memo.parent}",
                FileOp.WRITE)
    write_text_atomic(memo, digest + "\n", retrier)
    return digest


def entry_state(folder: Path, sha256: str | None, retrier: Retrier) -> EntryState:
    """Whether ``folder`` holds a finished extraction; raises if it cannot be read now.

    A lock on the marker or a member is retried; one that persists raises the
    OSError (never "incomplete"), so a good entry is never removed because an
    antivirus scanner held it for a moment.
    """
    marker = folder / MARKER
    try:
        text = retrier.run(lambda: marker.read_text("utf-8"), f"read {marker}")
    except FileNotFoundError:
        return EntryState.INCOMPLETE if os.path.lexists(folder) else EntryState.ABSENT
    except NotADirectoryError:
        return EntryState.INCOMPLETE  # a stray file with the entry's name
    try:
        record = json.loads(text)
        members = [(str(m["name"]), int(m["size"])) for m in record["members"]]
    except (ValueError, KeyError, TypeError):
        return EntryState.INCOMPLETE  # a torn or foreign marker
    if sha256 is not None and record.get("sha256") != sha256:
        return EntryState.INCOMPLETE
    for name, size in members:
        member = folder / name
        try:
            actual = retrier.run(lambda: member.stat().st_size, f"read {member}")  # noqa: B023
        except FileNotFoundError:
            return EntryState.INCOMPLETE
        if actual != size:
            return EntryState.INCOMPLETE
    return EntryState.COMPLETE


def is_complete(folder: Path, sha256: str | None = None, retrier: Retrier | None = None) -> bool:
    """True if ``folder`` holds a finished extraction whose members all exist."""
    return entry_state(folder, sha256, retrier or Retrier()) is EntryState.COMPLETE


def extracted_dir(nemo_path: Path, layout: CacheLayout, retrier: Retrier) -> Path:
    """The cache folder holding ``nemo_path``'s members, extracting if needed."""
    from filelock import FileLock, Timeout

    nemo_path = Path(nemo_path)
    if not nemo_path.is_file():
        raise ModelNotFoundError(f"no .nemo file at {nemo_path}", paths=(nemo_path,))
    layout.ensure()
    sha = content_hash(nemo_path, layout, retrier)
    final = layout.extracted_dir / sha[:32]
    if entry_state(final, sha, retrier) is EntryState.COMPLETE:
        log.info("using extracted model %s", final)
        return final
    lock_path = layout.locks_dir / f"{sha[:32]}.lock"
    lock = FileLock(str(lock_path))
    waited_s = 0.0
    while True:
        try:
            lock.acquire(timeout=LOCK_POLL_S)
            break
        except Timeout as exc:
            waited_s += LOCK_POLL_S
            if waited_s >= LOCK_TIMEOUT_S:
                raise _busy_error(nemo_path, lock_path, layout) from exc
            progress.note(NoteKind.WAITING,
                          f"waiting for another stt-studio process to finish unpacking "
                          f"{nemo_path.name} ({waited_s:.0f} s so far)",
                          logger=log, level=logging.INFO)
            progress.check_cancelled()
    try:
        state = entry_state(final, sha, retrier)
        if state is EntryState.COMPLETE:  # another process finished it meanwhile
            return final
        _clear_stale(final, state, sha, layout, retrier)
        _extract_fresh(nemo_path, sha, final, layout, retrier)
    finally:
        lock.release()
    return final


def _busy_error(nemo_path: Path, lock_path: Path, layout: CacheLayout) -> FileLockedError:
    return FileLockedError(
        f"another stt-studio process has been extracting this model for over "
        f"{LOCK_TIMEOUT_S:.0f} s",
        causes=("A second studio is loading the same model", "That process hung"),
        remedies=("Wait for the other process to finish, or close it",
                  *lock_remedies(layout.root)),
        paths=(nemo_path, lock_path),
    )


def _clear_stale(
    final: Path, state: EntryState, sha: str, layout: CacheLayout, retrier: Retrier
) -> None:
    """Remove what crashed processes left (we hold the entry's lock, so none is running)."""
    if state is EntryState.INCOMPLETE:
        log.warning("removing incomplete extraction %s", final)
        if not remove_tree(final, retrier):
            aside = layout.extracted_dir / f".stale-{final.name}-{uuid.uuid4().hex[:8]}"
            retrier.run(lambda: os.replace(final, aside), f"move {final} aside", FileOp.MOVE)
    for leftover in layout.extracted_dir.glob(f".partial-{sha[:32]}-*"):
        remove_tree(leftover, retrier)


def _extract_fresh(
    nemo_path: Path, sha: str, final: Path, layout: CacheLayout, retrier: Retrier
) -> None:
    staging = layout.extracted_dir / f".partial-{sha[:32]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    retrier.run(lambda: staging.mkdir(parents=True), f"create {staging}", FileOp.WRITE)
    try:
        log.info("extracting %s into %s (once)", nemo_path, final)
        members = _unpack(nemo_path, staging, retrier)
        _verify(staging, members, nemo_path, retrier)
        record = {
            "sha256": sha,
            "source": str(nemo_path.resolve()),
            "members": [{"name": m.name, "size": m.size_bytes} for m in members],
        }
        write_text_atomic(staging / MARKER, json.dumps(record, indent=1), retrier)
        retrier.run(lambda: os.replace(staging, final), f"move {staging} to {final}",
                    FileOp.MOVE)
    except BaseException:
        remove_tree(staging, retrier)
        raise


def _damaged(nemo_path: Path, exc: BaseException) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"the .nemo file is damaged or not a NeMo archive: {nemo_path}",
        causes=("The download was interrupted", "The file is not a .nemo model"),
        remedies=("Delete the file and download it again (`stt-studio models rm NAME` "
                  "then `stt-studio models pull NAME`)",),
        paths=(nemo_path,),
        detail=f"{type(exc).__name__}: {exc}",
    )


def _unpack(nemo_path: Path, dest: Path, retrier: Retrier) -> list[Member]:
    """Extract regular files only, with the stdlib's safe ``data`` filter.

    Each member is written (and on a lock, rewritten) on its own; the stage's
    fraction follows the bytes written.
    """
    members: list[Member] = []
    total = max(nemo_path.stat().st_size, 1)
    done = 0
    try:
        archive = retrier.run(lambda: tarfile.open(nemo_path, "r:*"), f"open {nemo_path}")
        with archive:
            for info in archive:
                if not info.isfile():
                    continue
                name = os.path.normpath(info.name)
                info.name = name
                _extract_member(archive, info, dest, retrier)
                members.append(Member(name, info.size))
                done += info.size
                progress.stage(Stage.PREPARING, f"{done / 1e6:.0f} of {total / 1e6:.0f} MB",
                               min(done / total, 1.0))
            _check_end(archive)
    except (tarfile.TarError, EOFError) as exc:
        raise _damaged(nemo_path, exc) from exc
    return members


def _check_end(archive: tarfile.TarFile) -> None:
    """Raise ReadError unless the end-of-archive block follows the last member.

    tarfile stops without a word at a damaged header after the first one, or
    at a cut between two members: the archive would pass for a complete model
    with members missing (a zero block is what a real end looks like).
    """
    archive.fileobj.seek(archive.offset)
    block = archive.fileobj.read(tarfile.BLOCKSIZE)
    if len(block) < tarfile.BLOCKSIZE or block.strip(b"\0"):
        raise tarfile.ReadError(f"no valid member header or end of archive at byte "
                                f"{archive.offset}")


def _extract_member(archive: tarfile.TarFile, info: tarfile.TarInfo, dest: Path,
                    retrier: Retrier) -> None:
    def write() -> Any:
        return archive.extract(info, dest, filter="data")

    retrier.run(write, f"write {dest / info.name}", FileOp.WRITE)


def _verify(staging: Path, members: list[Member], nemo_path: Path, retrier: Retrier) -> None:
    names = {m.name for m in members}
    if REQUIRED_MEMBER not in names:
        raise ModelNotFoundError(
            f"the archive has no {REQUIRED_MEMBER}, so it is not a NeMo model: {nemo_path}",
            paths=(nemo_path,),
        )
    for member in members:
        path = staging / member.name
        size = retrier.run(lambda: path.stat().st_size, f"read {path}")  # noqa: B023
        if size != member.size_bytes:
            raise FileSystemError(
                f"unpacking {member.name} from {nemo_path} wrote {size} bytes, expected "
                f"{member.size_bytes}",
                causes=("The disk filled up while the model was unpacked",
                        "The drive has errors, or another program changed the file"),
                remedies=("Free some disk space (or move the cache with --cache-dir), then "
                          "load the model again",
                          "Run `stt-studio doctor` to check the cache folder"),
                paths=(nemo_path, staging),
            )


def extraction_source(folder: Path) -> str | None:
    """The archive a finished extraction came from, from its marker."""
    try:
        return str(json.loads((folder / MARKER).read_text("utf-8"))["source"])
    except (OSError, ValueError, KeyError):
        return None
