"""The web UI's handlers, called as Gradio calls them (no server, no browser).

What matters most: every failure ends as readable text in the status box, with
its traceback in the console, and a finished transcript is never dropped.
Transcriptions run the real service on the bundled tiny.en and a real
recording; faults are injected at the OS calls below the service (the
recording's ``open``, the output's ``open``, the Whisper model load).
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import re
import time
import wave
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import gradio as gr
import numpy as np
import pytest
import srt

from stt_studio import errors, fsops, service
from stt_studio.audio import decode
from stt_studio.audio.decode import decode_file
from stt_studio.cache import CacheLayout
from stt_studio.domain import SAMPLE_RATE_HZ, Audio, LongAudio, ProgressEvent, Stage, Task
from stt_studio.entrypoints import ui_handlers
from stt_studio.entrypoints import ui_view as view
from stt_studio.entrypoints.ui_handlers import Played, StudioUI
from stt_studio.models import catalog
from stt_studio.models.manager import LoadedEntry
from stt_studio.retry import RetryPolicy
from tests.conftest import make_studio
from tests.support.faults import (
    Flaky,
    count_calls,
    denied_error,
    disk_full_error,
    inject,
    lock_error,
)

HEARTBEAT_S = 0.01
SKIP = gr.skip()
NO_CHANGE = gr.update()
#: every error class there is: the status-box test below raises each one
ERROR_CLASSES = sorted(errors._KIND_BY_CLASS, key=lambda cls: cls.__name__)


def studio_error_classes() -> set[type[errors.StudioError]]:
    """Every StudioError subclass defined in stt_studio (imported so far)."""
    found: set[type[errors.StudioError]] = set()
    pending = list(errors.StudioError.__subclasses__())
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("stt_studio"):
            found.add(cls)
        pending.extend(cls.__subclasses__())
    return found


@pytest.fixture()
def studio(fresh_layout):
    return make_studio(fresh_layout)


@pytest.fixture()
def ui(studio):
    return StudioUI(studio, heartbeat_s=HEARTBEAT_S)


@pytest.fixture(scope="module")
def real_studio(tmp_path_factory):
    """One studio for the module's transcriptions: tiny.en (bundled) loads once."""
    layout = CacheLayout(tmp_path_factory.mktemp("handlers") / "cache")
    for folder in (layout.root, layout.tmp_dir, layout.hf_hub_cache, layout.nemo_cache,
                   layout.extracted_dir, layout.locks_dir):
        folder.mkdir(parents=True, exist_ok=True)
    return make_studio(layout)


@pytest.fixture()
def real_ui(real_studio, tmp_path):
    return StudioUI(real_studio, heartbeat_s=HEARTBEAT_S, outputs_root=tmp_path / "outputs")


@pytest.fixture()
def silence(tmp_path) -> Path:
    """One second of digital silence: tiny.en finds no speech in it."""
    path = tmp_path / "silence.wav"
    ui_handlers._write_wav(path, Audio(np.zeros(SAMPLE_RATE_HZ, np.float32), SAMPLE_RATE_HZ),
                           0.0, 1.0)
    return path


def never_called(*_args, **_kwargs):
    raise AssertionError("the studio must not be called")


class Out(NamedTuple):
    """One yield of the transcribe handler, by name (ui_handlers.OUTPUTS)."""

    status: Any
    transcript: Any
    segments: Any
    downloads: Any
    results: Any
    zip: Any
    picker: Any
    played: Any
    run: Any

    @property
    def main(self) -> tuple:
        """What one recording shows: status, transcript, segments, downloads, played."""
        return self.status, self.transcript, self.segments, self.downloads, self.played


def run(ui: StudioUI, **kwargs) -> list[Out]:
    outputs = [Out(*output) for output in ui.transcribe(**kwargs)]
    assert outputs, "the handler yielded nothing"
    assert Out._fields == ui_handlers.OUTPUTS
    return outputs


def error_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.levelno >= logging.ERROR and r.name.startswith("stt_studio")]


def cues_of(path: Path) -> list[srt.Subtitle]:
    return list(srt.parse(Path(path).read_text("utf-8")))


def assert_lease_returned(studio) -> None:
    assert [(e.name, e.in_use) for e in studio.loaded()] == [("tiny.en", 0)]


def assert_real_jfk_result(outputs, jfk: Path, srt_file: Path | None = None) -> None:
    """The final output is a success with tiny.en's transcript of JFK."""
    status, text, rows, _files, played = outputs[-1].main
    assert status.startswith("✓ Transcribed jfk.flac\n"), status
    assert "model: tiny.en (whisper) on cpu" in status
    assert_jfk_transcript(text, rows, played, jfk, srt_file)


def assert_jfk_transcript(text: str, rows: list, played: Played | None, jfk: Path,
                          srt_file: Path | None = None) -> None:
    """tiny.en's transcript of JFK, shown three ways that agree (box, table, player)."""
    assert "fellow americans" in text.lower() and "your country" in text.lower()
    assert rows and all(len(r) == 3 and all(isinstance(c, str) for c in r) for r in rows)
    assert " ".join(r[2] for r in rows).split() == text.split()
    assert isinstance(played, Played) and played.audio_path == str(jfk)
    assert [[view.clock(a), view.clock(b)] for a, b in played.spans_s] == [r[:2] for r in rows]
    assert all(0.0 <= a <= b <= 11.05 for a, b in played.spans_s)
    if srt_file is not None:  # the subtitles say the same words, in order, inside the speech
        cues = cues_of(srt_file)
        assert " ".join(c.content for c in cues).split() == text.split()
        assert cues[0].start.total_seconds() >= played.spans_s[0][0] - 0.001
        assert cues[-1].end.total_seconds() <= played.spans_s[-1][1] + 0.001
        assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))


# -- every failure reaches the status box --------------------------------------------------

def test_every_error_class_has_a_kind_and_a_status_box_case():
    defined = {obj for obj in vars(errors).values()
               if isinstance(obj, type) and issubclass(obj, errors.StudioError)
               and obj is not errors.StudioError}
    assert defined == set(errors._KIND_BY_CLASS), "an error class without a kind"
    assert studio_error_classes() <= set(ERROR_CLASSES), \
        "an error class outside errors.py that the status-box test does not raise"
    kinds = list(errors._KIND_BY_CLASS.values())
    assert len(set(kinds)) == len(kinds) and "error" not in kinds
    assert all(cls("x").kind == errors._KIND_BY_CLASS[cls] for cls in ERROR_CLASSES)


def _raised(case):
    if case is RuntimeError:
        return RuntimeError("boom")
    return case(f"summary of the {case.__name__}", causes=(f"a cause of {case.__name__}",),
                remedies=(f"a remedy for {case.__name__}",))


@pytest.mark.parametrize("case", [*ERROR_CLASSES, RuntimeError], ids=lambda c: c.__name__)
def test_every_error_reaches_the_status_text(real_ui, jfk, caplog, monkeypatch, case):
    """Each error class, raised where the recording is decoded (the model is real)."""
    caplog.set_level(logging.INFO, logger="stt_studio")
    error = _raised(case)

    def audio_stream(path, **_kwargs):  # opening the recording for decoding
        raise error

    monkeypatch.setattr(service, "AudioStream", audio_stream)
    outputs = run(real_ui, audio=str(jfk), model="tiny.en")
    status, text, rows, files, played = outputs[-1].main
    assert (text, rows, files, played) == ("", [], None, None)
    assert_lease_returned(real_ui.studio)  # the failed job let go of the model
    logged = [r for r in error_records(caplog) if r.exc_info]
    if case is errors.JobCancelled:  # asked for, not a failure: said so, no traceback
        assert status.startswith("⏹ Cancelled while decoding audio (jfk.flac), after ")
        assert "  stopped: jfk.flac — nothing was written for it" in status
        assert logged == []
        assert any("cancelled while decoding audio" in r.getMessage() for r in caplog.records)
        return
    assert status.startswith("✗ Failed while decoding audio (jfk.flac)\n")
    if case is RuntimeError:
        assert "Unexpected error: RuntimeError: boom" in status
        assert "A bug in stt-studio" in status
    else:
        assert error.render() in status
        assert status.splitlines()[2].startswith(f"{case.title}: summary of the {case.__name__}")
        assert f"a cause of {case.__name__}" in status
        assert f"a remedy for {case.__name__}" in status
    assert str(real_ui.studio.layout.root) in status
    assert status.endswith("The full traceback is in the console log.")
    # the console has the traceback of the very exception
    assert len(logged) == 1 and logged[0].exc_info[1] is error
    assert "Traceback (most recent call last)" in caplog.text
    assert "in transcribe_file" in caplog.text


def test_a_failure_after_lock_retries_lists_them(fresh_layout, jfk, monkeypatch):
    """WinError 32 on every Whisper model load: the retries are listed in the failure."""
    import faster_whisper

    studio = make_studio(fresh_layout, retry=RetryPolicy(delays_s=(0.0, 0.0)))
    loader = inject(monkeypatch, faster_whisper, "WhisperModel", None)
    status = run(StudioUI(studio, heartbeat_s=HEARTBEAT_S), audio=str(jfk),
                 model="tiny.en")[-1][0]
    assert loader.raised == 3  # the first try and 2 retries
    model_dir = loader.seen[0]
    assert status.startswith("✗ Failed while loading model tiny.en on cpu (jfk.flac)")
    assert "A file is locked by another program" in status
    retries = status.split("Retries before giving up:\n")[1].splitlines()
    assert [line for line in retries if line.startswith("  - ")] == [
        f"  - load {model_dir}: file locked ({lock_error(model_dir)}); retry {n}/2 in 0.0 s"
        for n in (1, 2)]
    assert studio.loaded() == [] and studio.loading() == {}


# -- no recording, bad options ------------------------------------------------------------------

@pytest.mark.parametrize("audio", [None, ""])
def test_no_recording_yet(ui, monkeypatch, audio):
    monkeypatch.setattr(ui.studio, "transcribe_file", never_called)
    outputs = run(ui, audio=audio, model="tiny.en")
    assert len(outputs) == 1
    status, text, rows, files, played = outputs[0].main
    assert status.startswith("No recording yet: upload an audio or video file")
    assert (text, rows, files, played) == ("", [], None, None)


@pytest.mark.parametrize(("options", "message"), [
    ({"beam_size": 0}, "beam_size must be >= 1"),
    ({"formats": ["srt", "docx", "pdf"]}, "unknown output format(s): docx, pdf"),
    ({"language": "en-US"}, "language must be a code such as 'en', not 'en-US'"),
    ({"task": "summarize"}, "'summarize' is not a valid Task"),
    ({"batch_size": 0}, "batch_size must be between 1 and 256"),
    ({"long_audio": "sideways"}, "'sideways' is not a valid LongAudio"),
], ids=["beam", "format", "language", "task", "batch", "long-audio"])
def test_bad_options_are_explained_before_any_work(ui, jfk, monkeypatch, options, message):
    monkeypatch.setattr(ui.studio, "transcribe_file", never_called)
    outputs = run(ui, audio=str(jfk), model="tiny.en", **options)
    assert len(outputs) == 1
    status, text, rows, files, played = outputs[0].main
    lines = status.splitlines()
    assert lines[0] == "✗ Failed while checking the options"
    assert f"Invalid option: {message}" in lines
    assert f"Cache folder: {ui.studio.layout.root}" in lines
    assert (text, rows, files, played) == ("", [], None, None)


def test_a_missing_beam_size_from_the_api_is_explained(ui, jfk, monkeypatch):
    monkeypatch.setattr(ui.studio, "transcribe_file", never_called)
    status = run(ui, audio=str(jfk), model="tiny.en", beam_size=None)[-1][0]
    assert status.startswith("✗ Failed while checking the options")


def test_options_reach_the_studio_and_whisper_as_chosen(real_ui, jfk, monkeypatch):
    import faster_whisper

    calls = count_calls(monkeypatch, real_ui.studio, "transcribe_many")  # the real one runs
    whisper_kwargs: list[dict] = []
    original = faster_whisper.WhisperModel.transcribe

    def spy(self, audio, **kwargs):
        whisper_kwargs.append(kwargs)
        return original(self, audio, **kwargs)

    monkeypatch.setattr(faster_whisper.WhisperModel, "transcribe", spy)
    batched = faster_whisper.BatchedInferencePipeline.transcribe

    def batched_spy(self, audio, **kwargs):
        whisper_kwargs.append(kwargs)
        return batched(self, audio, **kwargs)

    monkeypatch.setattr(faster_whisper.BatchedInferencePipeline, "transcribe", batched_spy)
    canary = run(real_ui, audio=str(jfk), model="  nvidia/canary-180m-flash ", language="de",
                 task="translate", target_language="en", word_timestamps=False, formats=None,
                 beam_size=3.0, batch_size=4.0, vad=False, long_audio="windows")[-1][0]
    default = run(real_ui, audio=str(jfk), model=None, language="auto", task="",
                  target_language="", formats=None)
    gone = jfk.parent / "no-such-recording.flac"  # fails after the options reached the studio
    blank = run(real_ui, audio=str(gone), model="  ", language=None, formats=None)[-1][0]
    (paths, model, options, _), (_, default_model, auto, _), \
        (gone_paths, blank_model, none, _) = calls
    assert paths == [jfk] and gone_paths == [gone]
    assert model == "nvidia/canary-180m-flash"
    assert (options.language, options.task, options.target_language) == ("de", Task.TRANSLATE,
                                                                         "en")
    assert options.word_timestamps is False
    assert options.beam_size == 3 and isinstance(options.beam_size, int)
    assert options.batch_size == 4 and isinstance(options.batch_size, int)
    assert options.vad is False and options.long_audio is LongAudio.WINDOWS
    assert "downloads are turned off (HF_HUB_OFFLINE)" in canary  # offline, not cached
    assert default_model == blank_model == real_ui.studio.settings.default_model == "tiny.en"
    assert auto.language is None and auto.task is Task.TRANSCRIBE
    assert auto.target_language is None and auto.beam_size == 5 and auto.word_timestamps
    assert (auto.batch_size, auto.vad, auto.long_audio) == (8, True, LongAudio.AUTO)
    assert none.language is None
    # what Whisper itself was asked for (canary and the missing file never reached it)
    assert [(k["language"], k["task"], k["beam_size"], k["word_timestamps"])
            for k in whisper_kwargs] == [(None, "transcribe", 5, True)]
    assert_real_jfk_result(default, jfk)
    assert "the file does not exist" in blank


# -- while working, and the success -----------------------------------------------------------

def test_progress_is_shown_while_working_and_other_outputs_are_kept(real_ui, jfk):
    bar: list[tuple[float, str]] = []
    outputs = run(real_ui, audio=str(jfk), model="tiny.en",
                  progress=lambda fraction, desc=None: bar.append((fraction, desc)))
    working, final = outputs[:-1], outputs[-1]
    assert len(working) >= 3  # stages and heartbeats, not one jump to the end
    for out in working:
        assert out.status.startswith("⏳ ")
        assert out.status.splitlines()[0].endswith(" — jfk.flac")
        # the transcript box and the rest stay as they are; the results table follows the job
        assert out.main[1:] == (SKIP,) * 4 and out[5:] == (SKIP,) * 4
    assert SKIP == {"__type__": "update"}
    tables = [out.results for out in working if out.results != SKIP]
    assert tables and tables[-1] == [["jfk.flac", "—", "working…"]]
    assert all(t in ([["jfk.flac", "—", "waiting"]], tables[-1]) for t in tables)
    assert final.results == [["jfk.flac", "11 s", "done"]]
    shown = [out.status.split(" (")[0] for out in working]
    through = [n for n, text in enumerate(shown)
               if re.fullmatch(r"⏳ transcribing… \d+ of 11 s", text)]
    assert through, shown  # Whisper's segments move the stage on
    assert shown.index("⏳ loading model…") < shown.index("⏳ decoding audio…") \
        < shown.index("⏳ transcribing…") < through[0]
    files = [Path(f) for f in final.downloads]
    assert [f.name for f in files] == ["jfk.srt", "jfk.txt"]  # the default formats
    assert all(f.parent.parent == real_ui.outputs_root for f in files)  # where it was told
    assert_real_jfk_result(outputs, jfk, srt_file=files[0])
    assert files[1].read_text("utf-8") == final.transcript + "\n"
    assert_lease_returned(real_ui.studio)
    # the progress bar: stage by stage, never backwards
    fractions = [f for f, _desc in bar]
    assert fractions == sorted(fractions)
    assert {0.05, 0.4, 0.5} <= {round(f, 3) for f in fractions}  # loading, decoding, transcribing
    # then through the recording (the bar follows the position), then the writing
    through = [(f, int(desc.split()[1])) for f, desc in bar
               if re.fullmatch(r"transcribing… \d+ of 11 s", desc)]
    assert through[-1][1] >= 10
    for fraction, heard_s in through:
        assert fraction == pytest.approx(0.5 + 0.45 * heard_s / 11.0, abs=0.025)
    assert bar[-1] == (0.95, "writing the outputs… jfk.flac")


def test_every_format_is_written_in_the_cache_and_old_downloads_are_forgotten(real_studio,
                                                                                jfk):
    ui = StudioUI(real_studio, heartbeat_s=HEARTBEAT_S)
    assert ui.outputs_root == real_studio.layout.ui_dir / "outputs"
    old, recent = ui.outputs_root / "20000101-000000-old", ui.outputs_root / "recent"
    for folder in (old, recent):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "jfk.srt").write_text("1\n", "utf-8")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    outputs = run(ui, audio=str(jfk), model="tiny.en",
                  formats=["srt", "json", "txt", "vtt", "csv"])
    status, text, rows, files, _played = outputs[-1].main
    paths = [Path(f) for f in files]
    assert [p.name for p in paths] == ["jfk.srt", "jfk.json", "jfk.txt", "jfk.vtt", "jfk.csv"]
    assert "files: jfk.srt, jfk.json, jfk.txt, jfk.vtt, jfk.csv" in status
    for path in paths:
        assert path.is_file() and path.is_relative_to(real_studio.layout.root)
    assert_real_jfk_result(outputs, jfk, srt_file=paths[0])
    data = json.loads(paths[1].read_text("utf-8"))
    assert data["model"] == "tiny.en" and data["text"] == text
    assert paths[2].read_text("utf-8") == text + "\n"
    assert "fellow Americans" in paths[3].read_text("utf-8")
    assert len(paths[4].read_text("utf-8").splitlines()) == 1 + len(rows)
    assert not old.exists() and recent.is_dir()
    assert not [p for p in paths[0].parent.iterdir() if p.name.startswith(".")]
    # and the models panel now shows the model loaded
    assert {r.name: r.state for r in ui.model_rows()}["tiny.en"] == "loaded on cpu"


def test_no_formats_means_no_downloads(real_ui, jfk):
    outputs = run(real_ui, audio=str(jfk), model="tiny.en", formats=[])
    status, files = outputs[-1].status, outputs[-1].downloads
    assert "files:" not in status
    assert files is None
    assert_real_jfk_result(outputs, jfk)
    assert not real_ui.outputs_root.exists()


def test_a_recovered_lock_is_reported_on_success(real_ui, jfk, monkeypatch):
    """WinError 32 once on opening the recording: retried, and said in the summary."""
    opener = Flaky(builtins.open, 1, lock_error, match=lambda file, *a, **k: Path(file) == jfk)
    monkeypatch.setattr(decode, "open", opener, raising=False)
    outputs = run(real_ui, audio=str(jfk), model="tiny.en", formats=[])
    status = outputs[-1].status
    assert opener.raised == 1 and opener.calls >= 2
    assert_real_jfk_result(outputs, jfk)
    assert "Recovered from a locked file after 1 retry:" in status
    assert f"  - read {jfk}: file locked ({lock_error(jfk)}); retry 1/3 in 0.1 s" in status


def test_a_persistently_locked_recording_fails_readably(real_ui, jfk, monkeypatch):
    opener = Flaky(builtins.open, None, lock_error, match=lambda file, *a, **k: Path(file) == jfk)
    monkeypatch.setattr(decode, "open", opener, raising=False)
    status, text, *_ = run(real_ui, audio=str(jfk), model="tiny.en", formats=[])[-1]
    assert opener.raised == 4  # the first try and the policy's 3 retries
    assert status.startswith("✗ Failed while decoding audio (jfk.flac)\n"), status
    assert "A file is locked by another program" in status and str(jfk) in status
    assert "Retries before giving up:" in status and text == ""
    assert_lease_returned(real_ui.studio)


def test_empty_recording_result_says_no_speech(real_ui, silence):
    status, text, rows, files, played = run(real_ui, audio=str(silence), model="tiny.en",
                                            formats=["srt", "txt"])[-1].main
    assert status.startswith("✓ Transcribed silence.wav\n"), status
    assert "No speech was found in this recording." in status
    assert text == "" and rows == []
    assert [Path(f).suffix for f in files] == [".srt", ".txt"]
    assert Path(files[0]).read_text("utf-8") == ""
    assert played == Played(str(silence), ())


def test_a_failed_write_still_returns_the_transcript(real_ui, jfk, monkeypatch, caplog):
    """ENOSPC when the download files are written: the transcript is still shown."""
    writer = Flaky(builtins.open, None, disk_full_error,
                   match=lambda file, mode="r", *a, **k: "w" in mode)
    monkeypatch.setattr(fsops, "open", writer, raising=False)
    outputs = run(real_ui, audio=str(jfk), model="tiny.en", formats=["srt", "txt"])
    status, text, rows, files, played = outputs[-1].main
    assert writer.raised == 1  # the first file; nothing after it is tried
    assert status.startswith("✗ Failed while writing the download files (jfk.flac)\n")
    assert "File system error: the disk is full while trying to write the transcript" \
        in status
    assert "jfk.srt" in status  # the file it could not write
    assert "The transcript below is complete; copy it from the box." in status
    assert files is None
    assert_jfk_transcript(text, rows, played, jfk)  # no transcript dropped
    assert not [p for p in real_ui.outputs_root.rglob("*") if p.is_file()]  # no partial file
    logged = [r for r in error_records(caplog) if r.exc_info]
    assert logged and isinstance(logged[0].exc_info[1], errors.FileSystemError)


def test_a_job_without_a_result_is_a_failure_not_a_crash(ui, jfk, monkeypatch):
    # the real service never returns None; the handler must not crash if it did
    monkeypatch.setattr(ui.studio, "transcribe_file", lambda *a, **k: None)
    status, text, *_ = run(ui, audio=str(jfk), model="tiny.en")[-1]
    assert status.startswith("✗ Failed while starting (jfk.flac)")
    assert "the job ended without a result" in status
    assert text == ""


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


def _hub_cache_unreadable(ui, monkeypatch):
    """PermissionError when the hub cache is listed (canary's snapshot folder is there)."""
    hub = ui.studio.layout.hf_hub_cache
    (hub / "models--nvidia--canary-180m-flash" / "snapshots").mkdir(parents=True)
    inject(monkeypatch, os, "listdir", None, denied_error,
           match=lambda path=".", *a, **k: str(path).startswith(str(hub)))


def _listing_fails(ui, monkeypatch):
    def list_models():
        raise denied_error(ui.studio.layout.hf_hub_cache)

    monkeypatch.setattr(ui.studio, "list_models", list_models)


@pytest.mark.parametrize("fault", [_hub_cache_unreadable, _listing_fails],
                         ids=["hub-cache-lookup", "list-models"])
def test_models_panel_failure_is_text_not_a_broken_page(ui, monkeypatch, fault):
    fault(ui, monkeypatch)
    table, info = ui.models_panel()  # never raises: a refresh must not break the page
    assert isinstance(table, list) and isinstance(info, str) and info.strip()
    assert all(isinstance(cell, str) for row in table for cell in row)
    shown = info + "\n".join(" ".join(row) for row in table)
    assert "Traceback" not in shown
    assert "Permission denied" in shown  # the reason, wherever the panel puts it
    if not table:  # nothing listed: the reason is said instead
        assert str(ui.studio.layout.hf_hub_cache) in info


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


def test_doctor_streams_its_stage_then_the_report(ui, monkeypatch):
    """What the UI adds to the doctor: "checking" lines while it runs, then its report."""
    from stt_studio import doctor

    reports = []
    real_doctor = doctor.run_doctor

    def slow_doctor(settings, layout):
        time.sleep(0.1)  # long enough for a few heartbeats
        reports.append(real_doctor(settings, layout))
        return reports[-1]

    monkeypatch.setattr(doctor, "run_doctor", slow_doctor)
    texts = list(ui.doctor())
    (report,) = reports
    assert texts[-1] == report.render()
    assert len(texts) >= 3
    for text in texts[:-1]:
        assert re.fullmatch(r"⏳ checking the set-up… \(\d+(\.\d)? s\)", text), text


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
