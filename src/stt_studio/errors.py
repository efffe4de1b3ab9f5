"""The one error hierarchy of stt-studio, written for people.

Every failure a user can meet is one of these classes. Each carries what
happened, the likely causes, what to do, and the paths involved, so every
shell (CLI, API, UI) can show the same readable text::

    StudioError
     ├── FileLockedError        a file stayed locked after the retries ran out
     ├── PermissionDeniedError  access refused, not a lock (read-only dir, ACL)
     ├── NetworkError           a download or hub request failed
     ├── FileSystemError        disk full, bad path, missing folder, I/O error
     ├── ModelNotFoundError     no such registry name, file or folder
     ├── EngineMissingError     the engine's Python package is not installed
     ├── AudioError             the recording cannot be decoded (empty, corrupt)
     ├── InvalidOptionError     an option the chosen model cannot honour
     ├── ModelInUseError        a model cannot be unloaded while a job uses it
     ├── ServerError            the web UI cannot listen (port in use, bad host)
     ├── LiveLimitError         a live session past a limit (length, sessions, lag)
     ├── JobCancelled           the user (or a closed page) stopped the job
     └── UnexpectedError        anything else, with the original exception

Foreign exceptions are translated once, at the boundary that meets them, by
:func:`translate_os_error` (file operations) or by the engine that raised
them; shells only call :meth:`StudioError.render`.

Which errors are locks depends on the operation (:class:`FileOp`): Windows
reports a file held open by antivirus, an indexer or a sync client as
WinError 32/33 when the file itself is touched, but as WinError 5 "Access is
denied" when its *folder* is renamed or removed, 145 "directory not empty"
when a file inside is delete-pending, and 1224 when the file is mapped.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from enum import Enum
from pathlib import Path

from stt_studio import advice

_LOCK_WINERRORS = frozenset({32, 33})  # sharing violation, lock violation
ACCESS_DENIED = 5
DIR_NOT_EMPTY = 145
USER_MAPPED_FILE = 1224
FILENAME_TOO_LONG = 206
PRIVILEGE_NOT_HELD = 1314  # symlinks without Developer Mode
DIRECTORY_NAME_INVALID = 267  # a file where a folder should be
_LOCK_ERRNOS = frozenset({errno.EBUSY, errno.ETXTBSY})
_LOCK_PHRASES = (
    "being used by another process",
    "used by another process",
    "resource busy",
    "text file busy",
    "sharing violation",
    "lock violation",
)
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_DISK_WINERRORS = frozenset({39, 112})  # ERROR_HANDLE_DISK_FULL, ERROR_DISK_FULL


class FileOp(str, Enum):
    """What a file call was doing; decides which errors count as a passing lock."""

    READ = "read"  # open/read/stat/hash
    WRITE = "write"  # create/write/truncate a file
    MOVE = "move"  # rename/replace a file or folder
    REMOVE = "remove"  # unlink/rmdir/rmtree

    @property
    def lock_winerrors(self) -> frozenset[int]:
        if self in (FileOp.MOVE, FileOp.REMOVE):
            return _LOCK_WINERRORS | {ACCESS_DENIED, DIR_NOT_EMPTY, USER_MAPPED_FILE}
        if self is FileOp.WRITE:
            return _LOCK_WINERRORS | {USER_MAPPED_FILE}
        return _LOCK_WINERRORS


class StudioError(Exception):
    """Base of every error a user sees; subclasses set the default texts."""

    title = "Something went wrong"
    default_causes: tuple[str, ...] = ()
    default_remedies: tuple[str, ...] = ()

    def __init__(
        self,
        summary: str,
        *,
        causes: Sequence[str] | None = None,
        remedies: Sequence[str] | None = None,
        paths: Sequence[Path | str] = (),
        detail: str | None = None,
    ) -> None:
        super().__init__(summary)
        self.summary = summary
        self.causes = tuple(causes) if causes is not None else self.default_causes
        self.remedies = tuple(remedies) if remedies is not None else self.default_remedies
        self.paths = tuple(str(p) for p in paths)
        self.detail = detail

    @property
    def kind(self) -> str:
        """A short stable name for the category (used by the API and tests)."""
        return _KIND_BY_CLASS.get(type(self), "error")

    def render(self) -> str:
        """The full readable message: what, why, what to do, where."""
        lines = [f"{self.title}: {self.summary}"]
        if self.detail:
            lines.append(f"Details: {self.detail}")
        if self.causes:
            lines.append("Likely causes:")
            lines.extend(f"  - {c}" for c in self.causes)
        if self.remedies:
            lines.append("What to do:")
            lines.extend(f"  - {r}" for r in self.remedies)
        if self.paths:
            lines.append("Paths involved:")
            lines.extend(f"  - {p}" for p in self.paths)
        return "\n".join(lines)


class FileLockedError(StudioError):
    title = "A file is locked by another program"
    default_causes = (
        "Antivirus or Windows Defender is scanning the model files",
        "A cloud-sync tool (OneDrive, Dropbox, Google Drive) is syncing the cache folder",
        "The search indexer or a backup tool has the file open",
        "Another stt-studio or Python process is using the same model",
    )


class PermissionDeniedError(StudioError):
    title = "Permission denied"
    default_causes = (
        "The folder is read-only or owned by another user",
        "The cache folder was created by an administrator or another account",
        "Security software blocks writes to this folder",
    )


class NetworkError(StudioError):
    title = "Network or download error"
    default_causes = (
        "No internet connection, or a proxy/firewall blocks huggingface.co",
        "The model hub is down or rate-limits this machine",
        "The model is gated and needs a Hugging Face token (HF_TOKEN)",
    )
    default_remedies = (
        "Check the connection, then run `stt-studio models pull NAME` again",
        "Or use a model that is already cached (see `stt-studio models`) or a local file",
    )


class FileSystemError(StudioError):
    title = "File system error"
    default_causes = (
        "The disk is full",
        "The path does not exist or is not a folder",
        "The drive was disconnected or has errors",
    )


class ModelNotFoundError(StudioError):
    title = "Model not found"
    default_remedies = (
        "Run `stt-studio models` to see the known model names",
        "Or pass a local path: a .nemo file, an extracted NeMo folder, or a CTranslate2 Whisper folder",
    )


class EngineMissingError(StudioError):
    title = "Speech engine not installed"


class AudioError(StudioError):
    title = "Cannot read the audio"
    default_causes = (
        "The file is empty or holds no audio stream",
        "The file is damaged or truncated",
        "The format is not audio/video, or its codec is not supported",
    )
    default_remedies = (
        "Play the file in a media player to check it",
        "Convert it, e.g. `ffmpeg -i INPUT -ar 16000 -ac 1 out.wav`, and try again",
    )


class InvalidOptionError(StudioError):
    """``option``: the flag or field it is about, when one is to blame (the API names it)."""

    title = "Invalid option"

    def __init__(self, summary: str, *, option: str | None = None,
                 causes: Sequence[str] | None = None, remedies: Sequence[str] | None = None,
                 paths: Sequence[Path | str] = (), detail: str | None = None) -> None:
        super().__init__(summary, causes=causes, remedies=remedies, paths=paths, detail=detail)
        self.option = option


class ModelInUseError(StudioError):
    title = "The model is in use"
    default_causes = ("A transcription is running with this model right now",)
    default_remedies = ("Wait for the transcription to finish, then try again",)


class JobCancelled(StudioError):
    title = "Cancelled"
    default_causes = ("The job was cancelled, or the page that started it was closed",)
    default_remedies = ("Start it again when you are ready; nothing half-done was kept",)


class ServerError(StudioError):
    title = "Cannot start the web server"
    default_causes = (
        "Another program (or another stt-studio) already uses this port",
        "The host address does not belong to this machine",
    )


class LiveLimitError(StudioError):
    title = "Live transcription stopped at a limit"
    default_causes = ("The session reached one of the live limits of this studio",)
    default_remedies = (
        "Start a new session; the text so far was kept",
        "A smaller or faster model keeps up more easily (tiny.en, base.en on a CPU)",
    )


class UnexpectedError(StudioError):
    title = "Unexpected error"
    default_remedies = (
        "Run again with --debug to see the full traceback",
        "Report the traceback at the project's issue tracker",
    )


_KIND_BY_CLASS: dict[type[StudioError], str] = {
    FileLockedError: "file_locked",
    LiveLimitError: "live_limit",
    PermissionDeniedError: "permission_denied",
    NetworkError: "network",
    FileSystemError: "filesystem",
    ModelNotFoundError: "model_not_found",
    EngineMissingError: "engine_missing",
    AudioError: "audio",
    InvalidOptionError: "invalid_option",
    ModelInUseError: "model_in_use",
    ServerError: "server",
    JobCancelled: "cancelled",
    UnexpectedError: "unexpected",
}


def winerror_of(exc: BaseException) -> int | None:
    """Windows' error code (CPython sets ``winerror`` on Windows only; tests set it too)."""
    code = getattr(exc, "winerror", None)
    return code if isinstance(code, int) else None


def is_lock_error(exc: BaseException, op: FileOp = FileOp.READ) -> bool:
    """True for errors that mean "someone else holds this file right now".

    Windows reports these as WinError 32/33 on the file itself and, for
    ``MOVE``/``REMOVE`` of its folder, as 5, 145 or 1224 (see the module
    docstring); POSIX as EBUSY/ETXTBSY. The message check catches wrapped
    errors that kept the text.
    """
    if not isinstance(exc, OSError):
        return False
    if winerror_of(exc) in op.lock_winerrors:
        return True
    if exc.errno in _LOCK_ERRNOS:
        return True
    text = str(exc).lower()
    return any(phrase in text for phrase in _LOCK_PHRASES)


def lock_remedies(cache_dir: Path | str) -> tuple[str, ...]:
    return (
        "Pause OneDrive/Dropbox/Google Drive sync while loading models",
        f"Exclude the cache folder from antivirus scanning and sync: {cache_dir}",
        "Close other stt-studio or Python windows that use the same model",
        "Restart the computer if the lock does not go away",
        f"To start clean, close stt-studio and delete the cache folder ({cache_dir}) "
        "or run `stt-studio models rm NAME`",
    )


def permission_remedies(cache_dir: Path | str) -> tuple[str, ...]:
    return (
        "Make the folder writable for your user, e.g. "
        + advice.make_writable_hint(cache_dir, recursive=True),
        "Or choose another cache folder with --cache-dir or STT_STUDIO_CACHE_DIR",
        "Do not run stt-studio from a protected folder such as Program Files",
    )


def short_cache_remedy() -> str:
    return r"Use a short cache folder: --cache-dir C:\stt-cache (or STT_STUDIO_CACHE_DIR)"


def translate_os_error(
    exc: OSError, *, action: str, path: Path | str, cache_dir: Path | str,
    op: FileOp | None = None,
) -> StudioError:
    """Map an OSError met while doing ``action`` on ``path`` to a StudioError.

    ``op`` decides which Windows codes mean a lock; by default it is the one
    the retrier recorded on the error (``file_op``), else ``READ``.
    """
    if op is None:
        recorded = getattr(exc, "file_op", None)
        op = recorded if isinstance(recorded, FileOp) else FileOp.READ
    where = str(path)
    detail = f"{type(exc).__name__}: {exc}"
    paths = (where, str(cache_dir)) if str(cache_dir) != where else (where,)
    code = winerror_of(exc)
    if is_lock_error(exc, op):
        if code == ACCESS_DENIED:
            return FileLockedError(
                f"Windows refused to {action} (Access is denied) while another program "
                f"held a file inside: {where}",
                causes=(*FileLockedError.default_causes,
                        "Less often: the folder is read-only or belongs to another account"),
                remedies=(*lock_remedies(cache_dir), *permission_remedies(cache_dir)[:2]),
                paths=paths, detail=detail,
            )
        return FileLockedError(
            f"could not {action} because the file is in use: {where}",
            remedies=lock_remedies(cache_dir), paths=paths, detail=detail,
        )
    if code == FILENAME_TOO_LONG or exc.errno == errno.ENAMETOOLONG:
        return FileSystemError(
            f"the path is too long to {action}: {where}",
            causes=("Windows limits paths to 260 characters unless long paths are enabled",
                    "The cache folder is deep inside another folder"),
            remedies=(short_cache_remedy(),
                      "Or enable long paths: set LongPathsEnabled=1 under HKLM\\SYSTEM\\"
                      "CurrentControlSet\\Control\\FileSystem, then restart"),
            paths=paths, detail=detail,
        )
    if code == PRIVILEGE_NOT_HELD:
        # os.symlink(target, link): Windows puts the target (often relative) first and
        # the link, the file that could not be made, second; name the link
        link = getattr(exc, "filename2", None)
        if link:
            where = str(link)
            paths = (where, str(cache_dir))
        return PermissionDeniedError(
            f"Windows does not let this account create symbolic links, needed to {action}: "
            f"{where}",
            causes=("Developer Mode is off, and stt-studio does not run as administrator",),
            remedies=("Turn on Developer Mode: Settings → Privacy & security → For developers",
                      "Or run stt-studio once as administrator to download the model"),
            paths=paths, detail=detail,
        )
    if isinstance(exc, PermissionError):
        return PermissionDeniedError(
            f"not allowed to {action}: {where}",
            remedies=permission_remedies(cache_dir), paths=paths, detail=detail,
        )
    if exc.errno in _DISK_ERRNOS or code in _DISK_WINERRORS:
        return FileSystemError(
            f"the disk is full while trying to {action}: {where}",
            causes=("The drive that holds the cache has no free space left",),
            remedies=(
                "Free some disk space, or remove unused models with `stt-studio models rm NAME`",
                "Or move the cache to a bigger drive with --cache-dir or STT_STUDIO_CACHE_DIR",
            ),
            paths=paths, detail=detail,
        )
    if (isinstance(exc, (NotADirectoryError, FileExistsError))
            or code == DIRECTORY_NAME_INVALID):
        blocker = _blocking_file(Path(exc.filename or where))
        return FileSystemError(
            f"a file stands where a folder should be, so stt-studio could not {action}: "
            f"{blocker}",
            causes=("A file was created or copied with the name of one of the cache's folders",),
            remedies=(f"Move or delete that file: {blocker}",
                      "Or choose another cache folder with --cache-dir"),
            paths=tuple(dict.fromkeys((str(blocker), *paths))), detail=detail,
        )
    return FileSystemError(
        f"could not {action}: {where}",
        remedies=(
            "Check that the path exists and the drive is connected",
            "Run `stt-studio doctor` to check the cache folder",
        ),
        paths=paths,
        detail=detail,
    )


def _blocking_file(path: Path) -> Path:
    """The file that stands in the way of ``path`` (itself or a parent), if one does."""
    for candidate in (path, *path.parents):
        try:
            if candidate.is_file():
                return candidate
        except OSError:
            continue
    return path
