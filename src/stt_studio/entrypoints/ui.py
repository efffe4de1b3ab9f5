"""`stt-studio serve`: the Gradio web UI, a thin shell over :class:`Studio`.

The layout lives here; what each event does lives in :mod:`ui_handlers`, and
what the user reads in :mod:`ui_view`. The server stays offline: no share
link, no analytics or version check, no web fonts, no server-side rendering.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stt_studio.cache import SYSTEM_TEMP_DIR, CacheLayout, check_writable
from stt_studio.domain import Task
from stt_studio.errors import translate_os_error
from stt_studio.hazards import Hazard, render_hazards

if TYPE_CHECKING:
    import gradio as gr

    from stt_studio.entrypoints.ui_handlers import StudioUI

log = logging.getLogger("stt_studio.ui")

TITLE = "stt-studio"
#: audio and video containers PyAV reads; the browser's picker filters on these
UPLOAD_TYPES = ["audio", "video", ".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus",
                ".webm", ".mkv", ".mp4", ".mov", ".avi", ".wma", ".aiff", ".aif"]
#: the server sends news at least every second while it works; a page that hears
#: nothing for this long says so instead of showing a frozen "working" line
STALE_AFTER_S = 15.0
WATCHDOG_JS = """() => {
  const staleMs = %d;
  let last = null, since = Date.now();
  setInterval(() => {
    const box = document.querySelector('#status textarea');
    if (!box) return;
    if (box.value !== last) { last = box.value; since = Date.now(); return; }
    if (box.value.startsWith('⏳') && Date.now() - since > staleMs) {
      box.value = '⚠ No answer from the stt-studio server for ' + Math.round(staleMs / 1000)
        + ' s. It may have stopped or lost the connection: look at the console where '
        + '`stt-studio serve` runs, start it again if it stopped, then reload this page.'
        + '\\nLast news from the server:\\n' + box.value;
      last = box.value;
    }
  }, 1000);
}"""
#: says in the status box, before any upload, that a chosen file is past the limit
UPLOAD_LIMIT_JS = """(limitMb) => {
  const limit = limitMb * 1024 * 1024;
  const mb = (n) => (n / 1048576).toFixed(1);
  const check = (files) => {
    const big = Array.from(files || []).filter((f) => f.size > limit);
    const box = document.querySelector('#status textarea');
    if (!big.length || !box) return;
    box.value = '✗ Too large to upload: '
      + big.map((f) => f.name + ' (' + mb(f.size) + ' MB)').join(', ')
      + '\\nThis studio takes files up to ' + limitMb + ' MB.\\nWhat to do:'
      + '\\n  • Send a compressed copy, e.g. `ffmpeg -i INPUT -ac 1 -b:a 64k out.mp3` '
      + '(an hour is about 30 MB)'
      + '\\n  • Or start the studio with a higher limit: stt-studio serve --max-upload-mb N '
      + '(or STT_STUDIO_MAX_UPLOAD_MB)'
      + '\\n  • Or transcribe it from the command line: stt-studio transcribe FILE';
  };
  document.addEventListener('change', (e) => {
    if (e.target && e.target.type === 'file') check(e.target.files);
  }, true);
  document.addEventListener('drop', (e) => {
    if (e.dataTransfer) check(e.dataTransfer.files);
  }, true);
}"""
CSS = """
#status textarea { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
#doctor-report textarea { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
"""


def offline_environment(scratch: Path) -> None:
    """Before Gradio is imported: no telemetry, no version check, uploads in ``scratch``."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ["GRADIO_TEMP_DIR"] = str(scratch / "gradio")


def ui_scratch(layout: CacheLayout) -> tuple[Path, str | None]:
    """Where uploads and download files go, and a warning if the cache cannot take them.

    An unwritable cache must not break uploads (Gradio would answer with a bare
    error): the UI then keeps its small files in the system temp folder and
    says at once what is wrong, before any model needs the cache.
    """
    preferred = layout.ui_dir
    try:
        check_writable(preferred)
        return preferred, None
    except OSError as exc:
        error = translate_os_error(exc, action="write into the cache folder",
                                   path=exc.filename or preferred, cache_dir=layout.root)
    fallback = Path(tempfile.mkdtemp(prefix="stt-studio-ui-", dir=SYSTEM_TEMP_DIR))
    log.warning("%s\nuploads and downloads go to %s for now", error.render(), fallback)
    return fallback, (
        "⚠ The cache folder is not writable: models that must be downloaded or unpacked "
        f"will fail until it is fixed.\n{error.render()}\n"
        f"Uploads and download files go to {fallback} for now."
    )


@dataclass(frozen=True, slots=True)
class _TranscribeTab:
    """The transcribe tab's components, for wiring its events."""

    audio: Any
    mic: Any
    model: Any
    options_row: Any
    language: Any
    task: Any
    target: Any
    words: Any
    formats: Any
    beam: Any
    batch_size: Any
    vad: Any
    long_audio: Any
    prompt: Any
    temperature: Any
    speakers: Any
    min_speakers: Any
    max_speakers: Any
    compute_type: Any
    run: Any
    cancel: Any
    status: Any
    results: Any
    picker: Any
    zip_file: Any
    transcript: Any
    segments: Any
    names_area: Any
    names: tuple[Any, ...]
    rename: Any
    player: Any
    downloads: Any
    played: Any
    run_state: Any
    api_audio: Any
    api_run: Any


def _inputs_column(ui: StudioUI) -> dict[str, Any]:
    """Left: the recordings, the model, the options, Transcribe and Cancel."""
    import gradio as gr

    from stt_studio.domain import ComputeType, LongAudio
    from stt_studio.entrypoints import ui_view as view
    from stt_studio.entrypoints.ui_handlers import CANCEL_LABEL, DEFAULT_FORMATS, NAME_BOXES
    from stt_studio.formats import FORMATS

    c: dict[str, Any] = {}
    with gr.Tabs():
        with gr.Tab("Upload"):
            c["audio"] = gr.File(label="Audio or video files (one, or several at once)",
                                 file_count="multiple", file_types=UPLOAD_TYPES,
                                 type="filepath", elem_id="audio")
        with gr.Tab("Record", id="record-tab"):
            c["mic"] = gr.Audio(sources=["microphone"], type="filepath", format="wav",
                                label="Microphone", elem_id="mic")
    c["model"] = gr.Dropdown(
        label="Model", choices=view.model_choices(ui.model_rows()),
        value=ui.studio.settings.default_model, allow_custom_value=True, elem_id="model",
        info="Engine and cache state; or type a path to a .nemo file or model folder",
    )
    with gr.Row(visible=False) as c["options_row"]:
        c["language"] = gr.Dropdown(label="Spoken language", choices=[view.AUTO_LANGUAGE],
                                    value=view.AUTO_LANGUAGE, allow_custom_value=True,
                                    visible=False, elem_id="language")
        c["task"] = gr.Radio([t.value for t in Task], value=Task.TRANSCRIBE.value,
                             label="Task", visible=False, elem_id="task")
        c["target"] = gr.Dropdown(label="Translate into", choices=["en"], value="en",
                                  visible=False, elem_id="target-language")
    c["words"] = gr.Checkbox(value=True, label="Word timestamps", elem_id="word-timestamps")
    c["speakers"] = gr.Dropdown(
        label="Speakers", choices=list(view.SPEAKER_CHOICES), value=view.SPEAKERS_OFF,
        elem_id="speakers",
        info="Who said what: off, found automatically, or how many people speak",
    )
    c["formats"] = gr.CheckboxGroup(list(FORMATS), value=list(DEFAULT_FORMATS),
                                    label="Download formats", elem_id="formats")
    with gr.Accordion("Advanced", open=False):
        c["beam"] = gr.Slider(1, 10, value=5, step=1, label="Beam size (Whisper)",
                              elem_id="beam-size")
        c["batch_size"] = gr.Slider(1, 64, value=8, step=1, elem_id="batch-size",
                                    label="Batch size (pieces decoded together; 1: one "
                                          "after another)")
        c["vad"] = gr.Checkbox(value=True, elem_id="vad",
                               label="Skip silence (voice activity detection)")
        c["long_audio"] = gr.Radio([a.value for a in LongAudio], value=LongAudio.AUTO.value,
                                   label="Long audio (NeMo models)", elem_id="long-audio")
        c["prompt"] = gr.Textbox(label="Prompt (Whisper): names, jargon, spelling to expect",
                                 lines=1, max_lines=4, elem_id="prompt")
        c["temperature"] = gr.Slider(0.0, 1.0, value=0.0, step=0.1, elem_id="temperature",
                                     label="Temperature (Whisper; 0: raised only when "
                                           "decoding fails)")
        c["min_speakers"] = gr.Slider(0, NAME_BOXES, value=0, step=1, elem_id="min-speakers",
                                      label="Fewest speakers (when Speakers is Automatic; "
                                            "0: no bound)")
        c["max_speakers"] = gr.Slider(0, NAME_BOXES, value=0, step=1, elem_id="max-speakers",
                                      label="Most speakers (when Speakers is Automatic; "
                                            f"0: no bound, up to {NAME_BOXES} are found)")
        c["compute_type"] = gr.Dropdown(
            [t.value for t in ComputeType], value=ui.studio.settings.compute_type.value,
            label="Compute type", elem_id="compute-type",
            info="auto: Whisper in float16 on a GPU, int8 on the CPU; NeMo in float32. "
                 "int8_float16 and float16 mostly need a GPU; NeMo takes float32, or "
                 "float16 on a GPU. A model loads once per compute type.")
    with gr.Row():
        c["run"] = gr.Button("Transcribe", variant="primary", elem_id="transcribe")
        c["cancel"] = gr.Button(CANCEL_LABEL, variant="stop", interactive=False,
                                elem_id="cancel")
    return c


def _outputs_column(ui: StudioUI) -> dict[str, Any]:
    """Right: the status, the run's results and zip, the shown file's transcript."""
    import gradio as gr

    from stt_studio.entrypoints import ui_view as view
    from stt_studio.entrypoints.ui_handlers import NAME_BOXES

    c: dict[str, Any] = {}
    c["status"] = gr.Textbox(
        label="Status", lines=6, max_lines=30, interactive=False,
        value=ui.startup_warning or
        f"Ready. Choose one or more recordings and press Transcribe.\n"
        f"Cache folder: {ui.studio.layout.root}",
        elem_id="status", buttons=["copy"],
    )
    c["results"] = gr.Dataframe(
        headers=["file", "duration", "status"], datatype=["str", "str", "str"],
        column_count=3, interactive=False, wrap=True, column_widths=["40%", "15%", "45%"],
        max_height=300, label="Results (click a row to show that file)", elem_id="results",
    )
    with gr.Row():
        c["picker"] = gr.Dropdown(label="Show file", choices=[], visible=False,
                                  interactive=True, elem_id="show-file")
        c["zip_file"] = gr.File(label="All outputs (zip)", interactive=False,
                                elem_id="zip")
    c["transcript"] = gr.Textbox(label="Transcript", lines=8, max_lines=40,
                                 interactive=False, elem_id="transcript", buttons=["copy"])
    c["segments"] = gr.Dataframe(
        headers=["start", "end", "text"], datatype=["str", "str", "str"], column_count=3,
        interactive=False, wrap=True, column_widths=list(view.PLAIN_WIDTHS),
        label="Segments", elem_id="segments",
    )
    with gr.Column(visible=False, elem_id="speaker-names") as c["names_area"]:
        gr.Markdown("**Speaker names**: type a name for each speaker of the file shown, then "
                    "press Rename; the transcript and every download use the names.")
        boxes = []
        for first in range(0, NAME_BOXES, 4):
            with gr.Row():
                boxes += [gr.Textbox(label=f"Speaker {n}", placeholder="a name, e.g. Alice",
                                     max_lines=1, visible=False, elem_id=f"speaker-name-{n}")
                          for n in range(first + 1, first + 5)]
        c["names"] = tuple(boxes)
        c["rename"] = gr.Button("Rename", elem_id="rename", size="sm")
    c["player"] = gr.Audio(label="Segment player (click a row of the table)",
                           interactive=False, autoplay=True, type="filepath",
                           elem_id="segment-player")
    c["downloads"] = gr.File(label="Downloads (the file shown)", file_count="multiple",
                             interactive=False, elem_id="downloads")
    return c


def _transcribe_tab(ui: StudioUI) -> _TranscribeTab:
    import gradio as gr

    with gr.Row():
        with gr.Column(scale=1):
            left = _inputs_column(ui)
        with gr.Column(scale=2):
            right = _outputs_column(ui)
    # the API's /transcribe keeps its one-recording shape: a hidden input and trigger
    api_audio = gr.File(visible=False, type="filepath", elem_id="api-audio")
    api_run = gr.Button(visible=False, elem_id="api-transcribe")
    return _TranscribeTab(**left, **right, played=gr.State(None), run_state=gr.State(None),
                          api_audio=api_audio, api_run=api_run)


def _wire_transcribe(ui: StudioUI, t: _TranscribeTab) -> None:
    """Transcribe arms Cancel, runs the job (one at a time), then makes itself ready again.

    Cancel and the button swaps bypass the queue (``queue=False``): they must answer
    while the job holds the "work" slot. The progress bar covers only the transcript
    box (empty until the end), so the status box and the results table stay readable.
    """
    private: dict[str, Any] = {"api_visibility": "private"}
    instant: dict[str, Any] = {"queue": False, "show_progress": "hidden", **private}
    t.mic.stop_recording(_as_list, inputs=t.mic, outputs=t.audio, **private)
    t.mic.upload(_as_list, inputs=t.mic, outputs=t.audio, **private)
    t.model.change(ui.model_changed, inputs=t.model,
                   outputs=[t.language, t.task, t.target, t.options_row], **private)
    options = [t.model, t.language, t.task, t.target, t.words, t.formats, t.beam,
               t.batch_size, t.vad, t.long_audio, t.prompt, t.temperature, t.speakers,
               t.min_speakers, t.max_speakers, t.compute_type]
    # whenever another file (or run) is shown: its names, and the table's columns
    panel: dict[str, Any] = {"fn": ui.speaker_panel, "inputs": [t.run_state, t.picker],
                             "outputs": [t.segments, t.names_area, *t.names], **instant}
    work: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "work"}
    t.run.click(ui.arm, outputs=[t.run, t.cancel], **instant).then(
        ui.transcribe, inputs=[t.audio, *options],
        outputs=[t.status, t.transcript, t.segments, t.downloads, t.results, t.zip_file,
                 t.picker, t.played, t.run_state],
        api_name="transcribe_many", show_progress_on=t.transcript, **work,
    ).then(ui.disarm, outputs=[t.run, t.cancel], **instant).then(**panel).then(
        ui.model_dropdown, inputs=t.model, outputs=t.model, **private)
    t.api_run.click(ui.transcribe_one, inputs=[t.api_audio, *options],
                    outputs=[t.status, t.transcript, t.segments, t.downloads],
                    api_name="transcribe", **work)
    t.cancel.click(ui.cancel, outputs=t.cancel, **instant)
    t.results.select(ui.show_file, inputs=t.run_state,
                     outputs=[t.transcript, t.segments, t.downloads, t.played, t.picker],
                     **private).then(**panel)
    t.picker.input(ui.pick_file, inputs=[t.run_state, t.picker],
                   outputs=[t.transcript, t.segments, t.downloads, t.played],
                   **private).then(**panel)
    renaming: dict[str, Any] = {
        "fn": ui.rename_speakers, "inputs": [t.run_state, t.picker, *t.names],
        "outputs": [t.status, t.transcript, t.segments, t.downloads, t.zip_file, t.run_state],
        "show_progress_on": t.transcript, **private}
    t.rename.click(**renaming)
    for box in t.names:
        box.submit(**renaming)
    t.segments.select(ui.play_segment, inputs=t.played, outputs=[t.player, t.status],
                      **private)


def _as_list(path: str | None) -> list[str] | None:
    """A recording from the microphone, as the (multi-file) upload box holds it."""
    return [path] if path else None


def _models_tab(ui: StudioUI, t: _TranscribeTab) -> None:
    import gradio as gr

    from stt_studio.entrypoints import ui_view as view

    with gr.Tab("Models", id="models-tab") as models_tab:
        cache_info = gr.Markdown(elem_id="cache-info")
        table = gr.Dataframe(headers=["model", "engine", "size", "cached", "state"],
                             interactive=False, elem_id="models-table")
        with gr.Row():
            pick = gr.Dropdown(label="Model", choices=view.model_choices(ui.model_rows()),
                               value=ui.studio.settings.default_model,
                               allow_custom_value=True, elem_id="models-pick")
            load = gr.Button("Load", elem_id="load")
            unload = gr.Button("Unload", elem_id="unload")
            refresh = gr.Button("Refresh", elem_id="refresh")
        models_status = gr.Textbox(label="Model status", lines=3, interactive=False,
                                   elem_id="models-status")
        doctor = gr.Button("Run doctor (check the set-up)", elem_id="doctor")
        report_box = gr.Textbox(label="Doctor report", lines=10, interactive=False,
                                elem_id="doctor-report")
    private: dict[str, Any] = {"api_visibility": "private"}
    panel: list[Any] = [table, cache_info]
    models_tab.select(ui.models_panel, outputs=panel, **private)
    refresh.click(ui.models_panel, outputs=panel, **private)
    load.click(ui.load_model, inputs=pick, outputs=models_status, api_name="load_model",
               concurrency_limit=1, concurrency_id="work").then(
        ui.models_panel, outputs=panel, **private).then(
        ui.model_dropdown, inputs=t.model, outputs=t.model, **private)
    unload.click(ui.unload_model, inputs=pick, outputs=models_status,
                 api_name="unload_model").then(ui.models_panel, outputs=panel, **private)
    doctor.click(ui.doctor, outputs=report_box, api_name="doctor")


def build_app(ui: StudioUI) -> gr.Blocks:
    import gradio as gr

    with gr.Blocks(title=TITLE, analytics_enabled=False,
                   delete_cache=(3600, 24 * 3600)) as app:
        gr.Markdown("# stt-studio\nLocal speech to text with NVIDIA NeMo and Whisper models. "
                    "Nothing leaves this machine.")
        with gr.Tabs():
            with gr.Tab("Transcribe", id="transcribe-tab"):
                tab = _transcribe_tab(ui)
            _models_tab(ui, tab)
        _wire_transcribe(ui, tab)
        app.load(ui.model_changed, inputs=tab.model,
                 outputs=[tab.language, tab.task, tab.target, tab.options_row],
                 api_visibility="private")
    return app  # type: ignore[no-any-return]  # gr.Blocks.__enter__ is untyped


def startup_warning(scratch_warning: str | None, hazards: Sequence[Hazard]) -> str | None:
    """What the status box says when the page opens: an unwritable cache, then path hazards."""
    parts = [text for text in (scratch_warning, render_hazards(hazards)) if text]
    return "\n\n".join(parts) or None
