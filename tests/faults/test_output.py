"""The output folder fails while a finished transcript is saved (real tiny.en, real files).

Whatever goes wrong (permission, full disk, a file where the folder should
be), the transcript is still shown (UI) or printed (CLI), the error names the
path, and no ``.partial-*`` file or half-written output is left behind.
"""

from __future__ import annotations

import builtins
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stt_studio.entrypoints import cli
from stt_studio.entrypoints.ui_handlers import StudioUI
from stt_studio.formats import render
from stt_studio.fsops import unique_sibling
from tests.conftest import ROOT, SHARED_AUDIO
from tests.support.faults import count_calls, denied_error, disk_full_error, inject

pytestmark = pytest.mark.slow  # tiny.en, loaded once for the session

SCRIPT = Path(sys.executable).parent / "stt-studio"
SHORT = SHARED_AUDIO / "D_awkward" / "short_lt2s" / "LJ001-0002.wav"  # "in being comparatively modern."
WORD = "modern"
FORMATS = ("srt", "txt")
PARTIAL = unique_sibling(Path("NAME"), "partial").name.partition("NAME")[0]  # ".partial-"


@pytest.fixture()
def recording(tmp_path) -> Path:
    path = tmp_path / "talk.wav"
    path.write_bytes(SHORT.read_bytes())
    return path


def _inside(folder: Path) -> Callable[..., bool]:
    def match(file: Any, *args: Any, **kwargs: Any) -> bool:
        return isinstance(file, (str, os.PathLike)) and Path(os.fspath(file)).is_relative_to(folder)

    return match


@dataclass
class FillingDisk:
    """``open`` for files inside ``folder``: the disk fills up halfway through the
    ``nth`` file written there (ENOSPC, after the first half reached the disk)."""

    folder: Path
    nth: int = 1
    opened: int = 0
    half_written_bytes: int = 0

    def __post_init__(self) -> None:
        self.real_open = builtins.open

    def __call__(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = self.real_open(file, mode, *args, **kwargs)
        if "w" not in mode or not _inside(self.folder)(file):
            return handle
        self.opened += 1
        return _Fills(handle, self) if self.opened == self.nth else handle


class _Fills:
    def __init__(self, handle: Any, disk: FillingDisk) -> None:
        self._handle, self._disk = handle, disk

    def write(self, text: str) -> int:
        self._handle.write(text[: len(text) // 2])
        self._handle.flush()
        self._disk.half_written_bytes = os.path.getsize(self._handle.name)
        raise disk_full_error(self._handle.name)

    def __enter__(self) -> _Fills:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


@dataclass(frozen=True)
class Fault:
    """Arms one fault on ``out`` (the output folder); says which output it hits
    (the index into the formats) and what the message must say."""

    arm: Callable[[Any, Path], Any]
    hits: int  # index of the format whose write fails (earlier ones are complete)
    phrase: str
    names_blocker: bool = False  # the message names the file that blocks the folder


def _denied_create(monkeypatch: Any, out: Path) -> Any:
    return inject(monkeypatch, builtins, "open", None, denied_error, match=_inside(out))


def _denied_replace(monkeypatch: Any, out: Path) -> Any:
    return inject(monkeypatch, os, "replace", None, denied_error, match=_inside(out))


def _disk_full(nth: int) -> Callable[[Any, Path], Any]:
    def arm(monkeypatch: Any, out: Path) -> FillingDisk:
        disk = FillingDisk(out, nth)
        monkeypatch.setattr(builtins, "open", disk)
        return disk

    return arm


def _folder_is_a_file(_monkeypatch: Any, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("not a folder\n")


FAULTS = {
    "permission denied creating a file in the output folder":
        Fault(_denied_create, 0, "Permission denied"),
    "permission denied at os.replace into the output folder":
        Fault(_denied_replace, 0, "Permission denied"),
    "the disk fills up halfway through the first file (ENOSPC)":
        Fault(_disk_full(1), 0, "the disk is full"),
    "the disk fills up halfway through the second file (ENOSPC)":
        Fault(_disk_full(2), 1, "the disk is full"),
    "the output folder is a file": Fault(_folder_is_a_file, 0,
                                         "a file stands where a folder should be",
                                         names_blocker=True),
}


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(PARTIAL)]


def assert_nothing_half_written(root: Path, transcript: Any, fault: Fault, armed: Any) -> None:
    assert not leftovers(root)
    if isinstance(armed, FillingDisk):
        assert armed.half_written_bytes > 0  # a half-written temp file did exist...
    outputs = [p for p in root.rglob("*") if p.is_file() and p.suffix.lstrip(".") in FORMATS]
    # ...and every output left is whole: the formats before the failing one, nothing after
    assert sorted(p.suffix.lstrip(".") for p in outputs) == sorted(FORMATS[:fault.hits])
    for path in outputs:
        assert path.read_text("utf-8") == render(transcript, path.suffix.lstrip("."))


# -- the web UI --------------------------------------------------------------------------------

@pytest.mark.fault("output", "UI: {case}",
                   "the transcript is still shown; the status names the path; "
                   "no .partial-* or half-written file is left")
@pytest.mark.parametrize("case", list(FAULTS))
def test_ui_keeps_the_transcript_when_saving_fails(session_studio, monkeypatch, tmp_path,
                                                   recording, case):
    fault = FAULTS[case]
    outputs_root = tmp_path / "outputs"
    ui = StudioUI(session_studio, heartbeat_s=0.05, outputs_root=outputs_root)
    writes = count_calls(monkeypatch, session_studio, "write_outputs")
    armed = fault.arm(monkeypatch, outputs_root)
    updates = list(ui.transcribe(str(recording), "tiny.en", formats=list(FORMATS),
                                 word_timestamps=False, beam_size=1,
                                 progress=lambda *a, **k: None))
    status, text, rows, files = updates[-1][:4]
    played = updates[-1][7]  # ui_handlers.OUTPUTS: ..., file picker, played, run

    assert len(writes) == 1
    transcript, folder, stem, formats = writes[0]
    assert WORD in text.lower() and text == transcript.text
    assert rows and files is None and played is not None
    assert status.startswith("✗ Failed while writing the download files (talk.wav)"), status
    assert fault.phrase in status
    named = outputs_root if fault.names_blocker else folder / f"{stem}.{formats[fault.hits]}"
    assert str(named) in status, status
    assert "The transcript below is complete; copy it from the box." in status
    assert_nothing_half_written(tmp_path, transcript, fault, armed)


# -- the command line --------------------------------------------------------------------------

@pytest.mark.fault("output", "CLI: {case}",
                   "the transcript is printed; the error names the path and says it was "
                   "printed; exit code 1; no .partial-* or half-written file is left")
@pytest.mark.parametrize("case", list(FAULTS))
def test_cli_prints_the_transcript_when_saving_fails(session_studio, session_layout,
                                                     monkeypatch, tmp_path, recording, capsys,
                                                     case):
    fault = FAULTS[case]
    out = tmp_path / "out"
    writes = count_calls(monkeypatch, session_studio, "write_outputs")
    monkeypatch.setattr(cli, "_studio", lambda _settings, _layout: session_studio)
    args = cli.build_parser().parse_args(
        ["transcribe", "--format", ",".join(FORMATS), "--output-dir", str(out),
         "--beam-size", "1", "--no-word-timestamps", str(recording)])
    armed = fault.arm(monkeypatch, out)
    code = cli._transcribe(args, session_studio.settings, session_layout)
    stdout, stderr = capsys.readouterr()

    assert code == 1
    transcript = writes[0][0]
    assert WORD in stdout.lower() and stdout.strip() == transcript.text.strip()
    assert stderr.startswith(f"✗ {recording}\n"), stderr
    assert fault.phrase in stderr
    named = out if fault.names_blocker else out / f"{recording.stem}.{FORMATS[fault.hits]}"
    assert str(named) in stderr
    assert f"The transcript of {recording} was printed to standard output instead." in stderr
    assert "1 of 1 file(s) failed" in stderr and "Traceback" not in stderr
    # the advice is about the output folder, not the model cache
    assert "--output-dir" in stderr and "--cache-dir" not in stderr
    assert "models rm" not in stderr and "antivirus" not in stderr
    assert_nothing_half_written(tmp_path, transcript, fault, armed)


def _as_plain_user(command: list[str]) -> list[str]:
    """Root ignores permission bits: drop the capabilities that let it (as a user is)."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *command]


@pytest.mark.fault("output", "CLI: the output folder is read-only (chmod 555, a real process)",
                   "the transcript is printed; the error names the file it could not write; "
                   "exit code 1; the folder stays empty")
def test_cli_prints_the_transcript_into_a_read_only_folder(tmp_path, recording):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STT_STUDIO_")}
    env.update(STT_STUDIO_CACHE_DIR=str(tmp_path / "cache"), HF_HUB_OFFLINE="1",
               HF_ENDPOINT="http://127.0.0.1:9", PYTHONIOENCODING="utf-8")
    command = [str(SCRIPT), "transcribe", "--format", "txt,srt", "--output-dir", str(out),
               str(recording)]
    try:
        proc = subprocess.run(_as_plain_user(command), env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=240, check=False)
    finally:
        out.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    assert WORD in proc.stdout.lower()
    assert "Permission denied: not allowed to write the transcript" in proc.stderr
    assert str(out / "talk.txt") in proc.stderr
    assert f"The transcript of {recording} was printed to standard output instead." \
        in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(out.iterdir()) == []
