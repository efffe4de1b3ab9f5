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
import time
import uuid
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from stt_studio.audio.decode import decode_file
from stt_studio.domain import Audio, Stage, Task, TranscriptionOptions
from stt_studio.entrypoints import ui_view as view
from stt_studio.entrypoints.console import as_studio_error
from stt_studio.entrypoints.jobs import Update, run_job
from stt_studio.errors import AudioError, InvalidOptionError, JobCancelled, ModelInUseError
from stt_studio.formats import FORMATS
from stt_studio.fsops import remove_tree
from stt_studio.models import catalog
from stt_studio.service import Result, Studio

log = logging.getLogger("stt_studio.ui")

DEFAULT_FORMATS = ("srt", "txt")
OUTPUT_MAX_AGE_S = 24 * 3600
#: how long the Unload button waits for a transcription that uses the model
UNLOAD_WAIT_S = 2.0


@dataclass(frozen=True, slots=True)
class Played:
    """What the segment table refers to: the audio file and each row's times."""

    audio_path: str
    spans_s: tuple[tuple[float, float], ...] = ()


@dataclass
class StudioUI:
    """Handlers bound to one :class:`Studio`; the Blocks layout wires them up."""

    studio: Studio
    heartbeat_s: float = 1.0
    outputs_root: Path = field(default=Path())  # "": under the cache's tmp folder
    startup_warning: str | None = None
    _whisper_languages: tuple[str, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        if self.outputs_root == Path():
            self.outputs_root = self.studio.layout.ui_dir / "outputs"

    # -- the transcribe tab -------------------------------------------------------
    def transcribe(
        self,
        audio: str | None,
        model: str | None,
        language: str | None = view.AUTO_LANGUAGE,
        task: str = Task.TRANSCRIBE.value,
        target_language: str | None = None,
        word_timestamps: bool = True,
        formats: Sequence[str] | None = DEFAULT_FORMATS,
        beam_size: float = 5,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's injection idiom
    ) -> Iterator[tuple[Any, ...]]:
        """Transcribe one recording; yields (status, transcript, segments, files, played)."""
        cache = self.studio.layout.root
        if not audio:
            yield ("No recording yet: upload an audio or video file, or record one with the "
                   "microphone, then press Transcribe.", "", [], None, None)
            return
        path = Path(audio)
        try:
            options = TranscriptionOptions(
                language=None if language in (None, "", view.AUTO_LANGUAGE) else language,
                task=Task(task or Task.TRANSCRIBE.value),
                target_language=target_language or None,
                word_timestamps=bool(word_timestamps),
                beam_size=int(beam_size),
            )
            chosen = list(formats or ())
            unknown = [f for f in chosen if f not in FORMATS]
            if unknown:
                raise ValueError(f"unknown output format(s): {', '.join(unknown)}")
        except (ValueError, TypeError, AttributeError) as exc:  # API callers send anything
            invalid = InvalidOptionError(f"{exc}" if isinstance(exc, ValueError) else
                                         f"an option has the wrong type ({exc})")
            yield view.failure(invalid, stage="checking the options", cache_dir=cache), "", [], \
                None, None
            return
        name = (model or "").strip() or self.studio.settings.default_model
        log.info("transcribing %s with %s", path.name, name)
        final: Update[Result] | None = None
        # closing() makes the hand-over explicit: when Gradio closes this generator (the
        # page went away), the job's generator is closed too, and that cancels the work
        with contextlib.closing(run_job(
            lambda say: self.studio.transcribe_file(path, name, options, progress=say),
            heartbeat_s=self.heartbeat_s,
        )) as updates:
            for update in updates:
                if not update.done:
                    progress(view.overall_fraction(update.stage, update.fraction),
                             desc=update.stage_text)
                    yield (view.working(update.stage_text, update.elapsed_s,
                                        update.stage_elapsed_s, update.notes,
                                        subject=path.name),
                           gr.skip(), gr.skip(), gr.skip(), gr.skip())
                final = update
        assert final is not None and final.done  # noqa: S101 - run_job always ends so
        if final.error is not None or final.result is None:
            yield self._failed(final, path.name), "", [], None, None
            return
        result = final.result
        try:
            files = self._write_outputs(result, path, chosen)
        except Exception as exc:  # noqa: BLE001 - the transcript is shown even so
            error = as_studio_error(exc)
            log.error("writing the outputs failed", exc_info=exc)
            status = view.failure(error, stage="writing the download files", cache_dir=cache,
                                  subject=path.name)
            yield (status + "\nThe transcript below is complete; copy it from the box.",
                   result.transcript.text, view.segment_rows(result.transcript), None,
                   _played(path, result))
            return
        status = view.success(result.transcript, subject=path.name, device=result.device,
                              engine=result.engine, elapsed_s=result.elapsed_s, files=files,
                              notes=final.notes)
        log.info("%s", status.replace("\n", " | "))
        yield (status, result.transcript.text, view.segment_rows(result.transcript),
               [str(f) for f in files] or None, _played(path, result))

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

    def _write_outputs(self, result: Result, source: Path, formats: Sequence[str]) -> list[Path]:
        if not formats:
            return []
        self._forget_old_outputs()
        folder = self.outputs_root / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        return self.studio.write_outputs(result.transcript, folder, source.stem, formats,
                                         users_folder=False)

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

    # -- model choice -------------------------------------------------------------
    def model_rows(self) -> list[view.ModelRow]:
        loading = self.studio.loading()
        loaded = {e.name: e.device for e in self.studio.loaded()}
        rows = []
        for status in self.studio.list_models():
            name = status.spec.name
            state = (f"loaded on {loaded[name]}" if name in loaded else
                     f"loading ({view.duration(loading[name])})" if name in loading else "")
            rows.append(view.ModelRow(name, status.spec.engine.value, status.spec.size_mb,
                                      status.cached, status.spec.bundled, state,
                                      problem=status.problem))
        for name, device in loaded.items():  # local files and hub ids loaded by path
            if name not in {r.name for r in rows}:
                rows.append(view.ModelRow(name, "", None, True, False, f"loaded on {device}"))
        return rows

    def model_dropdown(self, current: str | None = None) -> Any:
        choices = view.model_choices(self.model_rows())
        return gr.update(choices=choices, value=current or self.studio.settings.default_model)

    def model_changed(self, model: str | None) -> tuple[Any, Any, Any, Any]:
        """Language, task and target controls (and their row) for the chosen model."""
        try:
            spec = catalog.resolve((model or "").strip() or self.studio.settings.default_model)
        except Exception:  # noqa: BLE001 - odd text in the box: transcribing explains it
            log.debug("no controls for model %r", model, exc_info=True)
            return gr.update(), gr.update(), gr.update(), gr.update()
        controls = view.controls_for(spec, self._languages_of_whisper())
        language = gr.update(
            choices=list(controls.languages) or [view.AUTO_LANGUAGE],
            value=controls.default_language, visible=controls.choose_language,
        )
        task = gr.update(value=Task.TRANSCRIBE.value, visible=controls.can_translate)
        target = gr.update(choices=list(controls.targets) or ["en"],
                           value=(controls.targets or ("en",))[0],
                           visible=controls.can_translate)
        row = gr.update(visible=controls.choose_language or controls.can_translate)
        return language, task, target, row

    def _languages_of_whisper(self) -> tuple[str, ...]:
        if not self._whisper_languages:
            try:
                from faster_whisper.tokenizer import _LANGUAGE_CODES
            except ImportError:
                return ()
            self._whisper_languages = tuple(_LANGUAGE_CODES)
        return self._whisper_languages

    # -- the models tab -----------------------------------------------------------
    def models_panel(self) -> tuple[list[list[str]], str]:
        try:
            rows = self.model_rows()
            size = view.human_bytes(self.studio.cache_size_bytes())
        except Exception as exc:  # noqa: BLE001 - a panel refresh must never break the page
            log.exception("listing the models failed")
            return [], as_studio_error(exc).render()
        cache = self.studio.layout.root
        info = (f"**Cache folder:** `{cache}` — {size} in all.  \n"
                "Models, downloads and NeMo's unpacked archives live here; change it with "
                "`--cache-dir` or `STT_STUDIO_CACHE_DIR`.")
        for row in rows:  # the table has one line per model: the whole story goes here
            if row.problem:
                info += (f"\n\n**Cannot read the cache for `{row.name}`:**\n"
                         f"```\n{row.problem}\n```")
        return view.model_table(rows), info

    def load_model(self, model: str | None) -> Iterator[str]:
        name = (model or "").strip() or self.studio.settings.default_model
        final: Update[Any] | None = None
        for update in run_job(lambda say: self.studio.load(name, say),
                              first_stage=Stage.LOADING, heartbeat_s=self.heartbeat_s):
            if not update.done:
                yield view.working(update.stage_text, update.elapsed_s, update.stage_elapsed_s,
                                   update.notes, subject=name)
            final = update
        assert final is not None  # noqa: S101
        if final.error is not None:
            yield self._failed(final, name)
            return
        loaded = final.result
        assert loaded is not None  # noqa: S101 - no error means a result
        yield (f"✓ {name} is loaded on {loaded.device} ({view.duration(final.elapsed_s)})"
               + ("\n" + "\n".join(f"  ! {n.text}" for n in final.notes)
                  if final.notes else ""))

    def unload_model(self, model: str | None) -> str:
        name = (model or "").strip() or self.studio.settings.default_model
        try:
            unloaded = self.studio.unload(name, wait_s=UNLOAD_WAIT_S)
        except ModelInUseError as exc:  # an everyday answer, not a failure: no traceback
            log.info("%s is in use; not unloaded", name)
            return exc.render()
        except Exception as exc:  # noqa: BLE001 - shown, not raised
            log.exception("unloading %s failed", name)
            return as_studio_error(exc).render()
        return f"✓ {name} is unloaded." if unloaded else f"{name} was not loaded."

    def doctor(self) -> Iterator[str]:
        from stt_studio.doctor import run_doctor

        final: Update[Any] | None = None
        for update in run_job(lambda _say: run_doctor(self.studio.settings, self.studio.layout),
                              first_stage=Stage.CHECKING, heartbeat_s=self.heartbeat_s):
            if not update.done:
                yield view.working(update.stage_text, update.elapsed_s, update.stage_elapsed_s)
            final = update
        assert final is not None  # noqa: S101
        if final.error is not None:
            yield self._failed(final, "doctor")
            return
        assert final.result is not None  # noqa: S101 - no error means a result
        yield final.result.render()


def _played(path: Path, result: Result) -> Played:
    return Played(str(path), tuple((s.start_s, s.end_s) for s in result.transcript.segments))


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
