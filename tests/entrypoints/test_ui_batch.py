"""Several recordings in one press of Transcribe, and Cancel, through the UI's handlers.

The real service runs the bundled tiny.en on real recordings (one of them
corrupt); the handler is driven as Gradio drives it, Cancel included. What is
checked is what the page shows (status box, results table, file picker) and
what the user downloads (every file, and the zip of them all).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from stt_studio.cache import CacheLayout
from stt_studio.domain import Segment, Transcript, Word
from stt_studio.entrypoints import ui_batch
from stt_studio.entrypoints import ui_view as view
from stt_studio.entrypoints.ui_batch import FileOutcome, FileState, unique_names
from stt_studio.entrypoints.ui_handlers import CANCEL_LABEL, CANCELLING_LABEL, Played, StudioUI
from tests.conftest import SHARED_AUDIO, make_studio
from tests.entrypoints.test_ui_handlers import HEARTBEAT_S, Out, run, select
from tests.support.faults import inject, lock_error

pytestmark = pytest.mark.slow

CORRUPT = SHARED_AUDIO / "D_awkward" / "evil_corrupt.wav"
LONG = SHARED_AUDIO / "B_long" / "CONSTRUCTED_ljspeech_LJ001-0001_to_0032_concatenated.wav"
SHORT = SHARED_AUDIO / "A_short_en" / "ljspeech" / "LJ001-0013.wav"  # 2.6 s
LAMPS = SHARED_AUDIO / "A_short_en" / "librispeech" / "1089-134686-0002.wav"  # 6.6 s
SKIP = gr.skip()


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """One studio for the module (tiny.en loads once), with fast lock retries."""
    layout = CacheLayout(tmp_path_factory.mktemp("batch") / "cache")
    for folder in (layout.root, layout.tmp_dir, layout.hf_hub_cache, layout.nemo_cache,
                   layout.extracted_dir, layout.locks_dir):
        folder.mkdir(parents=True, exist_ok=True)
    return make_studio(layout)


@pytest.fixture()
def ui(studio, tmp_path):
    return StudioUI(studio, heartbeat_s=HEARTBEAT_S, outputs_root=tmp_path / "outputs")


def zip_members(path: str | Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def run_folder(ui: StudioUI) -> Path:
    (folder,) = ui.outputs_root.iterdir()  # one run, one folder
    return folder


def assert_model_free(studio) -> None:
    assert [e.in_use for e in studio.loaded() if e.name == "tiny.en"] == [0]


# -- several files -----------------------------------------------------------------------

@pytest.mark.fault("bad input", "one of three recordings uploaded at once is corrupt",
                   "the other two are transcribed and zipped; the table says which failed and "
                   "why; its error is in the status box")
def test_three_files_one_corrupt(ui, jfk, tmp_path, caplog):
    twin = tmp_path / "other" / "jfk.wav"  # another recording whose outputs would be jfk.*
    twin.parent.mkdir()
    shutil.copy(LAMPS, twin)
    outputs = run(ui, audio=[str(jfk), str(CORRUPT), str(twin)], model="tiny.en",
                  formats=["srt", "txt", "json"])
    final = outputs[-1]

    # while it works: which file, its stage, and the whole run
    heads = [out.status.splitlines()[0] for out in outputs[:-1]]
    assert any(h.startswith("⏳ file 1 of 3: jfk.flac — transcribing… ") for h in heads)
    assert any(h.startswith("⏳ file 3 of 3: jfk.wav — transcribing… ") for h in heads)
    overall = [out.status.splitlines()[1] for out in outputs[:-1]]
    assert overall[0].startswith("  overall: 0 of 3 files finished · ")
    assert any(line.startswith("  overall: 2 of 3 files finished · ") for line in overall)
    percents = [int(re.search(r"(\d+)%", line)[1]) for line in overall]
    assert percents == sorted(percents)

    # the end: the table, the status box, the picker
    reason = "failed: Cannot read the audio: the file could not be decoded: evil_corrupt.wav"
    assert final.results == [["jfk.flac", "11 s", "done"],
                             ["evil_corrupt.wav", "—", reason],
                             ["jfk.wav", "6.6 s", "done"]]
    status = final.status
    assert status.startswith("✗ 1 of 3 files failed; 2 transcribed\n"), status
    assert "  model: tiny.en (whisper) on cpu" in status
    assert f"  ✗ evil_corrupt.wav · {reason}" in status
    failure = status.split("\n\n", 1)[1]
    assert failure.startswith("✗ Failed while decoding audio (evil_corrupt.wav)\n")
    assert "Cannot read the audio" in failure and "What to do:" in failure
    assert failure.endswith("The full traceback is in the console log.")
    assert final.picker == {"__type__": "update", "visible": True, "value": "jfk.flac",
                            "choices": ["jfk.flac", "evil_corrupt.wav", "jfk.wav"]}
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert [r.getMessage() for r in logged] == ["evil_corrupt.wav failed while decoding audio"]

    # the zip: every format of every transcribed file, the same bytes as the downloads
    folder = run_folder(ui)
    assert Path(final.zip).parent == folder and Path(final.zip).suffix == ".zip"
    members = zip_members(final.zip)
    assert set(members) == {f"{stem}.{fmt}" for stem in ("jfk", "jfk-2")
                            for fmt in ("srt", "txt", "json")}
    for name, data in members.items():
        assert (folder / name).read_bytes() == data
    assert sorted(p.name for p in folder.iterdir()) == sorted([*members, Path(final.zip).name])
    assert "fellow americans" in members["jfk.txt"].decode().lower()
    assert "lamps" in json.loads(members["jfk-2.json"])["text"].lower()

    # shown: the first file; a click on a row (or the picker) shows another
    assert "fellow Americans" in final.transcript
    assert [Path(f).name for f in final.downloads] == ["jfk.srt", "jfk.txt", "jfk.json"]
    assert final.played.audio_path == str(jfk)
    text, rows, downloads, played, picker = ui.show_file(final.run, select(2))
    assert "lamps" in text.lower() and rows and " ".join(r[2] for r in rows).split() == \
        text.split()
    assert [Path(f).name for f in downloads] == ["jfk-2.srt", "jfk-2.txt", "jfk-2.json"]
    assert played == Played(str(twin), tuple((s.start_s, s.end_s) for s in
                                             final.run.files[2].result.transcript.segments))
    assert picker == {"__type__": "update", "value": "jfk.wav"}
    assert ui.pick_file(final.run, "jfk.wav") == (text, rows, downloads, played)
    assert ui.show_file(final.run, select(1))[:4] == ("", [], None, None)  # failed: no text
    assert ui.show_file(final.run, select(3)) == (SKIP,) * 5
    assert ui.pick_file(final.run, "nothing.wav") == (SKIP,) * 4
    assert_model_free(ui.studio)


def test_the_same_name_twice_gets_two_rows_and_two_sets_of_files():
    paths = [Path("/a/talk.wav"), Path("/b/talk.wav"), Path("/c/Talk.mp3"), Path("/d/talk-2.wav")]
    assert unique_names(paths) == [("talk.wav", "talk"), ("talk.wav (2)", "talk-2"),
                                   ("Talk.mp3", "Talk-3"), ("talk-2.wav", "talk-2-2")]


# -- Cancel -------------------------------------------------------------------------------

@pytest.mark.fault("concurrency", "Cancel pressed in the web UI while the second of three "
                   "recordings is transcribed",
                   "it stops within seconds; the first file's outputs stay (zip included); the "
                   "status box says what was stopped and what was not run; the next job runs")
def test_cancel_stops_the_job_and_keeps_what_finished(ui, jfk):
    assert ui.arm() == (gr.update(interactive=False),
                        gr.update(interactive=True, value=CANCEL_LABEL))  # as the button does
    outputs: list[Out] = []
    cancelled_at = None
    other_page = SimpleNamespace(session_hash="another-page")
    # sequential decoding (batch 1): a checkpoint after every 30 s of the long file
    for out in ui.transcribe([str(jfk), str(LONG), str(SHORT)], "tiny.en", batch_size=1,
                             formats=["srt", "txt"]):
        outputs.append(Out(*out))
        head = out[0].splitlines()[0]
        if head.startswith("⏳ file 1 of 3"):
            ui.cancel(other_page)  # another page's Cancel: this job goes on
        if cancelled_at is None and re.match(r"⏳ file 2 of 3: .* transcribing… \d+ of 222 s",
                                             head):
            cancelled_at = time.monotonic()
            assert ui.cancel() == gr.update(interactive=False, value=CANCELLING_LABEL)
    assert cancelled_at is not None, [o.status for o in outputs]
    assert time.monotonic() - cancelled_at < 8  # the next 30 s window at most
    final = outputs[-1]
    status = final.status.splitlines()
    assert re.fullmatch(rf"⏹ Cancelled while transcribing \d+ of 222 s \({LONG.name}\), "
                        r"after .+\.", status[0]), status[0]
    assert status[1:] == [
        "  finished: jfk.flac — their outputs stay downloadable",
        f"  stopped: {LONG.name} — nothing was written for it",
        "  not run: LJ001-0013.wav",
        f"  download: every output of the finished files in {Path(final.zip).name}",
        "Ready for the next job: press Transcribe to start one.",
    ]
    assert [row[2] for row in final.results] == ["done", "cancelled", "not run"]
    assert final.results[0][:2] == ["jfk.flac", "11 s"]
    assert set(zip_members(final.zip)) == {"jfk.srt", "jfk.txt"}
    # nothing of the stopped file, no temp file: the finished file's outputs and the zip
    assert sorted(p.name for p in run_folder(ui).iterdir()) == sorted(
        ["jfk.srt", "jfk.txt", Path(final.zip).name])
    assert "fellow Americans" in final.transcript  # the finished file is shown
    assert ui._cancels == {}  # the switch is gone with its job
    assert_model_free(ui.studio)
    assert ui.disarm() == (gr.update(interactive=True),
                           gr.update(interactive=False, value=CANCEL_LABEL))

    ui.arm()  # the next job runs as usual: the cancel does not stick
    again = run(ui, audio=[str(SHORT)], model="tiny.en", formats=[])[-1]
    assert again.status.startswith("✓ Transcribed LJ001-0013.wav\n"), again.status
    assert again.results == [["LJ001-0013.wav", "2.6 s", "done"]]


def test_cancel_before_the_job_starts_runs_nothing(ui, jfk, monkeypatch):
    ui.arm()
    ui.cancel()  # pressed while the job still waits in the queue
    loads = []
    monkeypatch.setattr(ui.studio, "load", lambda *a, **k: loads.append(a))
    final = run(ui, audio=[str(jfk), str(SHORT)], model="tiny.en")[-1]
    head, *rest = final.status.splitlines()
    assert re.fullmatch(r"⏹ Cancelled while starting, after \d\.\d s\.", head), head
    assert rest == ["  not run: jfk.flac, LJ001-0013.wav",
                    "Ready for the next job: press Transcribe to start one."]
    assert final.results == [["jfk.flac", "—", "not run"], ["LJ001-0013.wav", "—", "not run"]]
    assert (final.transcript, final.segments, final.downloads, final.zip, final.played) == \
        ("", [], None, None, None)
    assert not ui.outputs_root.exists() and loads == []


def test_cancel_with_nothing_running_changes_nothing(ui):
    assert ui.cancel() == gr.update(interactive=False, value=CANCELLING_LABEL)
    assert ui._cancels == {}


# -- the zip --------------------------------------------------------------------------------

def _zip_moves(*args, **_kwargs) -> bool:
    return str(args[1]).endswith(".zip")


@pytest.mark.fault("output", "the zip of all outputs stays locked ({failures} failing moves "
                   "into place, WinError 32)", "{expect}")
@pytest.mark.parametrize(("failures", "expect"), [
    (2, "the zip is made after 2 retries, which the status box lists"),
    (None, "each file stays downloadable; the status box says there is no zip and why; no "
           "partial zip is left"),
], ids=["released", "persistent"])
def test_a_locked_zip(ui, jfk, monkeypatch, failures, expect):
    mover = inject(monkeypatch, ui_batch.os, "replace", failures, lock_error, match=_zip_moves)
    final = run(ui, audio=[str(jfk)], model="tiny.en", formats=["srt", "txt"])[-1]
    assert final.status.startswith("✓ Transcribed jfk.flac\n")
    assert [Path(f).name for f in final.downloads] == ["jfk.srt", "jfk.txt"]
    names = sorted(p.name for p in run_folder(ui).iterdir())
    if failures:
        assert mover.raised == 2
        assert set(zip_members(final.zip)) == {"jfk.srt", "jfk.txt"}
        assert final.status.count("file locked") == 2 and "retry 2/3" in final.status
        assert names == sorted(["jfk.srt", "jfk.txt", Path(final.zip).name])
    else:
        assert mover.raised == 4  # the first try and the policy's 3 retries
        assert final.zip is None
        assert ("  ! no zip of all outputs (each file can still be downloaded alone): "
                "A file is locked by another program") in final.status
        assert names == ["jfk.srt", "jfk.txt"]  # no partial zip left behind


# -- what the page shows ---------------------------------------------------------------------

def test_a_long_transcript_reads_as_paragraphs():
    said = [("Good morning everyone.", 0.0, 2.0), ("Let us begin.", 2.2, 3.5),
            ("After the break.", 8.0, 9.5), ("One more thing.", 9.6, 11.0)]
    segments = tuple(Segment(a, b, f" {text}", tuple(
        Word(a + i * 0.3, a + i * 0.3 + 0.25, w) for i, w in enumerate(text.split())))
        for text, a, b in said)
    transcript = Transcript(" ".join(t for t, _, _ in said), "en", 11.0, "tiny.en", segments)
    assert view.transcript_text(transcript) == (
        "Good morning everyone. Let us begin.\n\nAfter the break. One more thing.")


def test_results_rows_say_each_state():
    files = [FileOutcome("a.wav", "a", Path("a.wav"), FileState.RUNNING),
             FileOutcome("b.wav", "b", Path("b.wav"), FileState.FAILED, reason="Cannot read"),
             FileOutcome("c.wav", "c", Path("c.wav"), FileState.CANCELLED),
             FileOutcome("d.wav", "d", Path("d.wav"))]
    assert view.results_rows(files) == [["a.wav", "—", "working…"],
                                        ["b.wav", "—", "failed: Cannot read"],
                                        ["c.wav", "—", "cancelled"],
                                        ["d.wav", "—", "waiting"]]


def test_the_multi_file_input_and_the_microphone_both_reach_the_job(ui, monkeypatch, jfk):
    seen = []

    def transcribe_many(paths, model, options, progress_for):
        seen.append(list(paths))
        return iter(())

    monkeypatch.setattr(ui.studio, "transcribe_many", transcribe_many)
    run(ui, audio=str(jfk), model="tiny.en")  # the microphone / an API call: one path
    run(ui, audio=[str(jfk), str(SHORT)], model="tiny.en")  # the upload box: a list
    run(ui, audio=[], model="tiny.en")  # nothing: no job at all
    assert seen == [[jfk], [jfk, SHORT]]
    assert os.fspath(seen[0][0]) == str(jfk)
