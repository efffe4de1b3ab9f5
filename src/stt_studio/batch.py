"""Plan a batch: which files to transcribe, where their outputs go, what to skip.

Pure planning over the file system (listing and ``stat`` only, no heavy
imports), so it is cheap to test and runs before any model loads.

- Inputs are files and folders. A folder contributes its audio and video
  files (recognised by extension), its sub-folders too when ``recursive``;
  hidden entries (``.name``) are left out and a folder reached twice through
  symlinks (a loop) is walked once. A file named on the command line is
  always tried, whatever its extension.
- Outputs mirror the folders: ``<folder arg>/a/b/x.wav`` -> ``<output_dir>/a/b/x.*``;
  a file given directly -> ``<output_dir>/x.*``. Stems that clash inside one
  output folder are told apart (``a.wav`` + ``a.mp3`` -> ``a_wav``, ``a_mp3``).
- An input whose requested outputs all exist is skipped unless ``overwrite``,
  so a stopped batch resumes; one with only some of them is redone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

#: extensions (lower-case, no dot) taken as audio or video when a folder is walked
MEDIA_EXTENSIONS = frozenset({
    # audio
    "wav", "wave", "flac", "mp3", "mp2", "m4a", "m4b", "aac", "ogg", "oga", "opus", "wma",
    "aiff", "aif", "aifc", "amr", "awb", "wv", "ape", "mka", "ac3", "eac3", "dts", "caf",
    "au", "snd", "spx", "tta", "mpc", "ra", "w64", "rf64", "voc", "gsm", "mpga",
    # video
    "webm", "mp4", "mkv", "mov", "avi", "m4v", "3gp", "3g2", "wmv", "flv", "mpg", "mpeg",
    "ts", "mts", "m2ts", "vob", "ogv", "asf", "f4v", "dv", "mxf",
})

_DIGITS = re.compile(r"([0-9]+)")


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One recording to transcribe into ``<output_folder>/<stem>.<fmt>``."""

    source: Path
    output_folder: Path
    stem: str

    def targets(self, formats: Sequence[str]) -> tuple[Path, ...]:
        return tuple(self.output_folder / f"{self.stem}.{fmt}" for fmt in formats)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A folder that could not be listed, and why."""

    path: Path
    reason: str


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """items: to transcribe, in order. skipped_existing: all their outputs exist.

    skipped_non_media: files in walked folders that are not audio or video.
    unreadable: folders that could not be listed (their files are not in the plan).
    empty_folders: folder inputs without a single audio or video file (in their
    sub-folders too when recursive) -- a mistake worth saying, not a success.
    """

    items: tuple[BatchItem, ...]
    skipped_existing: tuple[BatchItem, ...] = ()
    skipped_non_media: tuple[Path, ...] = ()
    unreadable: tuple[Unreadable, ...] = ()
    empty_folders: tuple[Path, ...] = ()

    @property
    def total(self) -> int:
        """Inputs found (to run plus already done)."""
        return len(self.items) + len(self.skipped_existing)


@dataclass(frozen=True, slots=True)
class _Found:
    source: Path
    relative_folder: Path  # the output sub-folder, relative to the output dir


def is_media(path: Path) -> bool:
    return path.suffix[1:].lower() in MEDIA_EXTENSIONS


def natural_key(text: str) -> tuple[int | str, ...]:
    """``clip2`` before ``clip10``; case-insensitive (text and numbers alternate)."""
    return tuple(int(part) if index % 2 else part.casefold()
                 for index, part in enumerate(_DIGITS.split(text)))


def _path_key(relative: Path) -> tuple[tuple[tuple[int | str, ...], str], ...]:
    return tuple((natural_key(part), part) for part in relative.parts)


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` itself or lies below it (after resolving)."""
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True


class _Walk:
    """One folder argument's files: media, non-media, unreadable folders."""

    def __init__(self, root: Path, recursive: bool, exclude: Path | None) -> None:
        self.root = root
        self.recursive = recursive
        self.exclude = exclude
        self.media: list[Path] = []
        self.other: list[Path] = []
        self.unreadable: list[Unreadable] = []
        self._seen: set[tuple[int, int]] = set()

    def run(self) -> None:
        self._folder(self.root)

    def _folder(self, folder: Path) -> None:
        try:
            info = folder.stat()
        except OSError as exc:
            self.unreadable.append(Unreadable(folder, exc.strerror or str(exc)))
            return
        key = (info.st_dev, info.st_ino)
        if key in self._seen:  # a symlink back up the tree: walked already
            return
        self._seen.add(key)
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: (natural_key(e.name), e.name))
        except OSError as exc:
            self.unreadable.append(Unreadable(folder, exc.strerror or str(exc)))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = folder / entry.name
            try:
                is_dir = entry.is_dir()  # follows symlinks; loops are caught by _seen
            except OSError:
                is_dir = False
            if is_dir:
                if self.recursive and not (self.exclude and _inside(path, self.exclude)):
                    self._folder(path)
                continue
            (self.media if is_media(path) else self.other).append(path)


@dataclass(frozen=True, slots=True)
class _Expanded:
    found: list[_Found]
    other: list[Path]
    unreadable: list[Unreadable]
    empty: list[Path]


def _expand(inputs: Sequence[Path], recursive: bool, output_dir: Path) -> _Expanded:
    found: list[_Found] = []
    other: list[Path] = []
    unreadable: list[Unreadable] = []
    empty: list[Path] = []
    for given in inputs:
        given = Path(given)
        if not given.is_dir():  # a file, or a missing path: always tried (and said why not)
            found.append(_Found(given, Path()))
            continue
        # an output folder inside the input folder is not walked back into
        exclude = output_dir if _inside(output_dir, given) and not _inside(given, output_dir) \
            else None
        walk = _Walk(given, recursive, exclude)
        walk.run()
        media = sorted(walk.media, key=lambda p: _path_key(p.relative_to(given)))
        found.extend(_Found(p, p.parent.relative_to(given)) for p in media)
        other.extend(walk.other)
        unreadable.extend(walk.unreadable)
        if not media and not any(u.path == given for u in walk.unreadable):
            empty.append(given)
    return _Expanded(_dedupe(found), other, unreadable, empty)


def _dedupe(found: list[_Found]) -> list[_Found]:
    """The same file reached twice (named and inside a folder) runs once."""
    seen: set[str] = set()
    unique = []
    for item in found:
        key = os.path.normcase(os.path.abspath(item.source))
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def output_stems(inputs: Sequence[Path]) -> list[str]:
    """``<input stem>``, disambiguated when two inputs share one (a.wav, a.mp3).

    Compared case-insensitively (Windows and macOS file systems); inputs that
    still clash (the same name in two folders) get ``-2``, ``-3``...
    """
    stems = [p.stem.lower() for p in inputs]
    names = [
        f"{p.stem}_{p.suffix.lstrip('.')}" if stems.count(p.stem.lower()) > 1 and p.suffix
        else p.stem
        for p in inputs
    ]
    used: set[str] = set()
    unique = []
    for name in names:
        candidate, n = name, 1
        while candidate.lower() in used:
            n += 1
            candidate = f"{name}-{n}"
        used.add(candidate.lower())
        unique.append(candidate)
    return unique


def _with_stems(found: list[_Found], output_dir: Path) -> Iterator[BatchItem]:
    """Items in input order; stems told apart within each output folder."""
    by_folder: dict[str, list[int]] = {}
    for index, item in enumerate(found):
        key = os.path.normcase(str(item.relative_folder))
        by_folder.setdefault(key, []).append(index)
    stems: dict[int, str] = {}
    for indexes in by_folder.values():
        for index, stem in zip(indexes, output_stems([found[i].source for i in indexes])):
            stems[index] = stem
    for index, item in enumerate(found):
        yield BatchItem(item.source, output_dir / item.relative_folder, stems[index])


def plan(
    inputs: Sequence[Path],
    output_dir: Path,
    formats: Sequence[str],
    *,
    recursive: bool = False,
    overwrite: bool = False,
) -> BatchPlan:
    """Expand ``inputs`` into a :class:`BatchPlan` (see the module docstring)."""
    expanded = _expand(inputs, recursive, Path(output_dir))
    items: list[BatchItem] = []
    done: list[BatchItem] = []
    for item in _with_stems(expanded.found, Path(output_dir)):
        finished = not overwrite and bool(formats) and all(
            t.is_file() for t in item.targets(formats))
        (done if finished else items).append(item)
    return BatchPlan(tuple(items), tuple(done), tuple(expanded.other),
                     tuple(expanded.unreadable), tuple(expanded.empty))
