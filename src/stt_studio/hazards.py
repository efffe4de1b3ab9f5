"""Paths that break model downloads and loads, found before a load fails.

Native libraries (sentencepiece, CTranslate2, some FFmpeg builds) open files
through narrow Windows APIs and fail on non-ASCII paths; Windows paths of 260
characters or more fail unless long paths are enabled; a cache inside a
OneDrive/Dropbox/Google Drive folder is uploaded and locked while models are
written and read; and the Hugging Face cache links snapshot files to blobs,
which a Windows account without Developer Mode may not do (WinError 1314).

The cache is one folder models load from; the others are read in place: the
bundled tiny.en in site-packages (a Windows profile named ``José`` puts it
under ``C:\\Users\\José``) and local model folders. :func:`path_hazards` checks
them all.

:func:`find_hazards` and :func:`model_folder_hazards` decide from what they are
given (so tests can play Windows on any machine); :func:`windows_hazards` and
:func:`path_hazards` give them this machine (the platform from
:mod:`stt_studio.system`). All are cheap: no model library is imported.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any

from stt_studio import system
from stt_studio.cache import CacheLayout
from stt_studio.domain import ModelSpec
from stt_studio.errors import PRIVILEGE_NOT_HELD, StudioError, winerror_of
from stt_studio.models import catalog

log = logging.getLogger(__name__)

#: Windows' MAX_PATH counts the terminating NUL: a usable path has at most 259 characters
MAX_PATH_CHARS = 260
#: the folder variables the OneDrive client sets (personal and work accounts)
ONEDRIVE_ENV_VARS = ("OneDrive", "OneDriveConsumer", "OneDriveCommercial")
#: folders that sync clients create and keep in sync
SYNC_FOLDER_NAMES = ("OneDrive", "Dropbox", "Google Drive", "GoogleDrive", "My Drive",
                     "iCloudDrive", "Box", "Mobile Documents", "CloudStorage")
#: "OneDrive - Contoso" (work), "Dropbox (Personal)", macOS "GoogleDrive-ana@example.com"
SYNC_FOLDER_PREFIXES = ("OneDrive - ", "OneDrive-", "Dropbox (", "GoogleDrive-")
#: errors of a symlink call that mean "not allowed here", not "cannot write here"
_NO_SYMLINK_ERRNOS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP})

# what the studio writes below the cache root, for the length check
_HUB_PREFIX = "huggingface/hub/"
_COMMIT_CHARS = 40  # snapshots/<commit sha1>/
_BLOB = "/blobs/" + "0" * 64 + ".incomplete"  # a download in progress: <sha256>.incomplete
_PID_CHARS = 7
#: extracted/.partial-<sha[:32]>-<pid>-<8 hex>/<member>; NeMo names tokenizer members
#: "<32 hex>_tokenizer.vocab" (48); 64 leaves room for longer ones
_STAGING = "extracted/.partial-" + "0" * 32 + "-" + "0" * _PID_CHARS + "-" + "0" * 8 + "/"
_MEMBER_CHARS = 64

SymlinkProbe = Callable[[Path], OSError | None]

#: what a hazard is about: the cache, or a folder a model is read from in place
CACHE_PATH, MODEL_FOLDER = "cache path", "model folder"
_HEADINGS = {CACHE_PATH: "⚠ The cache folder's path can break model downloads and loading:",
             MODEL_FOLDER: "⚠ A model folder's path can break loading that model:"}
_NARROW_APIS = ("sentencepiece, CTranslate2 and some FFmpeg builds open files through narrow "
                "Windows APIs and cannot load models there")
_LONG_PATHS_FIX = (r"enable long paths (LongPathsEnabled=1 under "
                   r"HKLM\SYSTEM\CurrentControlSet\Control\FileSystem), then restart")


@dataclass(frozen=True, slots=True)
class Hazard:
    """One thing about a path that will break a download or a load.

    name: a short key ("non-ASCII path", "long path", "sync folder", "no symlinks").
    detail: what was found, with the path.
    remedy: what to do about it.
    subject: :data:`CACHE_PATH` or :data:`MODEL_FOLDER`.
    """

    name: str
    detail: str
    remedy: str
    subject: str = CACHE_PATH


@dataclass(frozen=True, slots=True)
class ModelFolder:
    """A folder outside the cache that a model is loaded from in place.

    label: how people know it ("the bundled model tiny.en").
    path: the folder.
    deepest_chars: the longest path of a file below it, relative to it.
    remedy: how to load the model from a plain, short path instead.
    """

    label: str
    path: PurePath
    deepest_chars: int
    remedy: str


def longest_relative_path_chars(specs: Sequence[ModelSpec] = catalog.CATALOG) -> int:
    """The longest path the studio creates below the cache root, in characters."""
    longest = len(_STAGING) + _MEMBER_CHARS
    for spec in specs:
        if spec.bundled or spec.local:
            continue
        repo = _HUB_PREFIX + "models--" + spec.source.replace("/", "--")
        filename = spec.nemo_filename or "preprocessor_config.json"
        snapshot = f"/snapshots/{'0' * _COMMIT_CHARS}/{filename}"
        longest = max(longest, len(repo) + max(len(snapshot), len(_BLOB)))
    return longest


def find_hazards(
    cache_root: PurePath,
    env: Mapping[str, str],
    *,
    windows: bool,
    long_paths_enabled: bool | None,
    symlink_probe: SymlinkProbe,
) -> tuple[Hazard, ...]:
    """The hazards of ``cache_root`` on the platform described by the arguments.

    windows: judge the path as Windows does (non-ASCII and length matter there
        only; the sync-folder check applies everywhere).
    long_paths_enabled: the LongPathsEnabled registry value (``None``: unknown,
        taken as off).
    symlink_probe: tries to create a symlink in the given folder and returns
        the OSError it met, or ``None``.
    """
    root: PurePath = (PureWindowsPath(str(cache_root)) if windows
                      else PurePosixPath(str(cache_root)))
    example = r"C:\stt-cache" if windows else "~/stt-cache"
    short = f"--cache-dir {example} (or STT_STUDIO_CACHE_DIR)"
    hazards = []
    if windows:
        hazards.extend(_non_ascii(root, short))
        hazards.extend(_too_long(root, long_paths_enabled, short))
    hazards.extend(_synced(root, env, windows, short))
    hazards.extend(_no_symlinks(Path(str(cache_root)), symlink_probe, windows, short))
    return tuple(hazards)


def _odd_characters(text: str) -> str:
    return "".join(dict.fromkeys(ch for ch in text if not ch.isascii()))


def _non_ascii(root: PurePath, short: str) -> list[Hazard]:
    text = str(root)
    odd = _odd_characters(text)
    if not odd:
        return []
    return [Hazard(
        "non-ASCII path",
        f"{text} has non-ASCII characters ({odd}): {_NARROW_APIS}",
        f"use a cache folder whose path is plain ASCII: {short}",
    )]


def _too_long(root: PurePath, long_paths_enabled: bool | None, short: str) -> list[Hazard]:
    if long_paths_enabled:
        return []
    below = longest_relative_path_chars()
    total = len(str(root)) + 1 + below
    if total < MAX_PATH_CHARS:
        return []
    state = ("long paths are not enabled" if long_paths_enabled is False
             else "long path support could not be confirmed")
    return [Hazard(
        "long path",
        f"{root} is {len(str(root))} characters long: model files {below} characters "
        f"deeper reach {total}, past Windows' {MAX_PATH_CHARS}-character limit, and {state}",
        f"use a short cache folder: {short}; or {_LONG_PATHS_FIX}",
    )]


def _synced(root: PurePath, env: Mapping[str, str], windows: bool,
            short: str) -> list[Hazard]:
    def same(a: str, b: str) -> bool:
        return a.casefold() == b.casefold() if windows else a == b

    where = None
    for var in ONEDRIVE_ENV_VARS:
        value = env.get(var, "").strip()
        if value and _inside(root, value, windows):
            where = f"the OneDrive folder {value} (%{var}%)"
            break
    if where is None:
        for part in root.parts[1:]:  # the drive or "/" is no sync folder
            if (any(same(part, name) for name in SYNC_FOLDER_NAMES)
                    or any(same(part[:len(p)], p) for p in SYNC_FOLDER_PREFIXES)):
                where = f"the synced folder {part!r}"
                break
    if where is None:
        return []
    return [Hazard(
        "sync folder",
        f"{root} is inside {where}: the sync client uploads and locks model files "
        "while they are downloaded, unpacked and loaded",
        f"move the cache out of synced folders: {short}; or exclude the folder from sync",
    )]


def _inside(root: PurePath, base_text: str, windows: bool) -> bool:
    base = PureWindowsPath(base_text) if windows else PurePosixPath(base_text)
    if windows:
        parts = [p.casefold() for p in root.parts]
        base_parts = [p.casefold() for p in base.parts]
    else:
        parts, base_parts = list(root.parts), list(base.parts)
    return len(base_parts) > 0 and parts[:len(base_parts)] == base_parts


def _no_symlinks(root: Path, probe: SymlinkProbe, windows: bool, short: str) -> list[Hazard]:
    folder = CacheLayout(root).tmp_dir
    exc = probe(folder)
    if exc is None:
        return []
    code = winerror_of(exc)
    if code != PRIVILEGE_NOT_HELD and (code is not None or exc.errno not in _NO_SYMLINK_ERRNOS):
        log.debug("symlink probe in %s failed for another reason: %s", folder, exc)
        return []  # a read-only or missing folder: the cache checks report that
    remedy = ("turn on Developer Mode (Settings → Privacy & security → For developers), "
              "or run stt-studio once as administrator to download models" if windows
              else f"put the cache on a drive that supports symbolic links: {short}")
    return [Hazard(
        "no symlinks",
        f"symbolic links cannot be created in {folder} ({exc}): the Hugging Face cache "
        "links each snapshot file to its blob, so downloads fail (WinError 1314) or "
        "store every file twice",
        remedy,
    )]


def probe_symlink(folder: Path) -> OSError | None:
    """Create (and remove) a dangling symlink in ``folder``; the OSError met, if any."""
    link = folder / f".symlink-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.symlink(f"{link.name}.target", link)
    except OSError as exc:
        return exc
    try:
        link.unlink()
    except OSError as exc:  # a scanner may hold it: harmless, doctor --clean removes it
        log.debug("could not remove the symlink probe %s: %s", link, exc)
    return None


def long_paths_enabled() -> bool | None:
    """Windows' LongPathsEnabled setting; ``None`` elsewhere or when unreadable."""
    if not system.is_windows():
        return None
    try:  # through importlib: mypy reads winreg's stubs as empty off Windows
        winreg: Any = importlib.import_module("winreg")
    except ImportError:  # Windows played on another system (tests)
        return None
    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE,
                            r"SYSTEM\CurrentControlSet\Control\FileSystem") as key:
            value, _kind = winreg.QueryValueEx(key, "LongPathsEnabled")
    except OSError:
        return None
    return bool(value)


def windows_hazards(layout: CacheLayout) -> tuple[Hazard, ...]:
    """The hazards of this machine's cache (the name says where most of them bite)."""
    windows = system.is_windows()
    return find_hazards(layout.root, os.environ, windows=windows,
                        long_paths_enabled=long_paths_enabled() if windows else None,
                        symlink_probe=probe_symlink)


def path_hazards(layout: CacheLayout, models: Sequence[str] = ()) -> tuple[Hazard, ...]:
    """The hazards of every folder models load from on this machine: the cache, the
    bundled model's folder, and the folder of each local model named in ``models``."""
    windows = system.is_windows()
    enabled = long_paths_enabled() if windows else None
    found = list(windows_hazards(layout))
    for folder in model_folders(models):
        found.extend(model_folder_hazards(folder, windows=windows, long_paths_enabled=enabled))
    return tuple(found)


def model_folder_hazards(folder: ModelFolder, *, windows: bool,
                         long_paths_enabled: bool | None) -> tuple[Hazard, ...]:
    """The hazards of a folder a model is read from in place (Windows' narrow APIs and
    its path limit; nothing is written there, so sync and symlinks do not matter)."""
    if not windows:
        return ()
    text = str(PureWindowsPath(str(folder.path)))
    found = []
    if odd := _odd_characters(text):
        found.append(Hazard(
            "non-ASCII path",
            f"{folder.label} is in {text}, which has non-ASCII characters ({odd}): "
            f"{_NARROW_APIS}", folder.remedy, MODEL_FOLDER))
    total = len(text) + 1 + folder.deepest_chars
    if not long_paths_enabled and total >= MAX_PATH_CHARS:
        found.append(Hazard(
            "long path",
            f"{folder.label} is in {text}, {len(text)} characters long: its files reach "
            f"{total}, past Windows' {MAX_PATH_CHARS}-character limit",
            f"{folder.remedy}; or {_LONG_PATHS_FIX}", MODEL_FOLDER))
    return tuple(found)


def model_folders(models: Sequence[str] = ()) -> tuple[ModelFolder, ...]:
    """The folders outside the cache that models load from: the bundled model's (when its
    package is installed), then each local model folder among ``models``."""
    from stt_studio.models import store

    folders = []
    try:
        bundled = store.bundled_whisper_dir()
    except StudioError:
        bundled = None  # not installed: `doctor` says so, and loading it does
    if bundled is not None:
        folders.append(ModelFolder(f"the bundled model {catalog.BUNDLED_WHISPER}", bundled,
                                   _deepest_chars(bundled), _bundled_remedy()))
    for name in dict.fromkeys(models):
        try:
            spec = catalog.resolve(name)
        except StudioError:
            continue  # a bad name is reported where the model is loaded
        path = Path(spec.source)
        if spec.local and path.is_dir():  # a .nemo file is unpacked into the cache
            folders.append(ModelFolder(f"the model {path.name}", path, _deepest_chars(path),
                                       r"move the model to a plain, short ASCII folder such as "
                                       r"C:\models and load it from there"))
    return tuple(folders)


def _deepest_chars(folder: Path, limit: int = 2000) -> int:
    """The longest relative path of a file below ``folder`` (the first ``limit`` looked at)."""
    deepest = 0
    try:
        for seen, path in enumerate(folder.rglob("*")):
            if seen >= limit:
                break
            deepest = max(deepest, len(str(path.relative_to(folder))))
    except OSError as exc:
        log.debug("cannot list %s: %s", folder, exc)
    return deepest


def _bundled_remedy() -> str:
    same_model = ("or use the same model downloaded into the cache: "
                  "--model Systran/faster-whisper-tiny.en")
    if system.project_root() is not None:
        return (r"move the project to a plain, short ASCII folder such as C:\src\stt-studio "
                f"and set up its .venv there; {same_model}")
    return (r"install stt-studio into a virtual environment at a plain, short ASCII path "
            r"(PowerShell: py -3.11 -m venv C:\stt-venv; then C:\stt-venv\Scripts\python "
            f"-m pip install stt-studio); {same_model}")


def log_hazards(hazards: Sequence[Hazard]) -> None:
    """One WARNING per hazard, with its fix (at start-up, before any model loads)."""
    for hazard in hazards:
        log.warning("%s: %s\n  fix: %s", hazard.subject, hazard.detail, hazard.remedy)


def render_hazards(hazards: Sequence[Hazard]) -> str:
    """The hazards as a block of text for the web UI's status box ("" when none)."""
    blocks = []
    for subject, heading in _HEADINGS.items():
        mine = [h for h in hazards if h.subject == subject]
        if not mine:
            continue
        lines = [heading]
        for hazard in mine:
            lines.append(f"  - {hazard.detail}")
            lines.append(f"    fix: {hazard.remedy}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
