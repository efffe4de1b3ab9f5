"""Extract each ``.nemo`` archive once into the cache, keyed by content hash.

A later load points NeMo's ``SaveRestoreConnector.model_extracted_dir`` at the
folder, so no load ever extracts into a temp dir (where Windows antivirus and
sync tools lock files) and warm loads skip the copy entirely.

Layout under ``<cache>/extracted``::

    <sha256[:32]>/            the members, plus MARKER listing them
    .partial-<sha>-<pid>-<r>/ an extraction in progress (renamed when complete)
    .keys/<sha1(path,size,mtime)>  memo of a file's sha256, to skip re-hashing

Extraction is serialised across processes by a file lock per archive.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from stt_studio.cache import CacheLayout
from stt_studio.errors import FileLockedError, ModelNotFoundError, lock_remedies
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


def content_hash(path: Path, layout: CacheLayout, retrier: Retrier) -> str:
    """sha256 of the file, memoised by (real path, size, mtime)."""
    stat = retrier.run(lambda: path.stat(), f"read {path}")
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    memo = layout.extracted_dir / ".keys" / hashlib.sha1(key.encode()).hexdigest()
    try:
        cached = memo.read_text("ascii").strip()
        if len(cached) == 64:
            return cached
    except OSError:
        pass

    def _hash() -> str:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()

    digest = retrier.run(_hash, f"read {path}")
    memo.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(memo, digest + "\n", retrier)
    return digest


def is_complete(folder: Path, sha256: str | None = None) -> bool:
    """True if ``folder`` holds a finished extraction whose members all exist."""
    try:
        record = json.loads((folder / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    if sha256 is not None and record.get("sha256") != sha256:
        return False
    for item in record.get("members", []):
        try:
            if (folder / item["name"]).stat().st_size != item["size"]:
                return False
        except OSError:
            return False
    return True


def extracted_dir(nemo_path: Path, layout: CacheLayout, retrier: Retrier) -> Path:
    """The cache folder holding ``nemo_path``'s members, extracting if needed."""
    from filelock import FileLock, Timeout

    nemo_path = Path(nemo_path)
    if not nemo_path.is_file():
        raise ModelNotFoundError(f"no .nemo file at {nemo_path}", paths=(nemo_path,))
    sha = content_hash(nemo_path, layout, retrier)
    final = layout.extracted_dir / sha[:32]
    if is_complete(final, sha):
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
            log.info("waiting for another stt-studio process to finish extracting %s "
                     "(%.0f s so far)", nemo_path.name, waited_s)
    try:
        if is_complete(final, sha):  # another process finished it meanwhile
            return final
        _clear_stale(final, sha, layout, retrier)
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


def _clear_stale(final: Path, sha: str, layout: CacheLayout, retrier: Retrier) -> None:
    """Remove half-written extractions left by crashed processes (we hold the lock)."""
    if final.exists():
        log.warning("removing incomplete extraction %s", final)
        if not remove_tree(final, retrier):
            final.rename(layout.extracted_dir / f".stale-{final.name}-{uuid.uuid4().hex[:8]}")
    for leftover in layout.extracted_dir.glob(f".partial-{sha[:32]}-*"):
        remove_tree(leftover, retrier)


def _extract_fresh(
    nemo_path: Path, sha: str, final: Path, layout: CacheLayout, retrier: Retrier
) -> None:
    staging = layout.extracted_dir / f".partial-{sha[:32]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    retrier.run(lambda: staging.mkdir(parents=True), f"create {staging}")
    try:
        log.info("extracting %s into %s (once)", nemo_path, final)
        members = retrier.run(lambda: _unpack(nemo_path, staging), f"extract {nemo_path}")
        _verify(staging, members, nemo_path)
        record = {
            "sha256": sha,
            "source": str(nemo_path.resolve()),
            "members": [{"name": m.name, "size": m.size_bytes} for m in members],
        }
        write_text_atomic(staging / MARKER, json.dumps(record, indent=1), retrier)
        retrier.run(lambda: os.replace(staging, final), f"move {staging} to {final}")
    except BaseException:
        remove_tree(staging, retrier)
        raise


def _unpack(nemo_path: Path, dest: Path) -> list[Member]:
    """Extract regular files only, with the stdlib's safe ``data`` filter."""
    members: list[Member] = []
    try:
        with tarfile.open(nemo_path, "r:*") as archive:
            for info in archive:
                if not info.isfile():
                    continue
                name = os.path.normpath(info.name)
                info.name = name
                archive.extract(info, dest, filter="data")
                members.append(Member(name, info.size))
    except (tarfile.TarError, EOFError) as exc:
        raise ModelNotFoundError(
            f"the .nemo file is damaged or not a NeMo archive: {nemo_path}",
            causes=("The download was interrupted", "The file is not a .nemo model"),
            remedies=("Delete the file and download it again (`stt-studio models rm NAME` "
                      "then `stt-studio models pull NAME`)",),
            paths=(nemo_path,),
            detail=f"{type(exc).__name__}: {exc}",
        ) from exc
    return members


def _verify(staging: Path, members: list[Member], nemo_path: Path) -> None:
    names = {m.name for m in members}
    if REQUIRED_MEMBER not in names:
        raise ModelNotFoundError(
            f"the archive has no {REQUIRED_MEMBER}, so it is not a NeMo model: {nemo_path}",
            paths=(nemo_path,),
        )
    for member in members:
        size = (staging / member.name).stat().st_size
        if size != member.size_bytes:
            raise ModelNotFoundError(
                f"extracting {member.name} from {nemo_path} gave {size} bytes, expected "
                f"{member.size_bytes}",
                causes=("The disk filled up during extraction", "The archive is damaged"),
                paths=(nemo_path, staging),
            )


def extraction_source(folder: Path) -> str | None:
    """The archive a finished extraction came from, from its marker."""
    try:
        return str(json.loads((folder / MARKER).read_text("utf-8"))["source"])
    except (OSError, ValueError, KeyError):
        return None
