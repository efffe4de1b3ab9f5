"""The web UI's handlers, called as Gradio calls them (no server, no browser).

What matters most: every failure ends as readable text in the status box, with
its traceback in the console, and a finished transcript is never dropped.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import wave
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import srt

from stt_studio import errors, service
from stt_studio.audio.decode import decode_file
from stt_studio.domain import (
    SAMPLE_RATE_HZ,
    Audio,
    ProgressEvent,
    Segment,
    Stage,
    Task,
    Transcript,
)
from stt_studio.entrypoints import ui_handlers
from stt_studio.entrypoints import ui_view as view
from stt_studio.entrypoints.ui_handlers import Played, StudioUI
from stt_studio.models import catalog
from stt_studio.models.manager import LoadedEntry
from stt_studio.retry import RetryPolicy
from stt_studio.service import Result
from tests.conftest import make_studio
from tests.support.faults import disk_full_error, lock_error

HEARTBEAT_S = 0.01
SKIP = gr.skip()
NO_CHANGE = gr.update()
TRANSCRIPT = Transcript(
    "And so, my fellow Americans, ask not.", "en", 11.0, "tiny.en",
    (Segment(0.3, 2.4, " And so, my fellow Americans,"), Segment(3.1, 4.9, " ask not.")),
)


def studio_error_classes() -> list[type[errors.StudioError]]:
    found: list[type[errors.StudioError]] = []
    pending = list(errors.StudioError.__subclasses__())
    while pending:
        cls = pending.pop(0)
        if cls.__module__.startswith("stt_studio") and cls not in found:
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


ERROR_CLASSES = studio_error_classes()


@pytest.fixture()
def studio(fresh_layout):
    return make_studio(fresh_layout)


@pytest.fixture()
def ui(studio):
    return StudioUI(studio, heartbeat_s=HEARTBEAT_S)


@pytest.fixture()
def recording(tmp_path) -> Path:
    """A real (short) WAV file; the handlers never look inside when the studio is faked."""
    path = tmp_path / "talk.wav"
    samples = (0.1 * np.sin(np.arange(SAMPLE_RATE_HZ) * 0.05)).astype(np.float32)
    ui_handlers._write_wav(path, Audio(samples, SAMPLE_RATE_HZ), 0.0, 1.0)
    return path


def fake_transcribe(result: Result | None = None, *, error: BaseException | None = None,
                    pause_s: float = 0.0, calls: list | None = None):
    """A stand-in for Studio.transcribe_file that speaks like the real one."""

    def transcribe_file(path, model=None, options=None, progress=None):
        if calls is not None:
            calls.append((path, model, options))
        progress(ProgressEvent(Stage.LOADING))
        time.sleep(pause_s)
        if error is not None:
            raise error
        progress(ProgressEvent(Stage.TRANSCRIBING))
        time.sleep(pause_s)
        return result or Result(TRANSCRIPT, "cpu", 0.5, "whisper")

    return transcribe_file


def never_called(*_args, **_kwargs):
    raise AssertionError("the studio must not be called")


def run(ui: StudioUI, **kwargs) -> list[tuple]:
    outputs = list(ui.transcribe(**kwargs))
    assert outputs, "the handler yielded nothing"
    for output in outputs:
        assert len(output) == 5  # status, transcript, segments, downloads, played
    return outputs


def error_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.levelno >= logging.ERROR and r.name.startswith("stt_studio")]


# -- every failure reaches the status box --------------------------------------------------

def test_the_error_hierarchy_is_collected_completely():
    names = {cls.__name__ for cls in ERROR_CLASSES}
    assert names >= {"FileLockedError", "PermissionDeniedError", "NetworkError",
                     "FileSystemError", "ModelNotFoundError", "EngineMissingError",
                     "AudioError", "InvalidOptionError", "UnexpectedError"}


def _raised(case):
    if case is RuntimeError:
        return RuntimeError("boom")
    return case(f"summary of the {case.__name__}", causes=(f"a cause of {case.__name__}",),
                remedies=(f"a remedy for {case.__name__}",))


@pytest.mark.parametrize("case", [*ERROR_CLASSES, RuntimeError], ids=lambda c: c.__name__)
def test_every_error_reaches_the_status_text(studio, recording, caplog, monkeypatch, case):
    error = _raised(case)
    monkeypatch.setattr(studio, "transcribe_file", fake_transcribe(error=error))
    outputs = run(StudioUI(studio, heartbeat_s=HEARTBEAT_S), audio=str(recording),
                  model="tiny.en")
    status, text, rows, files, played = outputs[-1]
    assert status.startswith("✗ Failed while loading model (talk.wav)\n")
    if case is RuntimeError:
        assert "Unexpected error: RuntimeError: boom" in status
        assert "A bug in stt-studio" in status
    else:
        assert error.render() in status
        assert f"a cause of {case.__name__}" in status
        assert f"a remedy for {case.__name__}" in status
    assert str(studio.layout.root) in status
    assert status.endswith("The full traceback is in the console log.")
    assert (text, rows, files, played) == ("", [], None, None)
    # the console has the traceback of the very exception
    logged = [r for r in error_records(caplog) if r.exc_info]
    assert len(logged) == 1 and logged[0].exc_info[1] is error
    assert "Traceback (most recent call last)" in caplog.text
    assert "in transcribe_file" in caplog.text


def test_a_failure_after_lock_retries_lists_them(fresh_layout, recording, monkeypatch):
    studio = make_studio(fresh_layout, retry=RetryPolicy(delays_s=(0.0, 0.0)))
    model = fresh_layout.root / "model.bin"

    def transcribe_file(path, model_name=None, options=None, progress=None):
        progress(ProgressEvent(Stage.LOADING, "tiny.en on cpu"))

        def always_locked():
            raise lock_error(model)

        try:
            studio.retrier.run(always_locked, f"open {model}")
        except OSError as exc:
            raise errors.translate_os_error(exc, action="load the model", path=model,
                                            cache_dir=fresh_layout.root) from exc

    monkeypatch.setattr(studio, "transcribe_file", transcribe_file)
    status = run(StudioUI(studio, heartbeat_s=HEARTBEAT_S), audio=str(recording),
                 model="tiny.en")[-1][0]
    assert status.startswith("✗ Failed while loading model tiny.en on cpu (talk.wav)")
    assert "A file is locked by another program" in status
    retries = status.split("Retries before giving up:\n")[1].splitlines()
    assert [line for line in retries if line.startswith("  - ")] == [
        f"  - open {model}: file locked ({lock_error(model)}); retry {n}/2 in 0.0 s"
        for n in (1, 2)]


# -- no recording, bad options ------------------------------------------------------------------

@pytest.mark.parametrize("audio", [None, ""])
def test_no_recording_yet(ui, monkeypatch, audio):
    monkeypatch.setattr(ui.studio, "transcribe_file", never_called)
    outputs = run(ui, audio=audio, model="tiny.en")
    assert len(outputs) == 1
    status, text, rows, files, played = outputs[0]
    assert status.startswith("No recording yet: upload an audio or video file")
    assert (text, rows, files, played) == ("", [], None, None)


@pytest.mark.parametrize(("options", "message"), [
    ({"beam_size": 0}, "beam_size must be >= 1"),
    ({"formats": ["srt", "docx", "pdf"]}, "unknown output format(s): docx, pdf"),
    ({"language": "en-US"}, "language must be a code such as 'en', not 'en-US'"),
    ({"task": "summarize"}, "'summarize' is not a valid Task"),
], ids=["beam", "format", "language", "task"])
def test_bad_options_are_explained_before_any_work(ui, recording, monkeypatch, options,
                                                   message):
    monkeypatch.setattr(ui.studio, "transcribe_file", never_called)
    outputs = run(ui, audio=str(recording), model="tiny.en", **options)
    assert len(outputs) == 1
    status, text, rows, files, played = outputs[0]
    lines = status.splitlines()
    assert lines[0] == "✗ Failed while checking the options"
    assert f"Invalid option: {message}" in lines
    assert f"Cache folder: {ui.studio.layout.root}" in lines
    assert (text, rows, files, played) == ("", [], None, None)


def test_a_missing_beam_size_from_the_api_is_explained(ui, recording, monkeypatch):
    monkeypatch.setattr(ui.studio, "transcribe_file", never_called)
    status = run(ui, audio=str(recording), model="tiny.en", beam_size=None)[-1][0]
    assert status.startswith("✗ Failed while checking the options")


def test_options_reach_the_studio_as_chosen(ui, recording, monkeypatch):
    calls: list = []
    monkeypatch.setattr(ui.studio, "transcribe_file", fake_transcribe(calls=calls))
    run(ui, audio=str(recording), model="  nvidia/canary-180m-flash ", language="de",
        task="translate", target_language="en", word_timestamps=False, formats=None,
        beam_size=3.0)
    run(ui, audio=str(recording), model=None, language="auto", task="", target_language="",
        formats=None)
    run(ui, audio=str(recording), model="  ", language=None, formats=None)
    (path, model, options), (_, default_model, auto), (_, blank_model, none) = calls
    assert path == recording
    assert model == "nvidia/canary-180m-flash"
    assert (options.language, options.task, options.target_language) == ("de", Task.TRANSLATE,
                                                                         "en")
    assert options.word_timestamps is False
    assert options.beam_size == 3 and isinstance(options.beam_size, int)
    assert default_model == blank_model == ui.studio.settings.default_model == "tiny.en"
    assert auto.language is None and auto.task is Task.TRANSCRIBE
    assert auto.target_language is None and auto.beam_size == 5 and auto.word_timestamps
    assert none.language is None


# -- while working, and the success -----------------------------------------------------------

def test_progress_is_shown_while_working_and_other_outputs_are_kept(ui, recording,
                                                                    monkeypatch):
    monkeypatch.setattr(ui.studio, "transcribe_file", fake_transcribe(pause_s=0.1))
    outputs = run(ui, audio=str(recording), model="tiny.en")
    working, final = outputs[:-1], outputs[-1]
    assert len(working) >= 3  # stages and heartbeats, not one jump to the end
    for status, *rest in working:
        assert status.startswith("⏳ ")
        assert status.splitlines()[0].endswith(" — talk.wav")
        assert rest == [SKIP] * 4  # the transcript box and the rest stay as they are
    assert SKIP == {"__type__": "update"}
    shown = [status.split(" (")[0] for status, *_ in working]
    assert "⏳ loading model…" in shown and "⏳ transcribing…" in shown
    assert shown.index("⏳ loading model…") < shown.index("⏳ transcribing…")
    status, text, rows, files, played = final
    assert status.startswith("✓ Transcribed talk.wav\n")
    assert text == TRANSCRIPT.text
    assert rows == [["0:00.3", "0:02.4", "And so, my fellow Americans,"],
                    ["0:03.1", "0:04.9", "ask not."]]
    assert [Path(f).name for f in files] == ["talk.srt", "talk.txt"]  # the default formats
    assert played == Played(str(recording), ((0.3, 2.4), (3.1, 4.9)))


def test_download_files_live_in_the_cache_and_old_ones_are_forgotten(ui, recording,
                                                                     monkeypatch):
    monkeypatch.setattr(ui.studio, "transcribe_file", fake_transcribe())
    old, recent = ui.outputs_root / "20000101-000000-old", ui.outputs_root / "recent"
    for folder in (old, recent):
        folder.mkdir(parents=True)
        (folder / "talk.srt").write_text("1\n", "utf-8")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    files = run(ui, audio=str(recording), model="tiny.en",
                formats=["json", "vtt", "csv"])[-1][3]
    paths = [Path(f) for f in files]
    assert [p.suffix for p in paths] == [".json", ".vtt", ".csv"]
    for path in paths:
        assert path.is_file() and path.is_relative_to(ui.studio.layout.root)
    assert json.loads(paths[0].read_text("utf-8"))["model"] == "tiny.en"
    assert not old.exists() and recent.is_dir()
    assert not [p for p in paths[0].parent.iterdir() if p.name.startswith(".")]


def test_no_formats_means_no_downloads(ui, recording, monkeypatch):
    monkeypatch.setattr(ui.studio, "transcribe_file", fake_transcribe())
    status, text, _rows, files, _played = run(ui, audio=str(recording), model="tiny.en",
                                              formats=[])[-1]
    assert status.startswith("✓ Transcribed talk.wav")
    assert "files:" not in status
    assert files is None and text == TRANSCRIPT.text


def test_a_recovered_lock_is_reported_on_success(ui, recording, monkeypatch):
    studio = ui.studio
    failures = iter([lock_error("model.bin")])

    def transcribe_file(path, model=None, options=None, progress=None):
        def open_model():
            error = next(failures, None)
            if error is not None:
                raise error
            return "opened"

        progress(ProgressEvent(Stage.LOADING))
        studio.retrier.run(open_model, "open model.bin")
        return Result(TRANSCRIPT, "cpu", 0.5, "whisper")

    monkeypatch.setattr(studio, "transcribe_file", transcribe_file)
    status = run(ui, audio=str(recording), model="tiny.en", formats=[])[-1][0]
    assert status.startswith("✓ Transcribed talk.wav")
    assert "Recovered from a locked file after 1 retry:" in status
    assert "  - open model.bin: file locked (" in status


def test_empty_recording_result_says_no_speech(ui, recording, monkeypatch):
    silent = Result(Transcript("", None, 1.0, "tiny.en", ()), "cpu", 0.2, "whisper")
    monkeypatch.setattr(ui.studio, "transcribe_file", fake_transcribe(silent))
    status, text, rows, files, played = run(ui, audio=str(recording), model="tiny.en",
                                            formats=["srt", "txt"])[-1]
    assert "No speech was found in this recording." in status
    assert text == "" and rows == []
    assert [Path(f).suffix for f in files] == [".srt", ".txt"]
    assert played == Played(str(recording), ())


def test_a_failed_write_still_returns_the_transcript(ui, recording, monkeypatch, caplog):
    monkeypatch.setattr(ui.studio, "transcribe_file", fake_transcribe())

    def disk_full(path, _text, _retrier):
        raise disk_full_error(path)

    monkeypatch.setattr(service, "write_text_atomic", disk_full)
    status, text, rows, files, played = run(ui, audio=str(recording), model="tiny.en",
                                            formats=["srt", "txt"])[-1]
    assert status.startswith("✗ Failed while writing the download files (talk.wav)\n")
    assert "File system error: the disk is full while trying to write the transcript" \
        in status
    assert "talk.srt" in status  # the file it could not write
    assert "The transcript below is complete; copy it from the box." in status
    assert text == TRANSCRIPT.text  # no transcript silently dropped
    assert rows == view.segment_rows(TRANSCRIPT)
    assert files is None
    assert played == Played(str(recording), ((0.3, 2.4), (3.1, 4.9)))
    logged = [r for r in error_records(caplog) if r.exc_info]
    assert logged and isinstance(logged[0].exc_info[1], errors.FileSystemError)


def test_a_job_without_a_result_is_a_failure_not_a_crash(ui, recording, monkeypatch):
    monkeypatch.setattr(ui.studio, "transcribe_file", lambda *a, **k: None)
    status, text, *_ = run(ui, audio=str(recording), model="tiny.en")[-1]
    assert status.startswith("✗ Failed while starting (talk.wav)")
    assert "the job ended without a result" in status
    assert text == ""


def test_the_progress_bar_moves_forward_with_the_stages(ui, recording, monkeypatch):
    def transcribe_file(path, model=None, options=None, progress=None):
        for event in (ProgressEvent(Stage.LOADING), ProgressEvent(Stage.PREPARING, "", 0.5),
                      ProgressEvent(Stage.LOADING, "tiny.en on cpu"),
                      ProgressEvent(Stage.DECODING), ProgressEvent(Stage.TRANSCRIBING),
                      ProgressEvent(Stage.TRANSCRIBING, "3 of 6 s", 0.5),
                      ProgressEvent(Stage.TRANSCRIBING, "6 of 6 s", 1.0)):
            progress(event)
            time.sleep(0.03)
        return Result(TRANSCRIPT, "cpu", 0.5, "whisper")

    monkeypatch.setattr(ui.studio, "transcribe_file", transcribe_file)
    bar: list[tuple[float, str]] = []
    outputs = list(ui.transcribe(str(recording), "tiny.en", formats=[],
                                 progress=lambda fraction, desc=None: bar.append((fraction, desc))))
    assert outputs[-1][0].startswith("✓ Transcribed talk.wav")
    fractions = [f for f, _desc in bar]
    assert {0.05, 0.25, 0.4, 0.5, 0.725, 0.95} <= {round(f, 3) for f in fractions}
    assert "transcribing… 3 of 6 s" in {desc for _f, desc in bar}


def test_outputs_go_where_the_ui_was_told(studio, recording, monkeypatch, tmp_path):
    assert StudioUI(studio).outputs_root == studio.layout.ui_dir / "outputs"
    ui = StudioUI(studio, heartbeat_s=HEARTBEAT_S, outputs_root=tmp_path / "fallback")
    monkeypatch.setattr(studio, "transcribe_file", fake_transcribe())
    files = run(ui, audio=str(recording), model="tiny.en", formats=["txt"])[-1][3]
    assert Path(files[0]).parent.parent == tmp_path / "fallback"
    assert Path(files[0]).read_text("utf-8") == TRANSCRIPT.text + "\n"


@pytest.mark.slow
def test_real_transcription_with_the_bundled_whisper(session_studio, jfk):
    ui = StudioUI(session_studio, heartbeat_s=0.2)
    outputs = list(ui.transcribe(audio=str(jfk), model="tiny.en",
                                 formats=["srt", "json", "txt"]))
    status, text, rows, files, played = outputs[-1]
    assert status.startswith("✓ Transcribed jfk.flac\n"), status
    assert "model: tiny.en (whisper) on cpu" in status
    assert "fellow americans" in text.lower()
    assert rows and all(isinstance(r, list) and len(r) == 3 and all(isinstance(c, str) for c in r)
                        for r in rows)
    paths = [Path(f) for f in files]
    assert [p.suffix for p in paths] == [".srt", ".json", ".txt"]
    assert all(p.is_file() and p.stem == "jfk" for p in paths)
    assert all(p.is_relative_to(session_studio.layout.root) for p in paths)
    cues = list(srt.parse(paths[0].read_text("utf-8")))
    assert len(cues) == len(rows)
    assert json.loads(paths[1].read_text("utf-8"))["model"] == "tiny.en"
    assert paths[2].read_text("utf-8").strip() == text.strip()
    assert isinstance(played, Played) and played.audio_path == str(jfk)
    assert len(played.spans_s) == len(rows)
    for (start_s, end_s), row, cue in zip(played.spans_s, rows, cues):
        assert [view.clock(start_s), view.clock(end_s)] == row[:2]
        assert 0.0 <= start_s <= end_s <= 11.05
        assert cue.start.total_seconds() == pytest.approx(start_s, abs=0.001)
    assert [s for s, _ in played.spans_s] == sorted(s for s, _ in played.spans_s)
    # and the models panel now shows it loaded
    state = {r.name: r.state for r in ui.model_rows()}
    assert state["tiny.en"] == "loaded on cpu"


# -- clicking a segment plays it ----------------------------------------------------------------

def select(row: object, col: int = 2) -> gr.SelectData:
    index = [row, col] if isinstance(row, int) else row
    return gr.SelectData(target=None, data={"index": index, "value": "x", "row_value": [],
                                            "col_value": [], "selected": True})


def test_play_segment_cuts_the_clicked_row(ui, jfk):
    played = Played(str(jfk), ((0.0, 2.5), (2.5, 4.0), (10.5, 12.0)))
    player, status = ui.play_segment(played, select(1))
    assert status == SKIP  # the summary stays
    clip = Path(player)
    assert clip.is_file() and clip.suffix == ".wav"
    assert clip.is_relative_to(ui.outputs_root)
    with wave.open(str(clip), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16_000)
        assert wav.getnframes() == 24_000  # 1.5 s
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2") / 32767
    expected = decode_file(jfk).samples[40_000:64_000]
    assert np.abs(pcm - expected).max() < 1e-3  # the right part of the recording
    # the last span runs past the end of the audio: the clip stops with it
    with wave.open(ui.play_segment(played, select(2))[0], "rb") as wav:
        assert wav.getnframes() == pytest.approx(0.5 * 16_000, abs=200)


@pytest.mark.parametrize("index", [[3, 0], [-1, 0], 7, None, ["0", 1]])
def test_play_segment_ignores_rows_it_does_not_have(ui, jfk, index):
    played = Played(str(jfk), ((0.0, 1.0), (1.0, 2.0), (2.0, 3.0)))
    assert ui.play_segment(played, select(index)) == (SKIP, SKIP)
    assert not (ui.outputs_root / "clips").exists()


def test_play_segment_accepts_a_bare_row_number(ui, jfk):
    played = Played(str(jfk), ((0.0, 1.0), (1.0, 2.0)))
    evt = gr.SelectData(target=None, data={"index": 1, "value": "x"})
    with wave.open(ui.play_segment(played, evt)[0], "rb") as wav:
        assert wav.getnframes() == 16_000


@pytest.mark.parametrize("played", [None, Played("/nowhere.wav")])
def test_play_segment_without_segments_does_nothing(ui, played):
    assert ui.play_segment(played, select(0)) == (SKIP, SKIP)


def test_play_segment_of_a_vanished_file_says_so(ui, tmp_path, caplog):
    played = Played(str(tmp_path / "gone.wav"), ((0.0, 1.0),))
    player, status = ui.play_segment(played, select(0))
    assert player == SKIP
    assert status.startswith("✗ Failed while playing the segment")
    assert "Cannot read the audio: the recording is gone from the server" in status
    assert "Upload the recording again" in status and str(tmp_path / "gone.wav") in status
    assert any("could not cut the segment 0" in r.getMessage() and r.exc_info
               for r in error_records(caplog))


# -- the model choice --------------------------------------------------------------------------

def test_model_changed_for_the_bundled_english_whisper(ui):
    language, task, target, row = ui.model_changed("tiny.en")
    assert language["visible"] is False and language["value"] == "auto"
    assert task["visible"] is False and task["value"] == "transcribe"
    assert target["visible"] is False
    assert row == {"__type__": "update", "visible": False}  # nothing to choose: no empty row
    assert ui.model_changed(None) == (language, task, target, row)  # the default model
    assert ui.model_changed("  ") == (language, task, target, row)


def test_model_changed_for_canary(ui):
    language, task, target, row = ui.model_changed("nvidia/canary-180m-flash")
    assert language["choices"] == ["en", "de", "es", "fr"]
    assert language["value"] == "en" and language["visible"] is True
    assert task["visible"] is True and task["value"] == "transcribe"
    assert target["choices"] == ["en", "de", "es", "fr"]
    assert target["value"] == "en" and target["visible"] is True
    assert row["visible"] is True


@pytest.mark.parametrize("name", ["Systran/faster-whisper-small", "small", "turbo"])
def test_model_changed_for_multilingual_whisper(ui, name):
    language, task, target, row = ui.model_changed(name)
    assert language["choices"][0] == "auto" and language["value"] == "auto"
    assert len(language["choices"]) >= 100
    assert {"en", "de", "fr", "ja", "zh"} <= set(language["choices"])
    assert language["visible"] is True
    assert task["visible"] is True
    assert target["choices"] == ["en"] and target["visible"] is True
    assert row["visible"] is True


def test_model_changed_for_parakeet_hides_everything(ui):
    language, task, target, row = ui.model_changed("nvidia/parakeet-tdt-0.6b-v3")
    assert language["visible"] is False and task["visible"] is False
    assert target["visible"] is False and row["visible"] is False


def test_model_changed_for_a_local_file_offers_free_text(ui, tmp_path):
    model = tmp_path / "mine.nemo"
    model.write_bytes(b"x")
    language, task, target, row = ui.model_changed(str(model))
    assert language["choices"] == ["auto"] and language["visible"] is True
    assert task["visible"] is True and target["choices"] == ["en"]
    assert row["visible"] is True


@pytest.mark.parametrize("name", ["no such model", "/nowhere/missing.nemo"])
def test_model_changed_for_an_unknown_name_changes_nothing(ui, name):
    assert ui.model_changed(name) == (NO_CHANGE,) * 4


def test_model_dropdown_lists_usable_models_first(ui):
    update = ui.model_dropdown()
    assert update["value"] == "tiny.en"
    assert update["choices"][0] == ("tiny.en · whisper · bundled", "tiny.en")
    assert {value for _label, value in update["choices"]} == {s.name for s in catalog.CATALOG}
    assert ui.model_dropdown("nvidia/canary-180m-flash")["value"] == "nvidia/canary-180m-flash"


# -- the models tab ------------------------------------------------------------------------------

def test_models_panel_lists_every_model_and_the_cache(ui):
    (ui.studio.layout.root / "some.bin").write_bytes(b"\0" * 2048)
    table, info = ui.models_panel()
    assert [row[0] for row in table] == [spec.name for spec in catalog.CATALOG]
    assert all(len(row) == 5 for row in table)
    assert table[0] == ["tiny.en", "whisper", "75 MB", "bundled", "—"]
    canary = next(row for row in table if row[0] == "nvidia/canary-180m-flash")
    assert canary == ["nvidia/canary-180m-flash", "nemo", "730 MB", "no", "—"]
    assert f"`{ui.studio.layout.root}`" in info
    assert re.search(r"— 2\.0 KB in all", info), info
    assert "STT_STUDIO_CACHE_DIR" in info


def test_models_panel_failure_is_text_not_a_broken_page(ui, monkeypatch, caplog):
    def unreadable():
        raise errors.FileSystemError("the cache folder cannot be read",
                                     paths=(ui.studio.layout.root,))

    monkeypatch.setattr(ui.studio, "cache_size_bytes", unreadable)
    table, info = ui.models_panel()
    assert table == []
    assert info.startswith("File system error: the cache folder cannot be read")
    assert str(ui.studio.layout.root) in info
    assert any(r.exc_info for r in error_records(caplog))


def test_model_rows_show_loaded_and_loading_models(ui, monkeypatch):
    monkeypatch.setattr(ui.studio, "loaded", lambda: [
        LoadedEntry("tiny.en", "whisper", "cpu"),
        LoadedEntry("/models/mine.nemo", "nemo", "cuda")])
    monkeypatch.setattr(ui.studio, "loading", lambda: {"nvidia/canary-180m-flash": 12.3})
    rows = {r.name: r for r in ui.model_rows()}
    assert rows["tiny.en"].state == "loaded on cpu"
    assert rows["nvidia/canary-180m-flash"].state == "loading (12 s)"
    assert rows["nvidia/parakeet-ctc-0.6b"].state == ""
    local = rows["/models/mine.nemo"]  # loaded by path: listed even though not in the catalog
    assert local.state == "loaded on cuda" and local.cached and not local.bundled
    assert len(rows) == len(catalog.CATALOG) + 1


def test_load_model_streams_progress_then_says_where_it_loaded(ui, monkeypatch):
    def load(name, say):
        say(ProgressEvent(Stage.LOADING, f"{name}: getting the files"))
        logging.getLogger("stt_studio.fsops").warning("a temp folder was left behind")
        time.sleep(0.1)
        return SimpleNamespace(device="cpu")

    monkeypatch.setattr(ui.studio, "load", load)
    texts = list(ui.load_model("nvidia/canary-180m-flash"))
    assert len(texts) >= 2
    assert texts[0].startswith("⏳ ") and texts[0].splitlines()[0].endswith(
        " — nvidia/canary-180m-flash")
    assert any("loading model… nvidia/canary-180m-flash: getting the files" in t
               for t in texts[:-1])
    final = texts[-1].splitlines()
    assert re.fullmatch(r"✓ nvidia/canary-180m-flash is loaded on cpu \(\d+\.\d s\)", final[0])
    assert final[1:] == ["  ! a temp folder was left behind"]


def test_load_model_failure_is_readable_text(ui, caplog):
    texts = list(ui.load_model("no/such-model-xyz"))
    final = texts[-1]
    assert final.startswith("✗ Failed while downloading no/such-model-xyz")
    assert "(no/such-model-xyz)" in final.splitlines()[0]
    assert "Network or download error: " in final
    assert "no/such-model-xyz" in final
    assert f"Cache folder: {ui.studio.layout.root}" in final
    assert any(r.exc_info for r in error_records(caplog))


def test_load_model_offline_says_downloads_are_off_for_whisper(ui):
    final = list(ui.load_model("someone/no-such-whisper"))[-1]
    assert final.startswith("✗ Failed while downloading someone/no-such-whisper")
    assert "downloads are turned off (HF_HUB_OFFLINE)" in final


def test_load_model_offline_says_downloads_are_off_for_nemo(ui):
    final = list(ui.load_model("no/such-model-xyz"))[-1]
    assert "downloads are turned off (HF_HUB_OFFLINE)" in final


@pytest.mark.slow
def test_load_model_for_real(session_studio):
    ui = StudioUI(session_studio, heartbeat_s=0.2)
    final = list(ui.load_model("tiny.en"))[-1]
    assert re.match(r"✓ tiny\.en is loaded on cpu \(\d", final), final
    table, _info = ui.models_panel()
    assert table[0] == ["tiny.en", "whisper", "75 MB", "bundled", "loaded on cpu"]


def test_unload_model(ui, monkeypatch, caplog):
    assert ui.unload_model("Systran/faster-whisper-small") == \
        "Systran/faster-whisper-small was not loaded."
    assert ui.unload_model(None) == "tiny.en was not loaded."
    missing = ui.unload_model("no such model")
    assert missing.startswith("Model not found: unknown model 'no such model'")
    assert "stt-studio models" in missing
    assert any(r.exc_info for r in error_records(caplog))
    monkeypatch.setattr(ui.studio, "unload", lambda name, wait_s: name == "tiny.en")
    assert ui.unload_model("") == "✓ tiny.en is unloaded."


def test_doctor_reports_each_check(ui, recording, monkeypatch):
    monkeypatch.setattr(ui.studio, "transcribe_file", fake_transcribe())
    run(ui, audio=str(recording), model="tiny.en")  # the UI's own files are no leftovers
    texts = list(ui.doctor())
    report = texts[-1]
    assert f"[ ok ] cache folder: {ui.studio.layout.root} (writable)" in report
    assert "[warn] model hub: HF_HUB_OFFLINE is set" in report
    assert "[ ok ] leftover temp files: none" in report
    assert re.search(r"^\[ ok \] python: 3\.\d+", report, re.MULTILINE)
    assert report.splitlines()[-1].endswith(("problem(s) found.", "All checks passed."))
    assert all(t.startswith("⏳ checking the set-up…") for t in texts[:-1])


def test_doctor_failure_is_readable_text(ui, monkeypatch, caplog):
    from stt_studio import doctor

    def broken(_settings, _layout):
        raise disk_full_error(ui.studio.layout.root)

    monkeypatch.setattr(doctor, "run_doctor", broken)
    final = list(ui.doctor())[-1]
    assert final.startswith("✗ Failed while checking the set-up (doctor)")
    assert f"Unexpected error: OSError: {disk_full_error(ui.studio.layout.root)}" in final
    assert any(r.exc_info for r in error_records(caplog))



def test_model_changed_survives_text_no_path_can_hold(ui):
    assert ui.model_changed("bad\x00name") == (NO_CHANGE,) * 4
