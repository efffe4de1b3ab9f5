"""What the web UI shows, checked as the text a user reads (no Gradio, no browser)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from stt_studio import progress
from stt_studio.domain import (
    EngineKind,
    ModelSpec,
    Note,
    NoteKind,
    ProgressEvent,
    Segment,
    Stage,
    Transcript,
)
from stt_studio.entrypoints import ui_view as view
from stt_studio.errors import (
    FileLockedError,
    FileSystemError,
    NetworkError,
    translate_os_error,
)
from stt_studio.models import catalog
from stt_studio.retry import Retrier, RetryPolicy

WHISPER_LANGUAGES = ("en", "de", "fr", "ja")


def transcript(*segments: Segment, duration_s: float = 11.0, language: str | None = "en",
               model: str = "tiny.en") -> Transcript:
    return Transcript(" ".join(s.text.strip() for s in segments), language, duration_s, model,
                      segments)


def lock_retry_notes(retries: int, caplog: pytest.LogCaptureFixture) -> list[Note]:
    """The notes the real Retrier hands a job while a locked file is retried ``retries`` times."""
    failures = iter(range(retries))

    def flaky() -> str:
        if next(failures, None) is not None:
            raise OSError(errno.EBUSY, "Device or resource busy", "model.bin")
        return "done"

    retrier = Retrier(RetryPolicy(delays_s=(0.0,) * retries), sleep=lambda _s: None,
                      between_tries=lambda: None)
    events: list[ProgressEvent] = []
    with progress.job(events.append):
        assert retrier.run(flaky, "open model.bin") == "done"
    notes = [e.note for e in events if e.note is not None]
    assert len(notes) == retries and all(n.kind is NoteKind.LOCK_RETRY for n in notes)
    return notes


# -- clock and duration --------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0:00.0"),
    (0.04, "0:00.0"),
    (0.06, "0:00.1"),
    (9.99, "0:10.0"),
    (59.95, "1:00.0"),  # rounds up into the next minute, never "0:60.0"
    (61.2, "1:01.2"),
    (600, "10:00.0"),
    (3599.96, "1:00:00.0"),  # and into the next hour
    (3723.4, "1:02:03.4"),
    (-2.0, "0:00.0"),  # a clamped negative start never shows a minus sign
])
def test_clock(seconds, shown):
    assert view.clock(seconds) == shown


@pytest.mark.parametrize(("seconds", "shown"), [
    (0.0, "0.0 s"),
    (0.84, "0.8 s"),
    (9.94, "9.9 s"),
    (10, "10 s"),
    (42.4, "42 s"),
    (60, "1 min 00 s"),
    (185.2, "3 min 05 s"),
    (3599.4, "59 min 59 s"),
    (3599.6, "1 h 00 min"),  # rounding to the second reaches the hour
    (3720, "1 h 02 min"),
    (90061, "25 h 01 min"),
])
def test_duration(seconds, shown):
    assert view.duration(seconds) == shown


# -- which controls a model gets ---------------------------------------------------------

_KIND_BY_NAME = {
    "tiny.en": "english_whisper",
    "Systran/faster-whisper-small.en": "english_whisper",
    "Systran/faster-whisper-small": "multilingual_whisper",
    "Systran/faster-whisper-medium": "multilingual_whisper",
    "Systran/faster-whisper-large-v3": "multilingual_whisper",
    "mobiuslabsgmbh/faster-whisper-large-v3-turbo": "multilingual_whisper",
    "nvidia/canary-1b-flash": "canary",
    "nvidia/canary-180m-flash": "canary",
    "nvidia/parakeet-tdt-0.6b-v2": "parakeet",
    "nvidia/parakeet-tdt-0.6b-v3": "parakeet",
    "nvidia/parakeet-ctc-0.6b": "parakeet",
    "nvidia/parakeet-rnnt-0.6b": "parakeet",
}


def test_every_catalog_model_has_an_expected_kind():
    # a new catalog entry must be placed in _KIND_BY_NAME, so its controls get checked
    assert sorted(_KIND_BY_NAME) == sorted(spec.name for spec in catalog.CATALOG)


@pytest.mark.parametrize("spec", catalog.CATALOG, ids=lambda s: s.name)
def test_controls_for_every_catalog_model(spec):
    controls = view.controls_for(spec, WHISPER_LANGUAGES)
    kind = _KIND_BY_NAME[spec.name]
    if kind == "english_whisper":
        assert controls.languages == ("auto",)
        assert controls.targets == ()
        assert not controls.choose_language  # nothing to choose: the language box is hidden
        assert not controls.can_translate
    elif kind == "multilingual_whisper":
        assert controls.languages == ("auto", *WHISPER_LANGUAGES)
        assert controls.targets == ("en",)  # Whisper translates into English only
        assert controls.choose_language and controls.can_translate
    elif kind == "canary":
        assert controls.languages == spec.languages == ("en", "de", "es", "fr")
        assert controls.targets == spec.languages
        assert "auto" not in controls.languages  # Canary is told the language, never guesses
        assert controls.default_language == "en"
        assert controls.choose_language and controls.can_translate
    else:
        assert controls.languages == ("auto",)
        assert controls.targets == ()
        assert not controls.choose_language and not controls.can_translate
    if kind != "canary":
        assert controls.default_language == "auto"


def test_multilingual_whisper_without_the_language_list_offers_only_auto():
    spec = catalog.resolve("Systran/faster-whisper-small")
    controls = view.controls_for(spec)  # faster-whisper missing: no list to offer
    assert controls.languages == ("auto",)
    assert controls.can_translate


def test_local_nemo_file_gets_free_text_language(tmp_path):
    model = tmp_path / "my model.nemo"
    model.write_bytes(b"not really a model")
    spec = catalog.local_spec(model)
    assert spec.local
    controls = view.controls_for(spec, WHISPER_LANGUAGES)
    assert controls.languages == ()  # unknown until loaded
    assert controls.choose_language  # so the (free text) box is shown
    assert controls.default_language == "auto"
    assert controls.targets == ("en",)


def test_local_whisper_folder_gets_free_text_language(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"")
    (tmp_path / "config.json").write_text("{}", "utf-8")
    spec = catalog.local_spec(tmp_path)
    assert spec.engine is EngineKind.WHISPER
    assert view.controls_for(spec, WHISPER_LANGUAGES).languages == ()


# -- the model list ---------------------------------------------------------------------

ROWS = (
    view.ModelRow("nvidia/canary-180m-flash", "nemo", 730, False, False, ""),
    view.ModelRow("tiny.en", "whisper", 75, True, True, "loaded on cpu"),
    view.ModelRow("mystery/model", "nemo", None, False, False, ""),
    view.ModelRow("Systran/faster-whisper-small", "whisper", 484, True, False,
                  "loading (12 s)"),
    view.ModelRow("nvidia/parakeet-ctc-0.6b", "nemo", 2440, False, False, ""),
)


def test_model_choices_put_usable_models_first_and_keep_the_order_otherwise():
    choices = view.model_choices(ROWS)
    assert [value for _label, value in choices] == [
        "tiny.en", "Systran/faster-whisper-small",
        "nvidia/canary-180m-flash", "mystery/model", "nvidia/parakeet-ctc-0.6b",
    ]
    labels = dict((value, label) for label, value in choices)
    assert labels["tiny.en"] == "tiny.en · whisper · bundled"
    assert labels["Systran/faster-whisper-small"] == "Systran/faster-whisper-small · whisper · cached"
    assert labels["nvidia/canary-180m-flash"] == "nvidia/canary-180m-flash · nemo · download 730 MB"
    assert labels["mystery/model"] == "mystery/model · nemo · not downloaded"


def test_model_choices_for_the_real_catalog_start_with_the_bundled_model():
    rows = [view.ModelRow(s.name, s.engine.value, s.size_mb, s.bundled, s.bundled, "")
            for s in reversed(catalog.CATALOG)]
    choices = view.model_choices(rows)
    assert choices[0] == ("tiny.en · whisper · bundled", "tiny.en")
    assert len(choices) == len(catalog.CATALOG)


def test_model_table():
    assert view.model_table(ROWS) == [
        ["nvidia/canary-180m-flash", "nemo", "730 MB", "no", "—"],
        ["tiny.en", "whisper", "75 MB", "bundled", "loaded on cpu"],
        ["mystery/model", "nemo", "?", "no", "—"],
        ["Systran/faster-whisper-small", "whisper", "484 MB", "yes", "loading (12 s)"],
        ["nvidia/parakeet-ctc-0.6b", "nemo", "2440 MB", "no", "—"],
    ]
    assert view.model_table([]) == []


# -- segments -------------------------------------------------------------------------------

def test_segment_rows():
    done = transcript(Segment(0.0, 2.34, "  And so, my fellow Americans "),
                      Segment(62.0, 3725.96, "ask not\n"))
    assert view.segment_rows(done) == [
        ["0:00.0", "0:02.3", "And so, my fellow Americans"],
        ["1:02.0", "1:02:06.0", "ask not"],
    ]
    assert view.segment_rows(transcript()) == []


# -- the status box on success ------------------------------------------------------------

def test_success_summary():
    done = transcript(Segment(0.0, 4.0, " And so, my fellow Americans,"),
                      Segment(4.0, 11.0, " ask not what your country can do for you."))
    text = view.success(done, subject="jfk.flac", device="cpu", engine="whisper",
                        elapsed_s=2.0, files=[Path("/x/jfk.srt"), Path("/x/jfk.txt")])
    assert text.splitlines() == [
        "✓ Transcribed jfk.flac",
        "  audio: 11 s · took 2.0 s · 5.5× real time",
        "  model: tiny.en (whisper) on cpu · language: en",
        "  2 segment(s) · 14 word(s)",
        "  files: jfk.srt, jfk.txt",
    ]


def test_success_without_speech_says_so():
    text = view.success(transcript(duration_s=3.0, language=None), subject="silence.wav",
                        device="cuda", engine="nemo", elapsed_s=0.0)
    assert text.startswith("✓ Transcribed silence.wav\n")
    assert "0 segment(s) · 0 word(s)" in text
    assert "No speech was found in this recording." in text
    assert "0.0× real time" in text  # no division by zero
    assert "language:" not in text  # nothing detected, nothing claimed
    assert "files:" not in text


def test_success_with_speech_has_no_no_speech_line():
    text = view.success(transcript(Segment(0, 1, "hi")), subject="a.wav", device="cpu",
                        engine="whisper", elapsed_s=1.0)
    assert "No speech" not in text


def test_success_reports_recovered_locks_from_the_real_retry_messages(caplog):
    notes = lock_retry_notes(2, caplog)
    text = view.success(transcript(Segment(0, 1, "hi")), subject="a.wav", device="cpu",
                        engine="whisper", elapsed_s=1.0, notes=notes)
    assert "Recovered from a locked file after 2 retries:" in text
    for note in notes:
        assert f"  - {note.text}" in text
    assert "Notes:" not in text


def test_success_one_retry_is_singular(caplog):
    text = view.success(transcript(), subject="a.wav", device="cpu", engine="whisper",
                        elapsed_s=1.0, notes=lock_retry_notes(1, caplog))
    assert "Recovered from a locked file after 1 retry:" in text


def test_success_shows_other_warnings_apart_and_only_the_last_five():
    notes = [Note(NoteKind.LEFT_BEHIND, f"temp folder {i} left behind") for i in range(7)]
    text = view.success(transcript(), subject="a.wav", device="cpu", engine="whisper",
                        elapsed_s=1.0, notes=notes)
    assert "Recovered" not in text
    lines = text.splitlines()
    start = lines.index("Notes:")
    assert lines[start + 1:] == [f"  - temp folder {i} left behind" for i in range(2, 7)]


# -- the status box on failure --------------------------------------------------------------

def test_failure_names_the_stage_the_error_and_the_cache(tmp_path):
    cache = tmp_path / "cache"
    error = NetworkError("could not download nvidia/canary-180m-flash",
                         paths=(cache / "huggingface" / "hub",), detail="ConnectError: refused")
    text = view.failure(error, stage="loading model…", cache_dir=cache, subject="jfk.flac")
    lines = text.splitlines()
    assert lines[0] == "✗ Failed while loading model (jfk.flac)"
    assert lines[1] == ""
    assert error.render() in text
    assert f"Cache folder: {cache}" in lines
    assert lines[-1] == "The full traceback is in the console log."
    assert "Retries before giving up" not in text


@pytest.mark.parametrize(("stage", "shown"), [
    ("decoding audio...", "decoding audio"),
    ("transcribing… part 2 of 3", "transcribing… part 2 of 3"),
    ("starting…", "starting"),
    ("checking the options", "checking the options"),
])
def test_failure_stage_loses_only_its_trailing_ellipsis(tmp_path, stage, shown):
    text = view.failure(FileSystemError("x"), stage=stage, cache_dir=tmp_path)
    assert text.splitlines()[0] == f"✗ Failed while {shown}"  # no subject: no parentheses


def test_failure_does_not_repeat_a_cache_folder_the_error_already_names(tmp_path):
    cache = tmp_path / "cache"
    error = translate_os_error(OSError(errno.ENOSPC, "No space left on device"),
                               action="write the download file", path=tmp_path / "out.srt",
                               cache_dir=cache)
    assert str(cache) in error.paths
    text = view.failure(error, stage="writing the download files", cache_dir=cache)
    assert "Cache folder:" not in text
    assert f"  - {cache}" in text  # it is still there, once, among the paths
    assert "the disk is full" in text


def test_failure_lists_the_lock_retries_before_giving_up(tmp_path, caplog):
    notes = [*lock_retry_notes(3, caplog), Note(NoteKind.WARNING, "some unrelated warning")]
    error = FileLockedError("could not load the model because the file is in use")
    text = view.failure(error, stage="loading tiny.en on cpu", cache_dir=tmp_path, notes=notes)
    lines = text.splitlines()
    start = lines.index("Retries before giving up:")
    assert lines[start + 1:start + 4] == [f"  - {n.text}" for n in notes[:3]]
    assert "some unrelated warning" not in text
    assert lines[-1] == "The full traceback is in the console log."


# -- the status box while working ------------------------------------------------------------

def test_working_shows_stage_time_and_subject():
    assert view.working("loading model…", 65.0, 3.0, subject="jfk.flac") == \
        "⏳ loading model… (1 min 05 s) — jfk.flac"
    assert view.working("checking the set-up…", 0.42, 0.42) == "⏳ checking the set-up… (0.4 s)"


def test_working_hints_only_after_a_minute_on_one_stage():
    assert view.WAIT_HINT not in view.working("loading model…", 300.0, 59.9)
    slow = view.working("loading model…", 300.0, 60.0)
    assert slow.splitlines()[-1] == view.WAIT_HINT
    assert "console log" in view.WAIT_HINT


def test_failure_says_what_it_waited_for(tmp_path):
    notes = [Note(NoteKind.WAITING, "waiting for another stt-studio process to finish "
                                    "unpacking x.nemo (5 s so far)")]
    text = view.failure(FileLockedError("another stt-studio process has been extracting"),
                        stage="preparing the model files…", cache_dir=tmp_path, notes=notes)
    assert "Waited: waiting for another stt-studio process" in text


@pytest.mark.parametrize(("stage", "fraction", "overall"), [
    (Stage.STARTING, None, 0.0),
    (Stage.LOADING, None, 0.05),
    (Stage.DOWNLOADING, 0.5, 0.15),
    (Stage.PREPARING, 1.0, 0.3),
    (Stage.DECODING, None, 0.4),
    (Stage.TRANSCRIBING, None, 0.5),
    (Stage.TRANSCRIBING, 0.5, 0.725),
    (Stage.TRANSCRIBING, 1.7, 0.95),  # an engine overshooting the end stays in range
    (Stage.WRITING, 1.0, 1.0),
])
def test_overall_fraction_follows_stage_then_progress(stage, fraction, overall):
    assert view.overall_fraction(stage, fraction) == pytest.approx(overall)


def test_the_bar_never_moves_back_across_stages():
    order = [Stage.STARTING, Stage.LOADING, Stage.DOWNLOADING, Stage.PREPARING, Stage.DECODING,
             Stage.TRANSCRIBING, Stage.WRITING]
    ends = [view.overall_fraction(s, 1.0) for s in order]
    starts = [view.overall_fraction(s, 0.0) for s in order]
    assert all(end <= nxt for end, nxt in zip(ends, starts[1:]))


def test_working_shows_the_last_five_notes():
    notes = [Note(NoteKind.WARNING, f"note {i}") for i in range(8)]
    lines = view.working("transcribing…", 5.0, 1.0, notes).splitlines()
    assert lines[1:] == [f"  ! note {i}" for i in range(3, 8)]


# -- sizes ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("size", "shown"), [
    (0, "0 B"),
    (1023, "1023 B"),
    (1024, "1.0 KB"),
    (1536, "1.5 KB"),
    (5 * 1024**2, "5.0 MB"),
    (int(2.5 * 1024**3), "2.5 GB"),
    (5000 * 1024**3, "5000.0 GB"),  # GB is the largest unit
])
def test_human_bytes(size, shown):
    assert view.human_bytes(size) == shown


def test_controls_default_language_is_auto_for_free_text():
    free = view.Controls((), ())
    assert free.default_language == "auto" and free.choose_language and not free.can_translate


def test_local_spec_ignores_catalog_fields():
    spec = ModelSpec("x", EngineKind.NEMO, "x", languages=("en", "de"), translates=True,
                     local=True)
    assert view.controls_for(spec).languages == ()  # the file decides, once loaded


def test_an_unreadable_model_is_not_offered_as_a_download():
    row = view.ModelRow("nvidia/canary-180m-flash", "nemo", 730, False, False, "",
                        problem="Permission denied: not allowed to look for it")
    assert view.model_label(row) == "nvidia/canary-180m-flash · nemo · cache unreadable"
