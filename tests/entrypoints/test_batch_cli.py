"""`stt-studio transcribe` on folders: mirrored outputs, resume, Ctrl-C, the summary.

Real subprocesses of the console script with the bundled tiny.en, on copies of
short group A clips; the write-interrupt cases run the CLI in-process so that
Ctrl-C can land at an exact OS call.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import srt

from stt_studio.entrypoints import cli
from stt_studio.entrypoints.terminal import (
    RichDisplay,
    RowStatus,
    SummaryRow,
    plain_table,
    totals_line,
)
from tests.conftest import SHARED_AUDIO
from tests.entrypoints.test_cli import SCRIPT, run_cli

CLIPS = SHARED_AUDIO / "A_short_en"
SHORT = CLIPS / "ljspeech" / "LJ001-0013.wav"  # 2.6 s "than in the same operations..."
ILL = CLIPS / "librivox_pocketsphinx" / "sense_and_sensibility_01_austen_64kb-0880.wav"
AMIABLE = CLIPS / "librivox_pocketsphinx" / "sense_and_sensibility_01_austen_64kb-0930.wav"
LONGER = [CLIPS / "ljspeech" / "LJ001-0004.wav", CLIPS / "ljspeech" / "LJ001-0016.wav",
          CLIPS / "librispeech" / "1221-135766-0002.wav"]  # ~5 s each


def place(root: Path, files: dict[str, Path]) -> Path:
    for name, source in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return root


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``folder`` (hidden ones too): relative path -> (mtime_ns, bytes)."""
    found = {}
    for parent, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(parent) / name
            found[path.relative_to(folder).as_posix()] = (path.stat().st_mtime_ns,
                                                          path.read_bytes())
    return found


def summary_row(stderr: str, source: Path) -> str:
    """The summary line of ``source`` (the plain table: file first, status last)."""
    rows = [line for line in stderr.splitlines() if line.startswith(f"{source} ")]
    assert len(rows) == 1, stderr
    return rows[0]


@pytest.mark.slow
def test_folders_mirror_skip_non_media_resume_and_overwrite(tmp_path):
    src, out, cache = tmp_path / "in", tmp_path / "out", tmp_path / "cache"
    place(src, {"top.wav": SHORT, "sub/mid.wav": ILL, "sub/deeper/low.wav": AMIABLE,
                ".hidden/x.wav": SHORT})
    (src / "notes.txt").write_text("not audio")

    # without --recursive: the folder's own files only
    first = run_cli("transcribe", src, "--format", "txt,json", "--output-dir", out, cache=cache)
    assert first.returncode == 0, first.stderr
    assert sorted(snapshot(out)) == ["top.json", "top.txt"]
    assert f"skipped {src / 'notes.txt'}: not an audio or video file" in first.stderr
    assert "operations" in (out / "top.txt").read_text("utf-8").lower()
    assert first.stdout == ""  # a folder input prints no transcript
    assert re.search(r"^FILE +DURATION +TIME +×REAL TIME +STATUS$", first.stderr, re.M)
    assert re.fullmatch(rf"{re.escape(str(src / 'top.wav'))} +0:03 +\d+\.\d s +\d+\.\d× +done",
                        summary_row(first.stderr, src / "top.wav"))
    assert "1 done: 0:03 of audio in" in first.stderr

    # one output of sub/mid.wav exists from a stopped run: partly done is redone
    (out / "sub").mkdir()
    (out / "sub" / "mid.txt").write_text("stale\n")
    before = snapshot(out)
    second = run_cli("transcribe", src, "--recursive", "--format", "txt,json",
                     "--output-dir", out, cache=cache)
    assert second.returncode == 0, second.stderr
    after = snapshot(out)
    assert sorted(after) == ["sub/deeper/low.json", "sub/deeper/low.txt", "sub/mid.json",
                             "sub/mid.txt", "top.json", "top.txt"]  # mirrored; .hidden left out
    assert {k: after[k] for k in ("top.txt", "top.json")} == \
        {k: before[k] for k in ("top.txt", "top.json")}  # already done: untouched
    assert "young man" in (out / "sub" / "mid.txt").read_text("utf-8").lower()
    assert "amiable" in (out / "sub" / "deeper" / "low.txt").read_text("utf-8").lower()
    assert json.loads((out / "sub" / "mid.json").read_text("utf-8"))["model"] == "tiny.en"
    assert summary_row(second.stderr, src / "top.wav").endswith(" skipped: already done")
    assert summary_row(second.stderr, src / "sub" / "mid.wav").endswith(" done")
    assert summary_row(second.stderr, src / "sub" / "deeper" / "low.wav").endswith(" done")
    assert "2 done, 1 skipped (already done)" in second.stderr

    # --overwrite redoes the folder's own file; the sub-folders are not walked
    third = run_cli("transcribe", src, "--overwrite", "--format", "txt,json",
                    "--output-dir", out, cache=cache)
    assert third.returncode == 0, third.stderr
    again = snapshot(out)
    assert again["top.txt"][0] != after["top.txt"][0]
    assert {k: v for k, v in again.items() if k.startswith("sub/")} == \
        {k: v for k, v in after.items() if k.startswith("sub/")}


@pytest.mark.slow
@pytest.mark.fault("output", "Ctrl-C (SIGINT to a real process) after the first file of a "
                   "folder is written",
                   "exit code 130; finished files stay whole, nothing partial or temporary is "
                   "left; the summary names the files not run; the rerun does only those")
def test_ctrl_c_stops_the_batch_cleanly_and_the_rerun_finishes_it(tmp_path):
    src, out, cache = tmp_path / "in", tmp_path / "out", tmp_path / "cache"
    names = ["c1.wav", "c2.wav", "c3.wav", "c4.wav"]
    place(src, dict(zip(names, [SHORT, *LONGER])))
    formats = ("txt", "srt", "json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STT_STUDIO_")}
    env.update(STT_STUDIO_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1",
               HF_ENDPOINT="http://127.0.0.1:9", PYTHONIOENCODING="utf-8")
    log_path = tmp_path / "stderr.txt"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(SCRIPT), "transcribe", str(src), "--format",
                                 ",".join(formats), "--output-dir", str(out)],
                                env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 120
            while not all((out / f"c1.{fmt}").exists() for fmt in formats):
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.02)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
    stderr = log_path.read_text("utf-8")
    assert code == 130, stderr
    assert "Traceback" not in stderr
    files = snapshot(out)
    assert not [name for name in files if Path(name).name.startswith(".")], files
    done = {Path(name).stem for name in files}
    assert "c1" in done and done != {"c1", "c2", "c3", "c4"}, files
    for stem in done:  # every file there is whole: all its formats, each one parses
        assert {f"{stem}.{fmt}" for fmt in formats} <= set(files)
        assert list(srt.parse((out / f"{stem}.srt").read_text("utf-8")))
        assert json.loads((out / f"{stem}.json").read_text("utf-8"))["segments"]
    left = [name for name in names if Path(name).stem not in done]
    for name in left:
        assert summary_row(stderr, src / name).endswith(" not run (interrupted)")
    assert f"interrupted: {len(left)} file(s) not run" in stderr

    rerun = run_cli("transcribe", src, "--format", ",".join(formats), "--output-dir", out,
                    cache=cache)
    assert rerun.returncode == 0, rerun.stderr
    final = snapshot(out)
    assert sorted(final) == sorted(f"{Path(n).stem}.{fmt}" for n in names for fmt in formats)
    assert {k: final[k] for k in files} == files  # what was finished is untouched
    for name in names:
        expected = "done" if name in left else "skipped: already done"
        assert summary_row(rerun.stderr, src / name).endswith(f" {expected}")


def test_a_folder_without_recordings_is_an_error_that_says_why(tmp_path):
    src = tmp_path / "in"
    place(src, {"sub/a.wav": SHORT})
    (src / "notes.txt").write_text("not audio")
    proc = run_cli("transcribe", src, "--output-dir", tmp_path / "out", cache=tmp_path / "cache")
    assert proc.returncode == 1
    assert f"✗ {src}\nCannot read the audio: no audio or video files in the folder: {src}\n" \
        in proc.stderr
    assert "Add --recursive to include its sub-folders" in proc.stderr
    assert summary_row(proc.stderr, src).endswith(
        f" failed: Cannot read the audio: no audio or video files in the folder: {src}")
    assert "1 of 1 file(s) failed" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_invalid_batch_options_exit_2_with_one_line(tmp_path):
    for flags, message in [
        (["--batch-size", "0"], "batch_size must be between 1 and 256"),
        (["--max-line-chars", "3"], "max_line_chars must be between 10 and 200"),
        (["--max-lines", "9"], "max_lines must be between 1 and 5"),
        (["--max-cue-s", "nan"], "max_cue_s must be between 1 and 60 seconds"),
    ]:
        proc = run_cli("transcribe", SHORT, *flags, "--output-dir", tmp_path / "o",
                       cache=tmp_path / "cache")
        assert proc.returncode == 2, (flags, proc.stderr)
        assert proc.stderr == f"stt-studio transcribe: error: {message}\n"
    proc = run_cli("transcribe", SHORT, "--long-audio", "sometimes", cache=tmp_path / "cache")
    assert proc.returncode == 2 and "invalid choice: 'sometimes'" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_the_flags_reach_the_options_and_the_subtitle_layout():
    args = cli.build_parser().parse_args(
        ["transcribe", "x.wav", "--batch-size", "1", "--no-vad", "--long-audio",
         "local-attention", "--max-line-chars", "30", "--max-lines", "1", "--max-cue-s", "4.5",
         "--recursive", "--overwrite"])
    assert (args.batch_size, args.vad, args.long_audio) == (1, False, "local-attention")
    assert (args.max_line_chars, args.max_lines, args.max_cue_s) == (30, 1, 4.5)
    assert args.recursive and args.overwrite
    defaults = cli.build_parser().parse_args(["transcribe", "x.wav"])
    assert (defaults.batch_size, defaults.vad, defaults.long_audio) == (8, True, "auto")
    assert (defaults.max_line_chars, defaults.max_lines, defaults.max_cue_s) == (42, 2, 7.0)
    assert not defaults.recursive and not defaults.overwrite


@pytest.mark.slow
def test_on_a_terminal_bars_then_a_table(tmp_path):
    import pty

    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STT_STUDIO_")}
    env.update(STT_STUDIO_CACHE_DIR=str(tmp_path / "cache"), HF_HUB_OFFLINE="1",
               HF_ENDPOINT="http://127.0.0.1:9", PYTHONIOENCODING="utf-8", COLUMNS="140",
               TERM="xterm")
    env.pop("NO_COLOR", None)
    main, terminal = pty.openpty()
    proc = subprocess.Popen([str(SCRIPT), "transcribe", str(SHORT), "--output-dir", str(out)],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=terminal)
    os.close(terminal)
    screen = b""
    try:
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        stdout = proc.stdout.read().decode("utf-8")
        assert proc.wait(60) == 0, screen.decode("utf-8", "replace")
    finally:
        os.close(main)
        if proc.poll() is None:
            proc.kill()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode("utf-8", "replace"))
    assert "1/1 files" in text, text  # the batch bar, at its end
    assert "│" in text and re.search(rf"{re.escape(SHORT.name)}.*0:03.*done", text), text
    assert "Traceback" not in text
    assert "operations" in stdout.lower()  # one file with txt: its text on stdout
    assert "operations" in (out / f"{SHORT.stem}.txt").read_text("utf-8").lower()


# -- Ctrl-C at an exact point of the write (in-process, the session's tiny.en) ---------------

class Interrupt:
    """Raise KeyboardInterrupt from the n-th call (1-based) of ``os.<name>`` on a path
    under ``folder``, then behave."""

    def __init__(self, monkeypatch, name: str, on_call: int, folder: Path) -> None:
        self.real = getattr(os, name)
        self.name = name
        self.calls = 0
        self.on_call = on_call
        self.folder = str(folder)
        monkeypatch.setattr(os, name, self)

    def __call__(self, *args, **kwargs):
        target = args[0]
        if self.name == "fsync" and os.path.exists(f"/proc/self/fd/{target}"):
            target = os.readlink(f"/proc/self/fd/{target}")
        if str(target).startswith(self.folder):
            self.calls += 1
            if self.calls == self.on_call:
                raise KeyboardInterrupt
        return self.real(*args, **kwargs)


WRITE_INTERRUPTS = {
    # (OS call, which call raises): where Ctrl-C lands inside the first file's outputs
    "after the first output is saved": ("replace", 2),
    "while a temp file is flushed to disk": ("fsync", 2),
    "twice: in the save, then in the temp file's removal": ("unlink", 1),
}


@pytest.mark.slow
@pytest.mark.fault("output", "Ctrl-C while a batch writes a file's outputs: {case}",
                   "exit code 130; no output, temp file or new folder of that file is left; "
                   "the summary says both files were not run")
@pytest.mark.parametrize("case", list(WRITE_INTERRUPTS))
def test_ctrl_c_while_writing_leaves_nothing_of_that_file(session_studio, session_layout,
                                                          monkeypatch, tmp_path, capsys, case):
    src, out = tmp_path / "in", tmp_path / "out"
    place(src, {"sub/a.wav": SHORT, "sub/b.wav": ILL})
    monkeypatch.setattr(cli, "_studio", lambda _settings, _layout: session_studio)
    args = cli.build_parser().parse_args(
        ["transcribe", "--recursive", "--format", "txt,srt,json", "--output-dir", str(out),
         "--beam-size", "1", "--no-word-timestamps", str(src)])
    name, on_call = WRITE_INTERRUPTS[case]
    if name == "unlink":  # the second Ctrl-C hits write_text_atomic's own clean-up
        Interrupt(monkeypatch, "replace", 1, out)
    interrupt = Interrupt(monkeypatch, name, on_call, out)

    code = cli._transcribe(args, session_studio.settings, session_layout)
    stdout, stderr = capsys.readouterr()
    assert interrupt.calls >= on_call  # the interrupt did land in the write
    assert code == 130, stderr
    assert not out.exists() or snapshot(out) == {}, snapshot(out)
    assert not (out / "sub").exists()  # the folder it made is gone too
    assert summary_row(stderr, src / "sub" / "a.wav").endswith(" not run (interrupted)")
    assert summary_row(stderr, src / "sub" / "b.wav").endswith(" not run (interrupted)")
    assert "interrupted: 2 file(s) not run" in stderr
    assert stdout == ""


# -- the terminal views --------------------------------------------------------------------------

ROWS = [
    SummaryRow("in/a.wav", RowStatus.DONE, 65.0, 13.0),
    SummaryRow("in/long name.wav", RowStatus.FAILED, None, 0.25, "Cannot read the audio: bad"),
    SummaryRow("in/c.wav", RowStatus.SKIPPED),
    SummaryRow("in/[red]d.wav", RowStatus.NOT_RUN, 3725.0, reason="interrupted"),
]


def test_the_plain_summary_is_aligned():
    lines = plain_table(ROWS).splitlines()
    assert lines == [
        "FILE              DURATION    TIME  ×REAL TIME  STATUS",
        "in/a.wav              1:05  13.0 s        5.0×  done",
        "in/long name.wav         ?   0.2 s           -  failed: Cannot read the audio: bad",
        "in/c.wav                 -       -           -  skipped: already done",
        "in/[red]d.wav      1:02:05       -           -  not run (interrupted)",
    ]
    assert totals_line(ROWS) == ("1 done, 1 failed, 1 skipped (already done), 1 not run: "
                                 "1:05 of audio in 13.0 s")


def test_the_terminal_view_draws_bars_and_a_table():
    from rich.console import Console

    from stt_studio.domain import ProgressEvent, Stage

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, color_system=None)
    with RichDisplay([60.0, None], console=console) as display:
        progress = display.progress_for("in/a.wav", 60.0)
        progress(ProgressEvent(Stage.TRANSCRIBING, "", 0.5))
        assert display._bars is not None
        tasks = {t.description: t for t in display._bars.tasks}
        assert tasks["in/a.wav"].completed == pytest.approx(30.0)
        assert tasks["batch"].fields["info"] == "0/2 files · 0:30/1:00 audio"
        display.file_finished(60.0)
        assert tasks["batch"].completed == pytest.approx(60.0)
        assert tasks["batch"].total == pytest.approx(120.0)  # the unknown one weighs the mean
        display.summary(ROWS)
    text = screen.getvalue()
    assert "in/[red]d.wav" in text  # a file name is never markup
    assert "failed: Cannot read the audio: bad" in text and "│" in text
    assert "1 done, 1 failed" in text
