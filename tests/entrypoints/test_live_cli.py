"""``stt-studio live``: a recording played live through the real console script, the
microphone's readable errors, and Ctrl+C keeping every turn heard."""

from __future__ import annotations

import sys

import pytest
import srt

from tests.entrypoints.test_cli import CORRUPT, JFK, run_cli

REFERENCE = ("And so, my fellow Americans: ask not what your country can do for you — "
             "ask what you can do for your country.")


def test_a_recording_played_live_prints_its_words_and_writes_the_formats(tmp_path):
    from stt_studio.evaluation import word_error_rate

    out = tmp_path / "out"
    proc = run_cli("live", "--from-file", JFK, "--speed", "3", "--format", "txt,srt",
                   "--output-dir", out, cache=tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert word_error_rate([(REFERENCE, proc.stdout)]).wer < 0.2, proc.stdout
    text = (out / "jfk.txt").read_text("utf-8")
    assert word_error_rate([(REFERENCE, text)]).wer < 0.2, text
    cues = list(srt.parse((out / "jfk.srt").read_text("utf-8")))
    assert cues and 0 <= cues[0].start.total_seconds() < 2.0
    assert cues[-1].end.total_seconds() <= 12.1  # the file's 11 s and the second of quiet


def test_no_sounddevice_is_a_readable_error_before_any_model_loads(tmp_path):
    """[mic] not installed (this venv has no sounddevice): what to install, exit 1."""
    try:
        import sounddevice  # noqa: F401
    except (ImportError, OSError):
        pass
    else:
        pytest.skip("sounddevice is installed here")
    proc = run_cli("live", "--output-dir", tmp_path / "out", cache=tmp_path / "cache")
    assert proc.returncode == 1, proc.stderr
    assert 'pip install "stt-studio[mic]"' in proc.stderr
    assert "--from-file FILE" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_ctrl_c_decodes_what_was_heard_and_writes_it(tmp_path, monkeypatch, session_layout,
                                                     capsys):
    """Ctrl+C after 7 s of the speech: the turn heard so far is completed and written;
    exit 130."""
    import argparse

    from stt_studio.audio.decode import decode_file
    from stt_studio.entrypoints import live_run
    from stt_studio.service import Studio
    from stt_studio.settings import Settings

    studio = Studio(Settings(cache_dir=session_layout.root, device="cpu"), session_layout)
    samples = decode_file(JFK).samples

    def interrupted(_studio, _path, _speed):
        for start in range(0, 7 * 16_000, 1600):
            yield samples[start:start + 1600]
        raise KeyboardInterrupt

    monkeypatch.setattr(live_run, "_file", interrupted)
    args = argparse.Namespace(from_file=JFK, speed=1.0, model="tiny.en", language="en",
                              prompt=None, format="txt", output_dir=tmp_path / "out")
    assert live_run.run(args, studio, ("txt",), out=sys.stdout) == 130
    written = (tmp_path / "out" / "jfk.txt").read_text("utf-8").lower()
    assert "fellow americans" in written and "ask not" in written, written
    assert "stopping" in capsys.readouterr().err


def test_an_unreadable_recording_is_a_readable_error_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("live", "--from-file", CORRUPT, "--output-dir", out, cache=tmp_path / "cache")
    assert proc.returncode == 1, proc.stderr
    assert "Cannot read the audio" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() or not list(out.iterdir())


def test_an_unknown_format_exits_2(tmp_path):
    proc = run_cli("live", "--from-file", JFK, "--format", "docx", cache=tmp_path / "cache")
    assert proc.returncode == 2 and "unknown format 'docx'" in proc.stderr, proc.stderr
