"""``stt-studio live``: the microphone, or a recording played at real-time pace, through
:meth:`Studio.live`; settled text is printed as it comes, and the chosen formats are
written when the audio ends or Ctrl+C stops it (every turn heard is decoded first)."""

from __future__ import annotations

import argparse
import queue
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from stt_studio.domain import SAMPLE_RATE_HZ, Transcript, TranscriptionOptions
from stt_studio.errors import AudioError
from stt_studio.formats import render
from stt_studio.fsops import write_text_atomic
from stt_studio.live.session import Completed, Delta, Event, Failed, LiveOptions, Problem

if TYPE_CHECKING:
    from stt_studio.service import Studio

#: audio handed to the session at a time
STEP_S = 0.1


def add_parser(sub: Any, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    live: argparse.ArgumentParser = sub.add_parser("live", parents=[common],
                          help="transcribe the microphone (or a file played live) as it is heard")
    live.add_argument("--from-file", type=Path, metavar="FILE",
                      help="play this recording at real-time pace instead of the microphone")
    live.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)  # tests
    live.add_argument("--model", help="registry name (default: tiny.en, bundled)")
    live.add_argument("--language", help="spoken language code, e.g. en (default: detect)")
    live.add_argument("--prompt", metavar="TEXT", help="Whisper: names or jargon to expect")
    live.add_argument("--format", default="txt",
                      help="formats written when it stops, comma-separated (default: txt)")
    live.add_argument("--output-dir", type=Path, default=Path("."), metavar="DIR")
    return live


def run(args: argparse.Namespace, studio: Studio, formats: Sequence[str],
        out: TextIO = sys.stdout) -> int:
    """The session, then its files (``formats`` as parse_formats gave them)."""
    source = (_file(studio, args.from_file, args.speed) if args.from_file is not None
              else _microphone())
    printer = _Printer(out)
    options = TranscriptionOptions(language=args.language)
    received = 0
    stopped = False
    name = args.model or studio.settings.default_model
    with studio.live(printer, name, options, LiveOptions(prompt=args.prompt)) as session:
        try:
            for samples in source:
                session.append(samples)
                received += len(samples)
        except KeyboardInterrupt:
            stopped = True
            print("\nstopping: decoding what was heard…", file=sys.stderr)
    printer.finish()
    segments = tuple(session.segments)
    transcript = Transcript(text=" ".join(s.text.strip() for s in segments),
                            language=args.language, duration_s=received / SAMPLE_RATE_HZ,
                            model=name, segments=segments)
    stem = (args.from_file.stem if args.from_file is not None
            else datetime.now().strftime("live-%Y%m%d-%H%M%S"))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        path = args.output_dir / f"{stem}.{fmt}"
        write_text_atomic(path, render(transcript, fmt), studio.retrier)
        print(f"wrote {path}", file=sys.stderr)
    return 130 if stopped else (1 if printer.failed else 0)


class _Printer:
    """Settled words as they come; a new line when a turn is completed."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failed = 0
        self._open = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, Delta):
            self.out.write(event.text.lstrip() if not self._open else event.text)
            self._open = True
        elif isinstance(event, Completed):
            if self._open:
                self.out.write("\n")
            self._open = False
        elif isinstance(event, Failed | Problem):
            self.failed += isinstance(event, Failed)
            print(f"\n{event.error.render()}", file=sys.stderr)
            self._open = False
        self.out.flush()

    def finish(self) -> None:
        if self._open:
            self.out.write("\n")
            self.out.flush()


def _file(studio: Studio, path: Path, speed: float) -> Iterator[np.ndarray]:
    """The recording's audio at ``speed`` × real time; an unreadable file fails now,
    before a model loads."""
    from stt_studio.audio.decode import decode_file

    audio = decode_file(path, cache_dir=studio.layout.root, retrier=studio.retrier)
    return _paced(audio.samples, speed)


def _paced(samples: np.ndarray, speed: float) -> Iterator[np.ndarray]:
    step = int(STEP_S * SAMPLE_RATE_HZ)
    began = time.monotonic()
    for i, start in enumerate(range(0, len(samples), step)):
        wait = began + i * STEP_S / speed - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        yield samples[start:start + step]
    yield np.zeros(SAMPLE_RATE_HZ, np.float32)  # a second of quiet closes the last turn


def _microphone() -> Iterator[np.ndarray]:
    """The microphone's audio; a readable error now if it cannot be opened."""
    try:
        import sounddevice  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        raise AudioError(
            "the microphone cannot be opened: sounddevice is not installed",
            causes=(f"The optional extra [mic] is not installed ({exc})",),
            remedies=('pip install "stt-studio[mic]" (on Linux also: apt install '
                      "libportaudio2)", "Or play a recording live: stt-studio live "
                      "--from-file FILE")) from None
    except OSError as exc:
        raise AudioError("the microphone cannot be opened: PortAudio is missing",
                         causes=(str(exc),),
                         remedies=("On Linux: apt install libportaudio2",)) from None
    try:
        sounddevice.query_devices(kind="input")
    except Exception as exc:  # noqa: BLE001 - PortAudioError or ValueError: no input device
        raise AudioError("no microphone was found",
                         causes=(f"This machine has no audio input device ({exc})",),
                         remedies=("Plug in or enable a microphone and try again",
                                   "Or play a recording live: --from-file FILE")) from None
    return _listen(sounddevice)


def _listen(sounddevice: Any) -> Iterator[np.ndarray]:
    heard: queue.Queue[np.ndarray] = queue.Queue()

    def callback(data: Any, _frames: int, _time: Any, _status: Any) -> None:
        heard.put(np.array(data[:, 0], dtype=np.float32))

    with sounddevice.InputStream(samplerate=SAMPLE_RATE_HZ, channels=1, dtype="float32",
                                 blocksize=int(STEP_S * SAMPLE_RATE_HZ), callback=callback):
        print("listening: speak, Ctrl+C to stop", file=sys.stderr)
        while True:
            yield heard.get()
