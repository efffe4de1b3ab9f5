"""The studio UI's model handlers: the model dropdown and the Models tab.

A mixin of :class:`stt_studio.entrypoints.ui_handlers.StudioUI`; like every
handler, each catches its exceptions and returns readable text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import gradio as gr

from stt_studio.domain import Stage, Task
from stt_studio.entrypoints import ui_view as view
from stt_studio.entrypoints.console import as_studio_error
from stt_studio.entrypoints.jobs import Update, run_job
from stt_studio.errors import ModelInUseError
from stt_studio.models import catalog
from stt_studio.service import Studio

log = logging.getLogger("stt_studio.ui")

#: how long the Unload button waits for a transcription that uses the model
UNLOAD_WAIT_S = 2.0


class ModelHandlers:
    studio: Studio
    heartbeat_s: float
    _whisper_languages: tuple[str, ...]

    def _failed(self, final: Update[Any], subject: str | None) -> str:
        raise NotImplementedError  # StudioUI's

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
