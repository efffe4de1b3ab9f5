"""The studio's one service: every shell (CLI, API, UI) calls these functions."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from stt_studio import advice, completeness, longform
from stt_studio import progress as job_progress
from stt_studio.audio import chunking, pieces, vad
from stt_studio.audio.blocks import Block, blocks
from stt_studio.audio.decode import AudioStream, decode_file
from stt_studio.cache import CacheLayout
from stt_studio.diarize import session as diarize_session
from stt_studio.diarize.session import Diarization
from stt_studio.domain import (
    SAMPLE_RATE_HZ,
    Audio,
    ComputeType,
    EngineKind,
    ModelSpec,
    NoteKind,
    Progress,
    Segment,
    Stage,
    Transcript,
    TranscriptionOptions,
    Unheard,
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
from stt_studio.formats import SubtitleLayout, render
from stt_studio.fsops import write_text_atomic
from stt_studio.live.decoder import ModelDecoder
from stt_studio.live.session import Emit, LiveOptions, LiveSession
from stt_studio.models import catalog, store
from stt_studio.models.manager import LoadedEntry, ModelManager
from stt_studio.retry import Retrier
from stt_studio.settings import Settings
from stt_studio.transcriber import Heard, Transcriber, unheard_in
from stt_studio.turns import Turns

log = logging.getLogger(__name__)

#: short files for a NeMo model go to it this many batches at a time (sorted by length there)
SHORT_FILE_BATCHES = 4
#: blocks are at most this long when the text is streamed as it comes (API ``stream=true``)
STREAM_BLOCK_S = 60.0
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
        remedies = ("Make the output folder writable for your user, e.g. "
                    + advice.make_writable_hint(folder, recursive=False),
                    "Or write somewhere else with --output-dir")
    else:
        remedies = ("Free some space on that drive, or check that the folder exists and is a "
                    "folder", "Or write somewhere else with --output-dir")
    return type(error)(error.summary, causes=error.causes, remedies=remedies,
                       paths=(str(target),), detail=error.detail)


def _note_ignored(loaded: LoadedModel, options: TranscriptionOptions) -> None:
    """Say which options this model does not use (NeMo has no prompt or temperature)."""
    if loaded.spec.engine is not EngineKind.NEMO:
        return
    ignored = [name for name, given in (("prompt", bool(options.initial_prompt)),
                                        ("temperature", options.temperature > 0)) if given]
    if ignored:
        job_progress.note(NoteKind.IGNORED,
                          f"{loaded.spec.name} is a NeMo model: it has no "
                          f"{' or '.join(ignored)}, so {'they were' if len(ignored) > 1 else 'it was'}"
                          " ignored (Whisper models use them)", logger=log)


def _only_language(loaded: LoadedModel) -> str | None:
    """The language of a one-language model (the answer even when nobody spoke)."""
    languages = loaded.info.languages
    return languages[0] if len(languages) == 1 else None


class Studio:
    def __init__(self, settings: Settings, layout: CacheLayout, retrier: Retrier | None = None):
        self.settings = settings
        self.layout = layout
        self.retrier = retrier or Retrier(settings.retry)
        self.models = ModelManager(layout, self.retrier)
        self.turns = Turns()

    def _compute_type(self, options: TranscriptionOptions) -> ComputeType:
        """The request's compute type, else the studio's (--compute-type)."""
        return options.compute_type or self.settings.compute_type

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
            return self.models.get(spec, self.settings.device,
                                   compute_type=self.settings.compute_type)

    def transcribe_file(
        self,
        path: Path,
        model: str | None = None,
        options: TranscriptionOptions | None = None,
        progress: Progress | None = None,
        on_segments: Heard | None = None,
    ) -> Result:
        """Load (once), then decode and transcribe ``path`` block by block.

        The recording is never held whole: memory depends on
        ``settings.block_s``, not on the recording's length. Jobs for one
        model take turns in the order they came (:class:`Turns`).
        ``on_segments`` receives the segments of each stretch as soon as
        they are final (in time order), for clients that show text as it comes.
        """
        started = time.perf_counter()
        options = options or TranscriptionOptions()
        with job_progress.job(progress):
            job_progress.stage(Stage.LOADING)
            spec = catalog.resolve(model or self.settings.default_model)
            self._ensure_cache()
            with self.turns.turn(spec.name), \
                    self.models.lease(spec, self.settings.device,
                                      compute_type=self._compute_type(options)) as loaded:
                _note_ignored(loaded, options)
                job_progress.stage(Stage.DECODING)
                with AudioStream(Path(path), cache_dir=self.layout.root,
                                 retrier=self.retrier) as stream:
                    job_progress.stage(Stage.TRANSCRIBING)
                    transcript = self._transcribe_stream(
                        stream.chunks(), stream.declared_s or None, loaded, options,
                        on_segments)
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
        options = options or TranscriptionOptions()
        pending: list[Path] = []  # short files for a NeMo model, sent to it together
        for path in paths:
            if self._batchable(model, options, Path(path)):
                pending.append(Path(path))
                if len(pending) >= options.batch_size * SHORT_FILE_BATCHES:
                    yield from self._short_files(pending, model, options, progress_for)
                    pending = []
                continue
            if pending:  # outcomes keep the order of the inputs
                yield from self._short_files(pending, model, options, progress_for)
                pending = []
            yield from self._one_file(Path(path), model, options, progress_for)
        if pending:
            yield from self._short_files(pending, model, options, progress_for)

    def _one_file(
        self, path: Path, model: str | None, options: TranscriptionOptions,
        progress_for: Callable[[Path], Progress | None] | None,
    ) -> Iterator[tuple[Path, Result | Exception]]:
        try:
            result = self.transcribe_file(path, model, options,
                                          progress_for(path) if progress_for else None)
        except JobCancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - yielded, reported by the shell
            yield path, exc
            return
        yield path, result

    def _batchable(self, model: str | None, options: TranscriptionOptions, path: Path) -> bool:
        """A NeMo model takes this file in one window: worth batching with others."""
        if options.batch_size < 2 or options.diarize:
            return False
        try:
            spec = catalog.resolve(model or self.settings.default_model)
            if spec.engine is not EngineKind.NEMO:
                return False
            with AudioStream(path, cache_dir=self.layout.root, retrier=self.retrier) as stream:
                declared_s = stream.declared_s
        except Exception:  # noqa: BLE001 - the file's own run reports it properly
            return False
        return 0 < declared_s <= self.settings.long_audio_window_s

    def _short_files(
        self, paths: Sequence[Path], model: str | None, options: TranscriptionOptions,
        progress_for: Callable[[Path], Progress | None] | None,
    ) -> Iterator[tuple[Path, Result | Exception]]:
        """Short files for a NeMo model: decoded one by one, transcribed in one batch."""
        started = time.perf_counter()
        spec = catalog.resolve(model or self.settings.default_model)
        self._ensure_cache()
        ready: list[tuple[Path, Audio, list[pieces.Piece], Progress | None]] = []
        order: list[tuple[Path, Exception | None]] = []  # None: in the batch
        with self.turns.turn(spec.name), self.models.lease(
                spec, self.settings.device, compute_type=self._compute_type(options)) as loaded:
            for path in paths:
                progress = progress_for(path) if progress_for else None
                try:
                    with job_progress.job(progress):
                        job_progress.stage(Stage.DECODING)
                        audio = decode_file(path, cache_dir=self.layout.root,
                                            retrier=self.retrier)
                        plan = longform.choose(loaded.info, loaded.spec, options,
                                               audio.duration_s, self.settings)
                        planned = pieces.plan(audio.samples, plan.speech(audio.samples),
                                              max_piece_s=plan.max_piece_s,
                                              overlap_s=plan.overlap_s)
                except JobCancelled:
                    raise
                except Exception as exc:  # noqa: BLE001 - yielded, reported by the shell
                    order.append((path, exc))  # yielded in its turn: outcomes keep input order
                    continue
                ready.append((path, audio, planned, progress))
                order.append((path, None))
            everything = [piece for _, _, planned, _ in ready for piece in planned]
            log.info("%d short files (%d pieces) in one batch", len(ready), len(everything))
            for _, _, _, progress in ready:
                with job_progress.job(progress):
                    job_progress.stage(Stage.TRANSCRIBING, f"with {len(ready) - 1} other file(s)")
            audios = [Audio(p.samples, SAMPLE_RATE_HZ) for p in everything]
            asked = replace(options, word_timestamps=True) if loaded.info.timestamps else options
            try:
                checked = completeness.complete(
                    loaded, audios, loaded.transcribe_batch(audios, asked), asked)
            except JobCancelled:
                raise
            except Exception:  # noqa: BLE001 - one bad file must not fail the batch
                log.warning("the batch failed; transcribing its files one at a time",
                            exc_info=True)
                for path, error in order:
                    if error is not None:
                        yield path, error
                    else:
                        yield from self._one_file(path, model, options, progress_for)
                return
            elapsed_s = time.perf_counter() - started
            total_s = sum(audio.duration_s for _, audio, _, _ in ready) or 1.0
            at = 0
            batched = iter(ready)
            for path, error in order:
                if error is not None:
                    yield path, error
                    continue
                path, audio, planned, progress = next(batched)
                mine = checked[at:at + len(planned)]
                at += len(planned)
                merged = pieces.merge(planned, [c.output.segments for c in mine])
                language = next((c.output.language for c in mine if c.output.language), None)
                unheard = [u for piece, c in zip(planned, mine)
                           for u in unheard_in(piece, c.missing)]
                with job_progress.job(progress):
                    transcript = self._transcript(merged, audio.duration_s, loaded,
                                                  language or options.language,
                                                  words=options.word_timestamps,
                                                  unheard=unheard)
                yield path, Result(transcript, loaded.device,
                                   elapsed_s * audio.duration_s / total_s, spec.engine.value)

    def transcribe_audio(
        self, audio: Audio, loaded: LoadedModel, options: TranscriptionOptions,
    ) -> Transcript:
        """Decoded audio already in memory (the microphone, tests), the same way as a file."""
        step = SAMPLE_RATE_HZ * 10  # handed on in views: blocks never copy the whole
        chunks = (audio.samples[at:at + step] for at in range(0, len(audio.samples), step))
        return self._transcribe_stream(chunks, audio.duration_s, loaded, options)

    def _transcribe_stream(
        self, chunks: Iterable[np.ndarray], total_s: float | None, loaded: LoadedModel,
        options: TranscriptionOptions, on_segments: Heard | None = None,
    ) -> Transcript:
        plan = longform.choose(loaded.info, loaded.spec, options, total_s, self.settings)
        if on_segments is not None:  # someone watches the text come: hand it over sooner
            plan = replace(plan, block_s=min(plan.block_s, STREAM_BLOCK_S))
        speakers = (Diarization(options, diarize_session.tracker(self._diarize_device(loaded)),
                                plan.vad_span_s) if options.diarize else None)
        # speakers are laid on words: ask for them, drop them later when not wanted
        asked = (replace(options, word_timestamps=True)
                 if speakers is not None and loaded.info.timestamps else options)
        run = Transcriber(loaded, asked, plan, total_s, heard=on_segments)
        samples = 0
        only: Block | None = None  # the first block, kept while it may be the only one
        count = 0
        for block in blocks(chunks, block_s=plan.block_s, speech=plan.speech):
            samples += len(block.samples)
            count += 1
            only = block if count == 1 else None
            if speakers is not None:
                speakers.add(block)
            run.add(block)
        run.finish()
        if options.vad and not run.segments and only is not None:
            # nothing heard in the whole recording: a whisper or a distant voice scores
            # under the VAD's usual threshold (noise stays far below the quiet one)
            quiet = vad.detect_speech(only.samples, max_span_s=plan.vad_span_s,
                                      threshold=vad.QUIET_THRESHOLD)
            if quiet:
                log.info("no clear speech; listening again for quiet speech (%d part(s))",
                         len(quiet))
                run.unheard.clear()  # heard again: what is still missing is said anew
                run.add(Block(0, only.samples, quiet))
                run.finish()
                if speakers is not None:
                    speakers.add(Block(0, only.samples, quiet))
        return self._transcript(run.segments, samples / SAMPLE_RATE_HZ, loaded,
                                run.language or run.options.language,
                                words=options.word_timestamps, speakers=speakers,
                                unheard=run.unheard)

    @contextlib.contextmanager
    def live(self, emit: Emit, model: str | None = None,
             options: TranscriptionOptions | None = None,
             live: LiveOptions | None = None) -> Iterator[LiveSession]:
        """A live session on ``model`` (loaded once, leased for the session): feed it audio,
        read its events in ``emit``. Each decode waits its turn with the model's file jobs
        (a running file job finishes first: interleaving them batch by batch is to come). Leaving the block normally closes it (every turn
        decoded for good); leaving with an exception aborts it."""
        options = options or TranscriptionOptions()
        spec = catalog.resolve(model or self.settings.default_model)
        self._ensure_cache()
        with self.models.lease(spec, self.settings.device,
                               compute_type=self._compute_type(options)) as loaded:
            # each decode takes the model's turn, in order with file jobs and other sessions
            decoder = ModelDecoder(loaded, options, turn=lambda: self.turns.turn(spec.name))
            session = LiveSession(decoder, live or LiveOptions(), emit)
            try:
                yield session
            except BaseException:
                session.abort()
                raise
            session.close()

    def _diarize_device(self, loaded: LoadedModel) -> str:
        return "cuda" if loaded.device.startswith("cuda") else "cpu"

    @staticmethod
    def _transcript(segments: Iterable[Segment], duration_s: float, loaded: LoadedModel,
                    language: str | None, *, words: bool = True,
                    speakers: Diarization | None = None,
                    unheard: Sequence[Unheard] = ()) -> Transcript:
        """Segments -> the transcript: inside the audio, in time order, none empty.

        ``words=False``: word timestamps were not asked for; an engine that made
        them anyway (NeMo, or for the check, the merge or the speakers) had them,
        and they are dropped here, after ``speakers`` labelled them.
        ``unheard``: speech that gave no text; each is also a note of the job.
        """
        for stretch in unheard:
            job_progress.note(NoteKind.NO_TEXT, stretch.text, logger=log)
        kept = tuple(chunking.clamp(s, duration_s) for s in segments if s.text.strip())
        kept = tuple(sorted(kept, key=lambda s: (s.start_s, s.end_s)))
        if speakers is not None:
            kept = speakers.label(kept)
        if not words:
            kept = tuple(replace(s, words=()) for s in kept)
        return Transcript(
            text=" ".join(s.text.strip() for s in kept),
            language=language or _only_language(loaded),
            duration_s=duration_s,
            model=loaded.spec.name,
            segments=kept,
            unheard=tuple(unheard),
        )

    def write_outputs(
        self, transcript: Transcript, folder: Path, stem: str, formats: Sequence[str],
        *, users_folder: bool = True, layout: SubtitleLayout | None = None,
    ) -> list[Path]:
        """``<folder>/<stem>.<fmt>`` for each format, each written atomically.

        ``users_folder``: the user chose ``folder`` (``--output-dir``), so a failure's
        advice is about that folder; the UI writes into the studio's own folder.
        ``layout``: how subtitle cues and TXT paragraphs are shaped (None: the defaults).
        """
        layout = layout or SubtitleLayout()
        written = []
        for fmt in formats:
            target = folder / f"{stem}.{fmt}"
            try:
                self.retrier.run(lambda: folder.mkdir(parents=True, exist_ok=True),
                                 f"create {folder}", FileOp.WRITE)
                write_text_atomic(target, render(transcript, fmt, layout), self.retrier)
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
