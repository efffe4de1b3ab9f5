"""The studio's one service: every shell (CLI, API, UI) calls these functions."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from stt_studio import progress as job_progress
from stt_studio.audio import chunking
from stt_studio.audio.decode import decode_file
from stt_studio.cache import CacheLayout
from stt_studio.domain import (
    Audio,
    ModelSpec,
    Progress,
    Segment,
    Stage,
    Transcript,
    TranscriptionOptions,
)
from stt_studio.engines.base import LoadedModel
from stt_studio.errors import (
    EngineMissingError,
    FileLockedError,
    FileOp,
    JobCancelled,
    PermissionDeniedError,
    StudioError,
    translate_os_error,
)
from stt_studio.formats import render
from stt_studio.fsops import write_text_atomic
from stt_studio.models import catalog, store
from stt_studio.models.manager import LoadedEntry, ModelManager
from stt_studio.retry import Retrier
from stt_studio.settings import Settings

log = logging.getLogger(__name__)

WINDOW_OVERLAP_S = 10.0
#: how long `models rm` waits for a transcription that uses the model
REMOVE_WAIT_S = 60.0


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """A registry model as listings show it; ``problem`` when its files cannot be read."""

    spec: ModelSpec
    cached: bool
    cache_path: Path | None
    loaded: bool
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """A transcript plus how it was made (for summaries)."""

    transcript: Transcript
    device: str
    elapsed_s: float
    engine: str = ""

    @property
    def speed_x(self) -> float:
        return self.transcript.duration_s / self.elapsed_s if self.elapsed_s > 0 else 0.0


def _output_advice(error: StudioError, folder: Path, target: Path) -> StudioError:
    """The same error, with remedies about the output folder rather than the cache."""
    if isinstance(error, FileLockedError):
        remedies: tuple[str, ...] = (
            f"Close the program that has {target.name} open (a player, an editor, a sync "
            "tool), then run again",
            "Or write somewhere else with --output-dir",
        )
    elif isinstance(error, PermissionDeniedError):
        remedies = (f"Make the output folder writable for your user, e.g. `chmod u+rwX {folder}`",
                    "Or write somewhere else with --output-dir")
    else:
        remedies = ("Free some space on that drive, or check that the folder exists and is a "
                    "folder", "Or write somewhere else with --output-dir")
    return type(error)(error.summary, causes=error.causes, remedies=remedies,
                       paths=(str(target),), detail=error.detail)


class Studio:
    def __init__(self, settings: Settings, layout: CacheLayout, retrier: Retrier | None = None):
        self.settings = settings
        self.layout = layout
        self.retrier = retrier or Retrier(settings.retry)
        self.models = ModelManager(layout, self.retrier)

    def _ensure_cache(self) -> None:
        """(Re)create the cache folders; what stands in the way is said plainly."""
        try:
            self.layout.ensure()
        except OSError as exc:  # a file where a folder should be, read-only, disk full
            raise translate_os_error(exc, action="create the cache folders",
                                     path=exc.filename or self.layout.root,
                                     cache_dir=self.layout.root) from exc

    # -- transcription -------------------------------------------------------------
    def load(self, model: str | None = None, progress: Progress | None = None) -> LoadedModel:
        spec = catalog.resolve(model or self.settings.default_model)
        with job_progress.job(progress):
            self._ensure_cache()
            return self.models.get(spec, self.settings.device)

    def transcribe_file(
        self,
        path: Path,
        model: str | None = None,
        options: TranscriptionOptions | None = None,
        progress: Progress | None = None,
    ) -> Result:
        """Load (once), decode and transcribe ``path``; news goes to ``progress``."""
        started = time.perf_counter()
        with job_progress.job(progress):
            job_progress.stage(Stage.LOADING)
            spec = catalog.resolve(model or self.settings.default_model)
            self._ensure_cache()
            with self.models.lease(spec, self.settings.device) as loaded:
                job_progress.stage(Stage.DECODING)
                audio = decode_file(Path(path), cache_dir=self.layout.root,
                                    retrier=self.retrier)
                job_progress.stage(Stage.TRANSCRIBING)
                transcript = self.transcribe_audio(audio, loaded,
                                                   options or TranscriptionOptions())
            return Result(transcript, loaded.device, time.perf_counter() - started,
                          loaded.spec.engine.value)

    def transcribe_many(
        self,
        paths: Sequence[Path],
        model: str | None = None,
        options: TranscriptionOptions | None = None,
        progress_for: Callable[[Path], Progress | None] | None = None,
    ) -> Iterator[tuple[Path, Result | Exception]]:
        """Transcribe ``paths`` in turn, yielding each outcome as soon as it is known.

        One bad file never stops the rest: its error is yielded in place of a
        result. A cancelled job (:class:`JobCancelled`) and Ctrl-C propagate.
        ``progress_for(path)`` gives the progress callback for that file.
        """
        for path in paths:
            try:
                result = self.transcribe_file(path, model, options,
                                              progress_for(path) if progress_for else None)
            except JobCancelled:
                raise
            except Exception as exc:  # noqa: BLE001 - yielded, reported by the shell
                yield path, exc
                continue
            yield path, result

    def transcribe_audio(
        self, audio: Audio, loaded: LoadedModel, options: TranscriptionOptions,
    ) -> Transcript:
        window_s = loaded.info.max_window_s
        if window_s is not None:
            window_s = min(window_s, self.settings.long_audio_window_s)
        if window_s is None or audio.duration_s <= window_s:
            output = loaded.transcribe(audio, options)
            segments = output.segments
            language = output.language
        else:
            segments, language = self._windowed(audio, loaded, options, window_s)
        segments = tuple(chunking.clamp(s, audio.duration_s) for s in segments if s.text.strip())
        return Transcript(
            text=" ".join(s.text.strip() for s in segments),
            language=language,
            duration_s=audio.duration_s,
            model=loaded.spec.name,
            segments=segments,
        )

    def _windowed(
        self, audio: Audio, loaded: LoadedModel, options: TranscriptionOptions, window_s: float,
    ) -> tuple[tuple[Segment, ...], str | None]:
        overlap_s = WINDOW_OVERLAP_S if loaded.info.timestamps else 0.0
        windows = chunking.plan_windows(audio.duration_s, window_s, overlap_s)
        log.info("%.0f s of audio in %d windows of %.0f s", audio.duration_s, len(windows),
                 window_s)
        pieces = []
        language = None
        rate = audio.sample_rate_hz
        for number, window in enumerate(windows, 1):
            job_progress.stage(Stage.TRANSCRIBING, f"part {number} of {len(windows)}",
                               (number - 1) / len(windows))
            part = Audio(audio.samples[int(window.start_s * rate):int(window.end_s * rate)], rate)
            output = loaded.transcribe(part, options)
            language = language or output.language
            pieces.append((window, output.segments))
        return chunking.merge(pieces), language

    def write_outputs(
        self, transcript: Transcript, folder: Path, stem: str, formats: Sequence[str],
        *, users_folder: bool = True,
    ) -> list[Path]:
        """``<folder>/<stem>.<fmt>`` for each format, each written atomically.

        ``users_folder``: the user chose ``folder`` (``--output-dir``), so a failure's
        advice is about that folder; the UI writes into the studio's own folder.
        """
        written = []
        for fmt in formats:
            target = folder / f"{stem}.{fmt}"
            try:
                self.retrier.run(lambda: folder.mkdir(parents=True, exist_ok=True),
                                 f"create {folder}", FileOp.WRITE)
                write_text_atomic(target, render(transcript, fmt), self.retrier)
            except OSError as exc:
                error = translate_os_error(exc, action="write the transcript", path=target,
                                           cache_dir=self.layout.root)
                if users_folder:
                    error = _output_advice(error, folder, target)
                raise error from exc
            written.append(target)
        return written

    # -- models ----------------------------------------------------------------------
    def list_models(self) -> list[ModelStatus]:
        loaded = {entry.name for entry in self.models.loaded()}
        out = []
        for spec in catalog.CATALOG:
            problem = None
            try:
                path = store.cached_path(spec, self.layout)
            except EngineMissingError:
                path = None
            except OSError as exc:  # unreadable is not "not cached": say why
                path = None
                problem = translate_os_error(
                    exc, action=f"look for {spec.name} in the cache",
                    path=exc.filename or self.layout.hf_hub_cache, cache_dir=self.layout.root,
                ).render()
            out.append(ModelStatus(spec, path is not None, path, spec.name in loaded, problem))
        return out

    def pull(self, name: str, progress: Progress | None = None) -> Path:
        spec = catalog.resolve(name)
        with job_progress.job(progress):
            self._ensure_cache()
            try:
                return store.local_model_dir(spec, self.layout, self.retrier)
            except OSError as exc:
                raise translate_os_error(exc, action=f"get the model {spec.name}",
                                         path=exc.filename or self.layout.root,
                                         cache_dir=self.layout.root) from exc

    def remove(self, name: str) -> list[Path]:
        """Unload (waiting for a running job) and delete a model's files."""
        spec = catalog.resolve(name)
        self.models.unload(spec.name, wait_s=REMOVE_WAIT_S)
        try:
            return store.remove(spec, self.layout, self.retrier)
        except StudioError:
            raise
        except OSError as exc:
            raise translate_os_error(exc, action=f"remove the model {spec.name}",
                                     path=exc.filename or self.layout.root,
                                     cache_dir=self.layout.root) from exc

    def loaded(self) -> list[LoadedEntry]:
        return self.models.loaded()

    def unload(self, name: str, wait_s: float = 0.0) -> bool:
        """Unload ``name``; a model in use is waited for up to ``wait_s`` (then ModelInUseError)."""
        return self.models.unload(catalog.resolve(name).name, wait_s=wait_s)

    def loading(self) -> dict[str, float]:
        """Models being loaded right now: name -> seconds so far."""
        return self.models.loading()

    def cache_size_bytes(self) -> int:
        """Bytes under the cache root (files only; unreadable parts are skipped)."""
        total = 0
        for folder, _dirs, files in os.walk(self.layout.root):
            for name in files:
                try:
                    total += os.lstat(os.path.join(folder, name)).st_size
                except OSError:
                    continue
        return total
