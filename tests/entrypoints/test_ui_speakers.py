"""Speakers in the web UI: the Speakers control, the speaker column, and renaming.

The handlers are called as Gradio calls them. Renaming is checked on real
download files written by the real service (a transcript with known
speakers, so it needs no model); one test transcribes a constructed
two-speaker conversation with tiny.en and the real diarizer, end to end.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from pathlib import Path

import gradio as gr
import pytest
import srt

from stt_studio.domain import Segment, Transcript, Word
from stt_studio.entrypoints import ui_view as view
from stt_studio.entrypoints.ui_batch import FileOutcome, FileState, RunView, write_zip
from stt_studio.entrypoints.ui_handlers import NAME_BOXES, NO_SPEAKERS, StudioUI
from stt_studio.service import Result
from tests.entrypoints.test_ui_handlers import HEARTBEAT_S, run
from tests.support.faults import inject, lock_error

SKIP = gr.skip()
FORMATS = ("srt", "txt", "vtt", "json", "csv")
#: two voices taking turns (LJ Speech, then the MFA speaker), 24.5 s
PATTERN = [("lj", 6.0), ("mfa", 5.0), ("lj", 5.0), ("mfa", 6.0)]


def conversation_wav(folder: Path) -> Path:
    """The two-speaker conversation as a 16-bit WAV file in ``folder``."""
    from tests.support.conversations import build
    from tests.support.longaudio import write_wav

    path = folder / "conversation.wav"
    write_wav(path, [build(PATTERN).samples])
    return path


@pytest.fixture()
def ui(session_studio, tmp_path):
    return StudioUI(session_studio, heartbeat_s=HEARTBEAT_S, outputs_root=tmp_path / "outputs")


def words(start_s: float, text: str, speaker: str) -> tuple[Word, ...]:
    return tuple(Word(start_s + n * 0.5, start_s + n * 0.5 + 0.4, f" {w}", speaker)
                 for n, w in enumerate(text.split()))


def segment(start_s: float, text: str, speaker: str) -> Segment:
    said = words(start_s, text, speaker)
    return Segment(start_s, said[-1].end_s, f" {text}", said, speaker)


def dialogue() -> Transcript:
    segments = (segment(0.5, "Good morning everyone.", "SPEAKER_1"),
                segment(3.0, "Morning, thanks for having me.", "SPEAKER_2"),
                segment(6.5, "Shall we start?", "SPEAKER_1"))
    return Transcript(" ".join(s.text.strip() for s in segments), "en", 9.0, "tiny.en",
                      segments)


def written_run(studio, folder: Path) -> RunView:
    """A finished run of two diarized files, their downloads and zip written for real."""
    files = []
    for name, stem in (("meeting.wav", "meeting"), ("call.wav", "call")):
        result = Result(dialogue(), "cpu", 1.0, "whisper")
        paths = studio.write_outputs(result.transcript, folder, stem, FORMATS,
                                     users_folder=False)
        files.append(FileOutcome(name, stem, folder / name, FileState.DONE, result,
                                 tuple(paths)))
    zip_path = write_zip(folder / "all.zip", [p for f in files for p in f.files],
                         studio.retrier, studio.layout.root)
    return RunView(tuple(files), zip_path)


def zip_members(path: str | Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def speakers_in(path: Path) -> dict[str, list[str]]:
    """Who speaks, as each format says it (read with its own parser where there is one)."""
    text = path.read_text("utf-8")
    if path.suffix == ".srt":
        return {"srt": [c.content.split("]")[0].lstrip("[") for c in srt.parse(text)]}
    if path.suffix == ".json":
        return {"json": [s["speaker"] for s in json.loads(text)["segments"]]}
    if path.suffix == ".csv":
        return {"csv": [row["speaker"] for row in csv.DictReader(io.StringIO(text))]}
    if path.suffix == ".vtt":
        return {"vtt": [line.split(">")[0][3:] for line in text.splitlines()
                        if line.startswith("<v ")]}
    return {"txt": [p.split(":")[0] for p in text.strip().split("\n\n")]}


def box_values(panel: tuple) -> list[tuple[bool, str | None, str]]:
    """(visible, label, value) of each name box in a speaker_panel answer."""
    return [(b["visible"], b.get("label"), b["value"]) for b in panel[2:]]


# -- the Speakers control --------------------------------------------------------------------

@pytest.mark.parametrize(("choice", "expected"), [
    ("Off", (False, None)), (None, (False, None)), ("Automatic", (True, None)),
    ("auto", (True, None)), ("1", (True, 1)), ("8", (True, 8)), (3, (True, 3)),
    ("12", (True, 12)),  # an API caller may ask for more than the page offers
])
def test_speakers_control_values(choice, expected):
    assert view.speaker_choice(choice) == expected


@pytest.mark.parametrize(("controls", "says"), [
    ({"speakers": "many"}, "Speakers must be Off, Automatic or a number of speakers from 1 "
                           "to 32, not 'many'"),
    ({"speakers": "0"}, "not '0'"),
    ({"speakers": "2.5"}, "not '2.5'"),
    ({"speakers": "33"}, "not '33'"),
    ({"speakers": "Automatic", "min_speakers": 5, "max_speakers": 3},
     "min_speakers must not be above max_speakers"),
])
def test_a_wrong_speakers_choice_is_said_before_any_work(session_studio, tmp_path, jfk,
                                                         controls, says):
    ui = StudioUI(session_studio, heartbeat_s=HEARTBEAT_S, outputs_root=tmp_path / "out")
    (out,) = run(ui, audio=str(jfk), model="tiny.en", **controls)
    assert out.status.startswith("✗ Failed while checking the options\n"), out.status
    assert says in out.status
    assert not (tmp_path / "out").exists()


def test_bounds_apply_to_the_automatic_count_only():
    from tests.entrypoints.test_parity import _ui_options

    exact = _ui_options(speakers="2", min_speakers=3, max_speakers=5)
    assert (exact.speakers, exact.min_speakers, exact.max_speakers) == (2, None, None)
    off = _ui_options(speakers="Off", min_speakers=3, max_speakers=5)
    assert (off.diarize, off.min_speakers, off.max_speakers) == (False, None, None)
    auto = _ui_options(speakers="Automatic", min_speakers=0, max_speakers=3)
    assert (auto.diarize, auto.min_speakers, auto.max_speakers) == (True, None, 3)


# -- the segment table ------------------------------------------------------------------------

def test_segment_table_gets_a_coloured_speaker_column():
    table = view.segment_table(dialogue())
    assert isinstance(table, dict)
    assert table["headers"] == ["start", "end", "speaker", "text"]
    assert table["data"] == [["0:00.5", "0:01.9", "Speaker 1", "Good morning everyone."],
                             ["0:03.0", "0:05.4", "Speaker 2", "Morning, thanks for having me."],
                             ["0:06.5", "0:07.9", "Speaker 1", "Shall we start?"]]
    styles = [row[2] for row in table["metadata"]["styling"]]
    assert styles[0] == styles[2] != styles[1]  # one colour per speaker
    assert all(view.speaker_colour(n) in styles[n] for n in (0, 1))
    assert all(row[:2] == ["", ""] and row[3] == "" for row in table["metadata"]["styling"])
    assert len(view.segment_widths(dialogue())) == 4


def test_segment_table_without_speakers_stays_three_plain_columns():
    plain = Transcript("Hello there.", "en", 3.0, "tiny.en", (Segment(0.0, 2.0, " Hello there."),))
    assert view.segment_table(plain) == [["0:00.0", "0:02.0", "Hello there."]]
    assert view.segment_widths(plain) == list(view.PLAIN_WIDTHS)


def test_gradio_shows_the_styled_table():
    table = gr.Dataframe(headers=["start", "end", "text"], interactive=False)
    shown = table.postprocess(view.segment_table(dialogue()))
    assert shown.headers == ["start", "end", "speaker", "text"]
    assert shown.metadata is not None
    assert shown.metadata["styling"][1][2].startswith(f"background-color: "
                                                      f"{view.speaker_colour(1)}")


# -- renaming -------------------------------------------------------------------------------

def test_rename_rewrites_the_shown_file_its_downloads_and_the_zip(ui, tmp_path):
    run_view = written_run(ui.studio, tmp_path / "run")
    other_before = {p.name: p.read_bytes() for p in run_view.files[1].files}

    panel = ui.speaker_panel(run_view, "meeting.wav")
    assert panel[0]["column_widths"] == list(view.SPEAKER_WIDTHS)
    assert panel[1]["visible"] is True
    assert box_values(panel) == [(True, "Speaker 1", ""), (True, "Speaker 2", "")] + [
        (False, None, "")] * (NAME_BOXES - 2)

    status, text, table, downloads, zip_path, renamed = ui.rename_speakers(
        run_view, "meeting.wav", " Alice ", "", *[""] * (NAME_BOXES - 2))
    assert status.splitlines() == [
        "✓ Speaker names applied to meeting.wav: Speaker 1 → Alice",
        "  downloads written again: " + ", ".join(f"meeting.{f}" for f in FORMATS),
        "  and the zip of all outputs: all.zip"]
    assert text.splitlines()[0] == "Alice: Good morning everyone."
    assert "Speaker 2: Morning, thanks for having me." in text
    assert [row[2] for row in table["data"]] == ["Alice", "Speaker 2", "Alice"]
    assert downloads == [str(p) for p in run_view.files[0].files]
    every = {}
    for path in run_view.files[0].files:
        every.update(speakers_in(path))
    assert every == {"srt": ["Alice", "Speaker 2", "Alice"],
                     "txt": ["Alice", "Speaker 2", "Alice"],
                     "vtt": ["Alice", "Speaker 2", "Alice"],
                     "json": ["Alice", "SPEAKER_2", "Alice"],
                     "csv": ["Alice", "SPEAKER_2", "Alice"]}
    members = zip_members(zip_path)
    for path in run_view.files[0].files:
        assert members[path.name] == path.read_text("utf-8")
    for name, before in other_before.items():  # names are per file: the other one stays
        assert members[name].encode("utf-8") == before
        assert (tmp_path / "run" / name).read_bytes() == before

    # the run remembers the names: shown again, the file keeps them; the other has none
    assert renamed.files[0].names == (("SPEAKER_1", "Alice"), ("SPEAKER_2", ""))
    assert renamed.files[0].result.transcript == dialogue()  # the labels as found stay
    assert box_values(ui.speaker_panel(renamed, "meeting.wav"))[:2] == [
        (True, "Speaker 1", "Alice"), (True, "Speaker 2", "")]
    assert box_values(ui.speaker_panel(renamed, "call.wav"))[:2] == [
        (True, "Speaker 1", ""), (True, "Speaker 2", "")]
    assert ui.pick_file(renamed, "meeting.wav")[0].startswith("Alice: ")

    # names given again replace the last ones (they name the speakers as found)
    status, text, *_rest, again = ui.rename_speakers(renamed, "meeting.wav", "Bob", "Carol")
    assert "Speaker 1 → Bob; Speaker 2 → Carol" in status.splitlines()[0]
    assert speakers_in(run_view.files[0].files[0]) == {"srt": ["Bob", "Carol", "Bob"]}
    assert "Alice" not in zip_members(zip_path)["meeting.srt"]
    status, text, *_rest = ui.rename_speakers(again, "meeting.wav", "", "")
    assert status.startswith("✓ Speaker names applied to meeting.wav: back to Speaker 1")
    assert speakers_in(run_view.files[0].files[0]) == {
        "srt": ["Speaker 1", "Speaker 2", "Speaker 1"]}


def test_rename_without_speakers_says_how_to_get_them(ui, tmp_path):
    plain = Transcript("Hello.", "en", 2.0, "tiny.en", (Segment(0.0, 1.0, " Hello."),))
    outcome = FileOutcome("a.wav", "a", tmp_path / "a.wav", FileState.DONE,
                          Result(plain, "cpu", 1.0))
    for run_view in (None, RunView((outcome,))):
        assert ui.rename_speakers(run_view, "a.wav", "Alice") == (NO_SPEAKERS, *(SKIP,) * 5)
    panel = ui.speaker_panel(RunView((outcome,)), "a.wav")
    assert panel[0]["column_widths"] == list(view.PLAIN_WIDTHS)
    assert panel[1]["visible"] is False
    assert all(not visible for visible, _label, _value in box_values(panel))


@pytest.mark.fault("output", "the zip of all outputs stays locked when speakers are renamed",
                   "the status box names the locked zip; the page keeps what it showed and "
                   "Rename works once the lock is gone")
def test_rename_with_a_locked_zip_says_so_and_can_be_pressed_again(ui, tmp_path, monkeypatch):
    run_view = written_run(ui.studio, tmp_path / "run")
    flaky = inject(monkeypatch, os, "replace", None, lock_error,
                   match=lambda src, dst: str(dst).endswith(".zip"))
    out = ui.rename_speakers(run_view, "meeting.wav", "Alice", "")
    assert out[1:] == (SKIP,) * 5
    assert out[0].startswith("✗ Failed while writing the renamed downloads (meeting.wav)\n")
    assert "all.zip" in out[0] and "locked" in out[0].lower()
    assert flaky.raised >= 2  # retried as a lock before giving up
    monkeypatch.undo()
    out = ui.rename_speakers(run_view, "meeting.wav", "Alice", "")
    assert out[0].startswith("✓ Speaker names applied to meeting.wav: Speaker 1 → Alice")
    assert "[Alice]" in zip_members(out[4])["meeting.srt"]


# -- end to end, with tiny.en and the real diarizer --------------------------------------------

@pytest.mark.slow
def test_a_two_speaker_conversation_gets_speakers_and_a_rename(ui, tmp_path):
    audio = conversation_wav(tmp_path)
    outputs = run(ui, audio=[str(audio)], model="tiny.en", speakers="Automatic",
                  formats=["srt", "txt"])
    final = outputs[-1]
    assert final.status.startswith("✓ Transcribed conversation.wav\n"), final.status
    assert " · 2 speakers" in final.status
    table = final.segments
    assert table["headers"] == ["start", "end", "speaker", "text"]
    assert [row[2] for row in table["data"]][:2] == ["Speaker 1", "Speaker 2"]
    assert {row[2] for row in table["data"]} == {"Speaker 1", "Speaker 2"}
    assert len(final.played.spans_s) == len(table["data"])  # a click still plays its row
    assert final.transcript.startswith("Speaker 1: ")
    assert "\n\nSpeaker 2: " in final.transcript
    # what the lead measured: LJ Speech says "Printing…", the MFA speaker "acoustic corpus"
    first = {row[2] for row in table["data"] if "rinting" in row[3]}
    second = {row[2] for row in table["data"] if "acoustic corpus" in row[3]}
    assert (first, second) == ({"Speaker 1"}, {"Speaker 2"})

    shown = final.picker["value"]
    panel = ui.speaker_panel(final.run, shown)
    assert box_values(panel)[:3] == [(True, "Speaker 1", ""), (True, "Speaker 2", ""),
                                     (False, None, "")]
    status, text, table, downloads, zip_path, _renamed = ui.rename_speakers(
        final.run, shown, "Alice", "", *[""] * (NAME_BOXES - 2))
    assert status.startswith("✓ Speaker names applied to conversation.wav: Speaker 1 → Alice")
    assert text.startswith("Alice: ") and "Speaker 1" not in text
    by_suffix = {Path(p).suffix: Path(p) for p in downloads}
    subtitles = by_suffix[".srt"].read_text("utf-8")
    cues = list(srt.parse(subtitles))
    assert cues[0].content.startswith("[Alice] "), subtitles
    assert any(c.content.startswith("[Speaker 2] ") for c in cues), subtitles
    assert not any("[Speaker 1]" in c.content for c in cues), subtitles
    assert zip_members(zip_path)["conversation.srt"] == by_suffix[".srt"].read_text("utf-8")
    assert zip_path == final.zip
