"""The studio UI's event handlers: Gradio values in, service calls, Gradio values out.

Each handler is the UI's boundary: every exception is caught here, logged to
the console with its traceback, and returned as readable text for the status
box. Nothing raises ``gr.Error``: a toast fades and an "Error" badge says
nothing, which is the bug this project was started to fix.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import uuid
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from stt_studio import progress as job_progress
from stt_studio.audio.decode import decode_file
from stt_studio.diarize.base import display_name
from stt_studio.domain import (
    Audio,
    ComputeType,
    LongAudio,
    Note,
    NoteKind,
    ProgressEvent,
    Stage,
    Task,
    Transcript,
    TranscriptionOptions,
)
from stt_studio.entrypoints import ui_view as view
from stt_studio.entrypoints.console import as_studio_error
from stt_studio.entrypoints.jobs import Update, run_job
from stt_studio.entrypoints.ui_batch import (
    Batch,
    Failure,
    FileOutcome,
    FileState,
    RunView,
    Writer,
    write_zip,
)
from stt_studio.entrypoints.ui_models import UNLOAD_WAIT_S, ModelHandlers
from stt_studio.errors import AudioError, InvalidOptionError, JobCancelled
from stt_studio.formats import FORMATS
from stt_studio.fsops import remove_tree
from stt_studio.service import Result, Studio

log = logging.getLogger("stt_studio.ui")

DEFAULT_FORMATS = ("srt", "txt")
OUTPUT_MAX_AGE_S = 24 * 3600
CANCEL_LABEL = "Cancel"
#: name boxes in the speakers' names area (the Speakers control offers up to 8)
NAME_BOXES = 8
NO_SPEAKERS = ("No speakers to rename: transcribe with Speakers set to Automatic or a number, "
               "then type a name for each speaker and press Rename.")
CANCELLING_LABEL = "Cancelling…"
NO_RECORDING = ("No recording yet: upload an audio or video file (or several at once), or "
                "record one with the microphone, then press Transcribe.")
#: transcribe's outputs, in order (the API returns those that are not gr.State)
OUTPUTS = ("status", "transcript", "segments", "downloads", "results", "zip", "picker",
           "played", "run")
SKIP: Any = gr.skip()
__all__ = ["OUTPUTS", "UNLOAD_WAIT_S", "StudioUI"]


@dataclass(frozen=True, slots=True)
class Played:
    """What the segment table refers to: the audio file and each row's times."""

    audio_path: str
    spans_s: tuple[tuple[float, float], ...] = ()


@dataclass
class StudioUI(ModelHandlers):
    """Handlers bound to one :class:`Studio`; the Blocks layout wires them up."""

    studio: Studio
    heartbeat_s: float = 1.0
    outputs_root: Path = field(default=Path())  # "": under the cache's tmp folder
    startup_warning: str | None = None
    max_upload_mb: int | None = None  # None: no limit (the server sets one)
    _whisper_languages: tuple[str, ...] = field(default=(), init=False)
    #: each page's cancel switch for its job (by Gradio session; "" outside Gradio)
    _cancels: dict[str, threading.Event] = field(default_factory=dict, init=False)
    _cancels_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        if self.outputs_root == Path():
            self.outputs_root = self.studio.layout.ui_dir / "outputs"

    # -- the transcribe tab -------------------------------------------------------
    def transcribe(
        self,
        audio: str | Sequence[str] | None,
        model: str | None,
        language: str | None = view.AUTO_LANGUAGE,
        task: str = Task.TRANSCRIBE.value,
        target_language: str | None = None,
        word_timestamps: bool = True,
        formats: Sequence[str] | None = DEFAULT_FORMATS,
        beam_size: float = 5,
        batch_size: float = 8,
        vad: bool = True,
        long_audio: str = LongAudio.AUTO.value,
        initial_prompt: str | None = None,
        temperature: float = 0.0,
        speakers: str | int | None = view.SPEAKERS_OFF,
        min_speakers: float | None = 0,
        max_speakers: float | None = 0,
        compute_type: str | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's injection idiom
        request: gr.Request | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Transcribe one or more recordings in turn, as one job that Cancel stops.

        Yields the :data:`OUTPUTS`: status, transcript, segments, downloads (of the
        file shown), results table, zip of all outputs, file picker, played, run.
        ``speakers`` (the Speakers control) spells both ``diarize`` and the exact count:
        "Off", "Automatic" or a number; ``min_speakers``/``max_speakers`` bound the
        automatic count (0: no bound) and are not used otherwise. ``compute_type``:
        the Advanced section's (None: the studio's, ``--compute-type``).
        """
        key = _session_key(request)
        cancel = self._claim_cancel(key)
        try:
            paths = _paths(audio)
            if not paths:
                yield (NO_RECORDING, "", [], None, [], None, _picker(None), None, None)
                return
            too_large = self._too_large(paths)
            if too_large:
                yield (too_large, "", [], None, [], None, _picker(None), None, None)
                return
            try:
                options, chosen = _options(language, task, target_language, word_timestamps,
                                           formats, beam_size, batch_size, vad, long_audio,
                                           initial_prompt, temperature, speakers,
                                           min_speakers, max_speakers, compute_type)
            except InvalidOptionError as invalid:
                yield (view.failure(invalid, stage="checking the options",
                                    cache_dir=self.studio.layout.root),
                       "", [], None, [], None, _picker(None), None, None)
                return
            name = (model or "").strip() or self.studio.settings.default_model
            log.info("transcribing %s with %s", ", ".join(p.name for p in paths), name)
            yield from self._run(Batch(paths), name, options, chosen, progress, cancel)
        finally:
            self._release_cancel(key, cancel)

    def transcribe_one(
        self,
        audio: str | None,
        model: str | None,
        language: str | None = view.AUTO_LANGUAGE,
        task: str = Task.TRANSCRIBE.value,
        target_language: str | None = None,
        word_timestamps: bool = True,
        formats: Sequence[str] | None = DEFAULT_FORMATS,
        beam_size: float = 5,
        batch_size: float = 8,
        vad: bool = True,
        long_audio: str = LongAudio.AUTO.value,
        initial_prompt: str | None = None,
        temperature: float = 0.0,
        speakers: str | int | None = view.SPEAKERS_OFF,
        min_speakers: float | None = 0,
        max_speakers: float | None = 0,
        compute_type: str | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's injection idiom
        request: gr.Request | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """The API's ``/transcribe``: one recording in; status, transcript, segments and
        download files out (``/transcribe_many`` takes a list and returns the rest too)."""
        for output in self.transcribe(audio, model, language, task, target_language,
                                      word_timestamps, formats, beam_size, batch_size, vad,
                                      long_audio, initial_prompt, temperature, speakers,
                                      min_speakers, max_speakers, compute_type, progress,
                                      request):
            yield output[:4]

    def _too_large(self, paths: Sequence[Path]) -> str | None:
        """The status text when a recording is past the upload limit (None: all fit)."""
        if self.max_upload_mb is None:
            return None
        limit = self.max_upload_mb * 1024 * 1024
        big = []
        for path in paths:
            try:
                if path.stat().st_size > limit:
                    big.append(f"{path.name} ({path.stat().st_size / 1048576:.1f} MB)")
            except OSError:
                continue  # the file's own run says what is wrong with it
        return view.too_large(big, self.max_upload_mb) if big else None

    def _run(self, batch: Batch, model: str, options: TranscriptionOptions,
             formats: Sequence[str], progress: gr.Progress,
             cancel: threading.Event) -> Iterator[tuple[Any, ...]]:
        folder = self._run_folder(formats)
        write: Writer = functools.partial(self._write, folder, formats)
        final: Update[None] | None = None
        shown_rows: list[list[str]] | None = None
        bar = 0.0  # never moves back (news of a file that just failed may arrive late)
        # closing() makes the hand-over explicit: when Gradio closes this generator (the
        # page went away), the job's generator is closed too, and that cancels the work
        with contextlib.closing(run_job(
            lambda say: batch.run(self.studio, model, options, say, write),
            heartbeat_s=self.heartbeat_s, cancel=cancel,
        )) as updates:
            for update in updates:
                final = update
                if update.done:
                    break
                status, bar, desc = self._working(batch, update, bar)
                progress(bar, desc=desc)
                rows = view.results_rows(batch.outcomes())
                yield (status, SKIP, SKIP, SKIP, rows if rows != shown_rows else SKIP,
                       SKIP, SKIP, SKIP, SKIP)
                shown_rows = rows
        assert final is not None and final.done  # noqa: S101 - run_job always ends so
        batch.finish(final.error)
        zip_path, zip_problem = self._zip(folder, batch.outcomes())
        run = RunView(batch.outcomes(), zip_path)
        status = self._summary(batch, run, final) + zip_problem
        log.info("%s", status.splitlines()[0])
        shown = run.first_shown()
        yield (status, *self._shown(shown),
               view.results_rows(run.files), str(zip_path) if zip_path else None,
               _picker(run, shown), _played(shown), run)

    def _working(self, batch: Batch, update: Update[None],
                 floor: float) -> tuple[str, float, str]:
        """The status text, the overall bar (at least ``floor``) and the bar's text."""
        files = batch.outcomes()
        finished = sum(f.state not in (FileState.WAITING, FileState.RUNNING) for f in files)
        if batch.count == 1:
            overall = max(floor, view.overall_fraction(update.stage, update.fraction))
            return (view.working(update.stage_text, update.elapsed_s, update.stage_elapsed_s,
                                 update.notes, subject=files[0].name),
                    overall, update.stage_text)
        # the current file's own stage: the job's latest news may be about the file before
        current = batch.current()
        within = view.overall_fraction(current[1].stage or Stage.STARTING,
                                       current[1].fraction) if current else 0.0
        overall = max(floor, (finished + within) / batch.count)
        stage = current[1].text if current else update.stage_text
        status = view.batch_working(
            stage, update.elapsed_s, update.stage_elapsed_s, update.notes,
            position=current[0] + 1 if current else None, count=batch.count,
            name=files[current[0]].name if current else None, finished=finished,
            overall=overall)
        where = f"file {current[0] + 1} of {batch.count}: " if current else ""
        return status, overall, where + stage

    def _summary(self, batch: Batch, run: RunView, final: Update[None]) -> str:
        """The status box when the job has ended: done, failed or cancelled."""
        zip_name = run.zip_path.name if run.zip_path else None
        if isinstance(final.error, JobCancelled):
            log.info("%s: cancelled while %s", ", ".join(f.name for f in run.files),
                     final.failed_stage_text)
            return view.cancelled(run.files, stage=final.failed_stage_text,
                                  elapsed_s=final.elapsed_s, zip_name=zip_name)
        failures = [self._failure_text(f) for f in batch.failures()]
        if final.error is not None and not any(f.error is final.error
                                               for f in batch.failures()):
            failures.insert(0, self._failed(final, None))  # stopped before any file
        only = run.files[0]
        if batch.count > 1:
            return view.batch_summary(run.files, failures, elapsed_s=final.elapsed_s,
                                      zip_name=zip_name, notes=final.notes)
        if only.state is not FileState.DONE or only.result is None:
            text = "\n\n".join(failures) or f"✗ {only.name}: {only.state.value}"
            if only.result is not None:  # only its download files failed
                text += "\nThe transcript below is complete; copy it from the box."
            return text
        return view.success(only.result.transcript, subject=only.name,
                            device=only.result.device, engine=only.result.engine,
                            elapsed_s=only.result.elapsed_s, files=only.files,
                            notes=final.notes)

    def _failure_text(self, failure: Failure) -> str:
        return view.failure(as_studio_error(failure.error), stage=failure.stage,
                            cache_dir=self.studio.layout.root, subject=failure.name,
                            notes=failure.notes)

    def _failed(self, final: Update[Any], subject: str | None) -> str:
        error = as_studio_error(final.error or RuntimeError("the job ended without a result"))
        exc = final.error
        if isinstance(exc, JobCancelled):  # asked for, not a failure: no traceback
            log.info("%s: cancelled while %s", subject or "job", final.failed_stage_text)
        elif exc is not None:
            log.error("%s failed while %s", subject or "job", final.failed_stage_text,
                      exc_info=(type(exc), exc, exc.__traceback__))
        return view.failure(error, stage=final.failed_stage_text,
                            cache_dir=self.studio.layout.root,
                            subject=subject, notes=final.notes)

    def _run_folder(self, formats: Sequence[str]) -> Path:
        """This run's own folder for download files (made when the first is written)."""
        if formats:
            self._forget_old_outputs()
        return self.outputs_root / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"

    def _write(self, folder: Path, formats: Sequence[str], result: Result,
               stem: str) -> list[Path]:
        if not formats:
            return []
        return self.studio.write_outputs(result.transcript, folder, stem, formats,
                                         users_folder=False)

    def _zip(self, folder: Path, files: Sequence[FileOutcome]) -> tuple[Path | None, str]:
        """The zip of every output of the run, and a line for the status box if it failed."""
        outputs = [path for f in files for path in f.files]
        if not outputs:
            return None, ""
        target = folder / f"stt-studio-{folder.name.rsplit('-', 1)[0]}.zip"
        notes: list[ProgressEvent] = []
        try:
            with job_progress.job(notes.append):  # the retrier's notes (a locked zip)
                path = write_zip(target, outputs, self.studio.retrier, self.studio.layout.root)
        except Exception as exc:  # noqa: BLE001 - each file is still downloadable alone
            log.error("writing the zip of all outputs failed", exc_info=exc)
            path = None
            notes.append(ProgressEvent(None, note=Note(NoteKind.WARNING, (
                "no zip of all outputs (each file can still be downloaded alone): "
                f"{as_studio_error(exc).render().splitlines()[0]}"))))
        return path, "".join(f"\n  ! {e.note.text}" for e in notes if e.note is not None)

    # -- showing one file of the run -------------------------------------------------
    def show_file(self, run: RunView | None, evt: gr.SelectData) -> tuple[Any, ...]:
        """A click on a row of the results table: (transcript, segments, downloads,
        played, picker) of that file."""
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        if run is None or not isinstance(row, int) or not 0 <= row < len(run.files):
            return (SKIP,) * 5
        outcome = run.files[row]
        return (*self._shown(outcome), _played(outcome), gr.update(value=outcome.name))

    def pick_file(self, run: RunView | None, name: str | None) -> tuple[Any, ...]:
        """The file picker: (transcript, segments, downloads, played) of the chosen file."""
        outcome = run.find(name) if run is not None else None
        if outcome is None:
            return (SKIP,) * 4
        return (*self._shown(outcome), _played(outcome))

    @staticmethod
    def _shown(outcome: FileOutcome | None) -> tuple[str, Any, list[str] | None]:
        """(transcript box, segment table, downloads) of a file, with its speakers' names."""
        transcript = outcome.transcript if outcome is not None else None
        if outcome is None or transcript is None:
            return "", [], None
        return (view.transcript_text(transcript), view.segment_table(transcript),
                [str(f) for f in outcome.files] or None)

    # -- speakers' names ---------------------------------------------------------------
    def speaker_panel(self, run: RunView | None, shown: str | None) -> tuple[Any, ...]:
        """After a file is shown: (segment table's widths, names area, each name box).

        The names area appears when the shown file has speakers; each box is
        labelled with the speaker as found and holds the name given so far.
        """
        outcome = run.shown(shown) if run is not None else None
        found = (outcome.result.transcript if outcome is not None
                 and outcome.result is not None else None)
        labels = view.speakers_of(found) if found is not None else ()
        given = dict(outcome.names) if outcome is not None else {}
        boxes = [gr.update(visible=True, label=display_name(labels[n]),
                           value=given.get(labels[n], "")) if n < len(labels) else
                 gr.update(visible=False, value="") for n in range(NAME_BOXES)]
        return (gr.update(column_widths=view.segment_widths(found)),
                gr.update(visible=bool(labels)), *boxes)

    def rename_speakers(self, run: RunView | None, shown: str | None,
                        *names: str | None) -> tuple[Any, ...]:
        """Rename: the shown file's speakers get the names typed in the boxes (in order).

        The transcript, the segment table, the file's downloads and the zip of
        all outputs are made again with the names. Returns (status, transcript,
        segments, downloads, zip, run); on failure the status says why and the
        page keeps what it showed (pressing Rename again tries again).
        """
        outcome = run.shown(shown) if run is not None else None
        if run is None or outcome is None or outcome.result is None:
            return (NO_SPEAKERS, *(SKIP,) * 5)
        labels = view.speakers_of(outcome.result.transcript)
        if not labels:
            return (NO_SPEAKERS, *(SKIP,) * 5)
        given = tuple((label, " ".join((name or "").split()))
                      for label, name in zip(labels, names))
        named = replace(outcome, names=given)
        transcript = named.transcript
        assert transcript is not None  # noqa: S101 - it has a result
        try:
            files = self._write_again(outcome.files, transcript)
            zip_path = run.zip_path
            if zip_path is not None:
                outputs = [path for f in run.files for path in f.files]
                write_zip(zip_path, outputs, self.studio.retrier, self.studio.layout.root)
        except Exception as exc:  # noqa: BLE001 - said in the status box; the page stays usable
            log.error("renaming the speakers of %s failed", outcome.name, exc_info=exc)
            return (view.failure(as_studio_error(exc), stage="writing the renamed downloads",
                                 cache_dir=self.studio.layout.root, subject=outcome.name),
                    *(SKIP,) * 5)
        log.info("speakers of %s renamed: %s", outcome.name, given)
        new_run = run.replaced(named)
        status = view.renamed(outcome.name, given, files,
                              zip_path.name if zip_path is not None else None)
        return (status, *self._shown(named), str(zip_path) if zip_path else SKIP, new_run)

    def _write_again(self, files: Sequence[Path], transcript: Transcript) -> list[Path]:
        """The download files of one recording written again (same names) from ``transcript``."""
        by_folder: dict[tuple[Path, str], list[str]] = {}
        for path in files:
            by_folder.setdefault((path.parent, path.stem), []).append(path.suffix.lstrip("."))
        written: list[Path] = []
        for (folder, stem), formats in by_folder.items():
            written += self.studio.write_outputs(transcript, folder, stem, formats,
                                                 users_folder=False)
        return written

    # -- Cancel ------------------------------------------------------------------------
    def arm(self, request: gr.Request | None = None) -> tuple[Any, Any]:
        """Transcribe was pressed: a fresh cancel switch for this page; swap the buttons."""
        with self._cancels_lock:
            self._cancels[_session_key(request)] = threading.Event()
        return gr.update(interactive=False), gr.update(interactive=True, value=CANCEL_LABEL)

    def cancel(self, request: gr.Request | None = None) -> Any:
        """Cancel: the page's running job stops at its next checkpoint."""
        with self._cancels_lock:
            event = self._cancels.get(_session_key(request))
        if event is not None:
            log.info("cancel requested")
            event.set()
        return gr.update(interactive=False, value=CANCELLING_LABEL)

    @staticmethod
    def disarm() -> tuple[Any, Any]:
        """The job ended: Transcribe is ready again, Cancel is not needed."""
        return gr.update(interactive=True), gr.update(interactive=False, value=CANCEL_LABEL)

    def _claim_cancel(self, key: str) -> threading.Event:
        with self._cancels_lock:  # armed by the button; an API call makes its own
            return self._cancels.setdefault(key, threading.Event())

    def _release_cancel(self, key: str, event: threading.Event) -> None:
        with self._cancels_lock:
            if self._cancels.get(key) is event:
                del self._cancels[key]

    def _forget_old_outputs(self) -> None:
        if not self.outputs_root.is_dir():
            return
        cutoff = time.time() - OUTPUT_MAX_AGE_S
        for folder in self.outputs_root.iterdir():
            try:
                if folder.stat().st_mtime < cutoff:
                    remove_tree(folder, self.studio.retrier)
            except OSError:
                continue

    def play_segment(self, played: Played | None, evt: gr.SelectData) -> tuple[Any, Any]:
        """Clicking a row of the segment table plays that part: (player, status)."""
        if played is None or not played.spans_s:
            return gr.skip(), gr.skip()
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        if not isinstance(row, int) or not 0 <= row < len(played.spans_s):
            return gr.skip(), gr.skip()
        start_s, end_s = played.spans_s[row]
        try:
            audio = _decoded(played.audio_path, Path(played.audio_path).stat().st_mtime_ns)
            clip = self.outputs_root / "clips" / f"{uuid.uuid4().hex}.wav"
            _write_wav(clip, audio, start_s, end_s)
        except Exception as exc:  # noqa: BLE001 - said in the status box; the table stays usable
            log.exception("could not cut the segment %d from %s", row, played.audio_path)
            if isinstance(exc, FileNotFoundError):
                exc = AudioError(
                    "the recording is gone from the server, so its segments cannot be played",
                    causes=("Uploads are deleted a day after they were made, or when the "
                            "studio restarts",),
                    remedies=("Upload the recording again",), paths=(played.audio_path,))
            return gr.skip(), view.failure(as_studio_error(exc), stage="playing the segment",
                                           cache_dir=self.studio.layout.root)
        return str(clip), gr.skip()

def _played(outcome: FileOutcome | None) -> Played | None:
    if outcome is None or outcome.result is None:
        return None
    return Played(str(outcome.path),
                  tuple((s.start_s, s.end_s) for s in outcome.result.transcript.segments))


def _session_key(request: gr.Request | None) -> str:
    return str(getattr(request, "session_hash", None) or "") if request is not None else ""


def _paths(audio: str | Sequence[str] | None) -> list[Path]:
    """The uploaded files as paths: one (the microphone, an API call) or several."""
    if not audio:
        return []
    items = [audio] if isinstance(audio, (str, Path)) else list(audio)
    return [Path(str(item)) for item in items if item]


def _options(language: str | None, task: str, target_language: str | None,
             word_timestamps: bool, formats: Sequence[str] | None, beam_size: float,
             batch_size: float, vad: bool, long_audio: str,
             initial_prompt: str | None = None, temperature: float = 0.0,
             speakers: str | int | None = view.SPEAKERS_OFF, min_speakers: float | None = 0,
             max_speakers: float | None = 0, compute_type: str | None = None,
             ) -> tuple[TranscriptionOptions, list[str]]:
    """The controls' values as options and formats; InvalidOptionError says what is wrong.

    The bounds (0: none) apply to the automatic count only: with Speakers off or
    a number they are not used, as the page says beside them.
    """
    try:
        diarize, count = view.speaker_choice(speakers)
        automatic = diarize and count is None
        fewest = int(min_speakers or 0) if automatic else 0
        most = int(max_speakers or 0) if automatic else 0
        options = TranscriptionOptions(
            language=None if language in (None, "", view.AUTO_LANGUAGE) else language,
            task=Task(task or Task.TRANSCRIBE.value),
            target_language=target_language or None,
            word_timestamps=bool(word_timestamps),
            beam_size=int(beam_size),
            batch_size=int(batch_size),
            vad=bool(vad),
            long_audio=LongAudio(long_audio or LongAudio.AUTO.value),
            initial_prompt=(initial_prompt or "").strip() or None,
            temperature=float(temperature or 0.0),
            diarize=diarize,
            speakers=count,
            min_speakers=fewest or None,
            max_speakers=most or None,
            compute_type=ComputeType(compute_type) if compute_type else None,
        )
        chosen = list(formats or ())
        unknown = [f for f in chosen if f not in FORMATS]
        if unknown:
            raise ValueError(f"unknown output format(s): {', '.join(unknown)}")
    except (ValueError, TypeError, AttributeError) as exc:  # API callers send anything
        raise InvalidOptionError(f"{exc}" if isinstance(exc, ValueError) else
                                 f"an option has the wrong type ({exc})") from exc
    return options, chosen


def _picker(run: RunView | None, shown: FileOutcome | None = None) -> Any:
    """The "show file" dropdown: the run's files, visible when there are several."""
    names = [f.name for f in run.files] if run is not None else []
    return gr.update(choices=names, value=shown.name if shown else None,
                     visible=len(names) > 1)


@functools.lru_cache(maxsize=2)
def _decoded(path: str, mtime_ns: int) -> Audio:
    """The last recordings decoded again for playback (keyed by path and mtime)."""
    return decode_file(Path(path))


def _write_wav(target: Path, audio: Audio, start_s: float, end_s: float) -> None:
    rate = audio.sample_rate_hz
    part = audio.samples[int(start_s * rate):max(int(end_s * rate), int(start_s * rate) + 1)]
    pcm = (np.clip(part, -1.0, 1.0) * 32767).astype("<i2")
    target.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
