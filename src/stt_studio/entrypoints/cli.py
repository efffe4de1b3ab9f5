"""`stt-studio`: the command-line shell over :class:`stt_studio.service.Studio`.

Start-up stays light: argparse, settings and the cache come first, and the
heavy libraries are only imported once a command needs an engine.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stt_studio import batch
from stt_studio.audio import probe
from stt_studio.cache import CacheLayout, prepare_cache
from stt_studio.domain import LongAudio, Progress, ProgressEvent, Task, TranscriptionOptions
from stt_studio.entrypoints import terminal
from stt_studio.entrypoints.console import as_studio_error, configure_logging, report
from stt_studio.entrypoints.terminal import RowStatus, SummaryRow
from stt_studio.errors import AudioError, StudioError, translate_os_error
from stt_studio.formats import FORMATS, SubtitleLayout, parse_formats
from stt_studio.settings import DEVICES, Settings

if TYPE_CHECKING:
    from stt_studio.service import Result, Studio

log = logging.getLogger("stt_studio.cli")

_OPTIONS = TranscriptionOptions()  # the one set of defaults the flags show
_LAYOUT = SubtitleLayout()
#: the temp names of `fsops.write_text_atomic` (``.partial-<name>-<pid>-<random>``)
PARTIAL_PREFIX = ".partial-"
#: non-media files named one by one before the rest are counted
_NOTES_SHOWN = 20


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535, not {port}")
    return port


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cache-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help="cache folder (default: model_cache/ in the project, or "
                             "$STT_STUDIO_CACHE_DIR)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks and debug logs")
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="only warnings and errors on the console")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="stt-studio", parents=[common],
        description="Local speech-to-text with NeMo and Whisper models.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tr = sub.add_parser("transcribe", parents=[common], help="transcribe audio/video files")
    tr.add_argument("inputs", nargs="+", metavar="INPUT", type=Path,
                    help="audio or video files and folders; a name that starts with '-' is "
                         "written ./-name, or after -- at the end (options first: "
                         "stt-studio transcribe --format srt -- -name.wav)")
    tr.add_argument("--model", help="registry name or local path (default: tiny.en, bundled)")
    tr.add_argument("--format", default="txt",
                    help=f"comma-separated from {','.join(FORMATS)}, or all (default: txt)")
    tr.add_argument("--output-dir", type=Path, default=Path("."), metavar="DIR",
                    help="where the outputs go; a folder input's sub-folders are mirrored "
                         "under it (default: .)")
    tr.add_argument("--recursive", "-r", action="store_true",
                    help="also transcribe the files in the sub-folders of a folder input")
    tr.add_argument("--overwrite", action="store_true",
                    help="redo inputs whose outputs all exist (default: skip them, so a "
                         "stopped batch resumes where it stopped)")
    tr.add_argument("--language", help="spoken language code, e.g. en (default: detect)")
    tr.add_argument("--task", choices=[t.value for t in Task], default=Task.TRANSCRIBE.value)
    tr.add_argument("--target-language",
                    help="translation target (Canary); Whisper translates to English")
    tr.add_argument("--device", choices=DEVICES, default=None)
    tr.add_argument("--no-word-timestamps", action="store_true")
    tr.add_argument("--beam-size", type=int, default=_OPTIONS.beam_size)
    tr.add_argument("--batch-size", type=int, default=_OPTIONS.batch_size, metavar="N",
                    help="pieces of audio decoded together; 1 = one at a time "
                         f"(default: {_OPTIONS.batch_size})")
    tr.add_argument("--no-vad", dest="vad", action="store_false",
                    help="send the silences to the model too (default: speech only)")
    tr.add_argument("--long-audio", choices=[m.value for m in LongAudio],
                    default=_OPTIONS.long_audio.value,
                    help="NeMo models on long audio: windows cut at pauses, or the model's "
                         "local attention (default: auto, chosen by length)")
    cues = tr.add_argument_group("subtitles (srt, vtt)")
    cues.add_argument("--max-line-chars", type=int, default=_LAYOUT.max_line_chars, metavar="N",
                      help=f"characters a line holds at most (default: {_LAYOUT.max_line_chars})")
    cues.add_argument("--max-lines", type=int, default=_LAYOUT.max_lines, metavar="N",
                      help=f"lines a cue holds at most (default: {_LAYOUT.max_lines})")
    cues.add_argument("--max-cue-s", type=float, default=_LAYOUT.max_cue_s, metavar="SECONDS",
                      help=f"seconds a cue stays at most (default: {_LAYOUT.max_cue_s:g})")
    tr.set_defaults(handler=_transcribe)

    models = sub.add_parser("models", parents=[common], help="list, pull or remove models")
    msub = models.add_subparsers(dest="models_action", metavar="ACTION")
    msub.add_parser("list", parents=[common], help="list the registry (default)")
    pull = msub.add_parser("pull", parents=[common], help="download a model into the cache")
    pull.add_argument("name")
    rm = msub.add_parser("rm", parents=[common], help="delete a model from the cache")
    rm.add_argument("name")
    models.set_defaults(handler=_models)

    serve = sub.add_parser("serve", parents=[common], help="start the web UI")
    serve.add_argument("--host", default=None,
                       help="address to listen on (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=_port, default=None,
                       help="port (default: 7860, or $STT_STUDIO_PORT)")
    serve.add_argument("--device", choices=DEVICES, default=None)
    serve.add_argument("--no-preload", action="store_true",
                       help="do not load the default model at start-up")
    serve.set_defaults(handler=_serve)

    doctor = sub.add_parser("doctor", parents=[common], help="check the set-up")
    doctor.add_argument("--clean", action="store_true", help="delete leftover temp folders")
    doctor.set_defaults(handler=_doctor)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    configure_logging(debug=debug, quiet=getattr(args, "quiet", False))
    try:
        settings = Settings.from_env(cache_dir=getattr(args, "cache_dir", None),
                                     device=getattr(args, "device", None),
                                     serving=args.command == "serve")
    except ValueError as exc:
        parser.error(str(exc))
    try:
        layout = prepare_cache(settings.cache_dir)  # before any heavy import
    except OSError as exc:
        report(translate_os_error(exc, action="create the cache folder",
                                  path=exc.filename or settings.cache_dir,
                                  cache_dir=settings.cache_dir), show_traceback=debug)
        return 1
    if args.command == "transcribe":  # `serve` logs them itself and shows them on the page
        from stt_studio.hazards import log_hazards, windows_hazards

        log_hazards(windows_hazards(layout))
    try:
        return int(args.handler(args, settings, layout))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the outermost shell: log and show it
        report(exc, show_traceback=debug or not isinstance(exc, StudioError))
        return 1


def _studio(settings: Settings, layout: CacheLayout) -> Studio:
    from stt_studio.service import Studio

    return Studio(settings, layout)


def _progress(subject: object, event: ProgressEvent) -> None:
    """Stage news as log lines (notes were logged where they happened)."""
    if event.stage is not None:
        log.info("%s: %s", subject, event.text)


def _transcribe(args: argparse.Namespace, settings: Settings, layout: CacheLayout) -> int:
    try:
        formats = parse_formats(args.format)
        options = TranscriptionOptions(
            language=args.language, task=Task(args.task),
            target_language=args.target_language,
            word_timestamps=not args.no_word_timestamps, beam_size=args.beam_size,
            batch_size=args.batch_size, vad=args.vad, long_audio=LongAudio(args.long_audio),
        )
        subtitles = SubtitleLayout(max_line_chars=args.max_line_chars,
                                   max_lines=args.max_lines, max_cue_s=args.max_cue_s)
    except ValueError as exc:
        print(f"stt-studio transcribe: error: {exc}", file=sys.stderr)
        return 2
    work = batch.plan(args.inputs, args.output_dir, formats, recursive=args.recursive,
                      overwrite=args.overwrite)
    _say_skipped(work, formats)
    studio = _studio(settings, layout) if work.items else None
    run = _BatchRun(studio, args, formats, options, subtitles, work)
    return run.run()


def _say_skipped(work: batch.BatchPlan, formats: Sequence[str]) -> None:
    for path in work.skipped_non_media[:_NOTES_SHOWN]:
        log.info("skipped %s: not an audio or video file", path)
    if len(work.skipped_non_media) > _NOTES_SHOWN:
        log.info("skipped %d more files that are not audio or video",
                 len(work.skipped_non_media) - _NOTES_SHOWN)
    for folder in work.unreadable:
        log.warning("cannot read the folder %s (%s): its files are left out", folder.path,
                    folder.reason)
    for item in work.skipped_existing:
        log.info("skipped %s: already done (%s exist; --overwrite redoes it)", item.source,
                 ", ".join(t.name for t in item.targets(formats)))


def _empty_folder_error(folder: Path, recursive: bool) -> AudioError:
    """A folder input without one audio or video file: said like a bad file."""
    try:
        nested = any(entry.is_dir() for entry in folder.iterdir())
    except OSError:
        nested = False
    hint = nested and not recursive
    return AudioError(
        f"no audio or video files in the folder: {folder}",
        causes=(("Its recordings are in sub-folders, and --recursive was not given",)
                if hint else ()) + (
            "The folder holds other files only, or none",
            "The recordings have an extension that is not audio or video",
        ),
        remedies=(("Add --recursive to include its sub-folders",) if hint else ()) + (
            "Name a recording directly: a file named on the command line is tried whatever "
            "its extension",
        ),
        paths=(folder,),
    )


def _signature(path: Path) -> tuple[int, int, int] | None:
    """What a file is right now (None: absent), to tell whether a write replaced it."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


@dataclass(frozen=True, slots=True)
class _Before:
    """An item's outputs and the folders missing just before its write began."""

    item: batch.BatchItem
    targets: dict[Path, tuple[int, int, int] | None]
    new_folders: tuple[Path, ...]


class _BatchRun:
    """Transcribe a plan's items, write their outputs, keep the summary rows."""

    def __init__(self, studio: Studio | None, args: argparse.Namespace, formats: Sequence[str],
                 options: TranscriptionOptions, subtitles: SubtitleLayout,
                 work: batch.BatchPlan) -> None:
        self.studio = studio
        self.args = args
        self.formats = formats
        self.options = options
        self.subtitles = subtitles
        self.work = work
        self.debug = getattr(args, "debug", False)
        self.single = len(args.inputs) == 1 and not Path(args.inputs[0]).is_dir()
        self.rows: dict[Path, SummaryRow] = {
            item.source: SummaryRow(str(item.source), RowStatus.SKIPPED)
            for item in work.skipped_existing}
        self.durations = {item.source: probe.duration_s(item.source) for item in work.items}
        self.started: dict[Path, float] = {}
        self.writing: _Before | None = None
        self.empty_rows: list[SummaryRow] = []

    def run(self) -> int:
        for folder in self.work.empty_folders:
            error = _empty_folder_error(folder, self.args.recursive)
            report(error, subject=str(folder))
            self.empty_rows.append(SummaryRow(str(folder), RowStatus.FAILED,
                                              reason=f"{error.title}: {error.summary}"))
        display = terminal.open_display([self.durations[i.source] for i in self.work.items],
                                        quiet=getattr(self.args, "quiet", False))
        if self.single and self.work.skipped_existing and "txt" in self.formats:
            self._print_existing_text(self.work.skipped_existing[0])
        try:
            with display:
                self._run_items(display)
        except KeyboardInterrupt:
            with _sigint_ignored():  # a second Ctrl-C must not cut the clean-up short
                if self.writing is not None:
                    _discard(self.writing)
                display.close()
                left = self._rows_in_order(interrupted=True)
                missing = sum(r.status is RowStatus.NOT_RUN for r in left)
                print(f"\ninterrupted: {missing} file(s) not run; finished files are kept, "
                      "and the same command finishes the rest", file=sys.stderr)
                display.summary(left)
            return 130
        rows = self._rows_in_order(interrupted=False)
        display.summary(rows)
        failures = sum(r.status is RowStatus.FAILED for r in rows)
        if failures:
            print(f"{failures} of {len(rows)} file(s) failed", file=sys.stderr)
        return 1 if failures else 0

    def _run_items(self, display: terminal.BatchDisplay) -> None:
        if self.studio is None or not self.work.items:
            return
        items = {item.source: item for item in self.work.items}

        def progress_for(path: Path) -> Progress:
            self.started.setdefault(path, time.perf_counter())
            return display.progress_for(str(path), self.durations.get(path))

        outcomes = self.studio.transcribe_many(list(items), self.args.model, self.options,
                                               progress_for)
        try:
            for path, outcome in outcomes:
                item = items[path]
                if isinstance(outcome, Exception):
                    report(outcome, subject=str(path), show_traceback=self.debug)
                    row = self._failed(item, outcome)
                else:
                    row = self._save(item, outcome)
                self.rows[path] = row
                display.file_finished(self.durations.get(path))
        finally:
            closer = getattr(outcomes, "close", None)
            if closer is not None:
                closer()

    def _failed(self, item: batch.BatchItem, exc: BaseException) -> SummaryRow:
        error = as_studio_error(exc)
        since = self.started.get(item.source)
        return SummaryRow(str(item.source), RowStatus.FAILED, self.durations.get(item.source),
                          time.perf_counter() - since if since is not None else None,
                          f"{error.title}: {error.summary}")

    def _save(self, item: batch.BatchItem, result: Result) -> SummaryRow:
        assert self.studio is not None
        transcript = result.transcript
        self.writing = _Before(item, {t: _signature(t) for t in item.targets(self.formats)},
                               _missing_folders(item.output_folder, self.args.output_dir))
        try:
            written = self.studio.write_outputs(transcript, item.output_folder, item.stem,
                                                self.formats, layout=self.subtitles)
        except Exception as exc:  # noqa: BLE001 - the transcript is never lost
            self.writing = None
            if self.work.total > 1:
                print(f"# {item.source}")
            print(transcript.text, flush=True)
            report(exc, subject=str(item.source), show_traceback=self.debug)
            print(f"The transcript of {item.source} was printed to standard output instead.\n",
                  file=sys.stderr)
            return self._failed(item, exc)
        self.writing = None
        if self.single and "txt" in self.formats:
            print(transcript.text, flush=True)
        log.info("%s: %.1f s of audio in %.1f s (%.1fx real time, %s on %s) -> %s",
                 item.source, transcript.duration_s, result.elapsed_s, result.speed_x,
                 transcript.model, result.device, ", ".join(map(str, written)))
        return SummaryRow(str(item.source), RowStatus.DONE, transcript.duration_s,
                          result.elapsed_s)

    def _print_existing_text(self, item: batch.BatchItem) -> None:
        """A single input already done: its text, as a fresh run would print it."""
        try:
            print(item.targets(("txt",))[0].read_text("utf-8").rstrip("\n"), flush=True)
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("cannot read %s: %s", item.targets(("txt",))[0], exc)

    def _rows_in_order(self, *, interrupted: bool) -> list[SummaryRow]:
        """Empty folders, skipped inputs, then the batch in its order; unfinished: 'not run'."""
        rows = self.empty_rows + [self.rows[i.source] for i in self.work.skipped_existing]
        for item in self.work.items:
            row = self.rows.get(item.source)
            if row is None:
                row = SummaryRow(str(item.source), RowStatus.NOT_RUN,
                                 self.durations.get(item.source),
                                 reason="interrupted" if interrupted else "no result")
            rows.append(row)
        return rows


def _missing_folders(folder: Path, top: Path) -> tuple[Path, ...]:
    """``folder`` and its parents up to (not including) ``top`` that do not exist yet."""
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate == top or candidate.exists():
            break
        missing.append(candidate)
    return tuple(missing)


def _discard(before: _Before) -> None:
    """An interrupted write leaves nothing: outputs it made, its temp files, new folders."""
    for target, signature in before.targets.items():
        if _signature(target) != signature:
            try:
                target.unlink()
            except OSError as exc:
                log.warning("could not remove the unfinished output %s: %s", target, exc)
    stems = tuple(f"{PARTIAL_PREFIX}{t.name}-{os.getpid()}-" for t in before.targets)
    try:
        leftovers = [p for p in before.item.output_folder.iterdir() if p.name.startswith(stems)]
    except OSError:
        leftovers = []
    for leftover in leftovers:
        try:
            leftover.unlink()
        except OSError as exc:
            log.warning("could not remove the temp file %s: %s", leftover, exc)
    for folder in before.new_folders:  # deepest first; only if still empty
        try:
            folder.rmdir()
        except OSError:
            break


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to hold back
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

def _models(args: argparse.Namespace, settings: Settings, layout: CacheLayout) -> int:
    studio = _studio(settings, layout)
    action = args.models_action or "list"
    if action == "pull":
        path = studio.pull(args.name, progress=functools.partial(_progress, args.name))
        print(f"{args.name} is ready: {path}")
        return 0
    if action == "rm":
        removed = studio.remove(args.name)
        if not removed:
            print(f"{args.name} was not in the cache ({layout.root})")
        for path in removed:
            print(f"removed {path}")
        return 0
    print(f"cache: {layout.root}")
    rows = [("NAME", "ENGINE", "SIZE", "CACHED", "PATH")]
    statuses = studio.list_models()
    for status in statuses:
        spec = status.spec
        size = f"{spec.size_mb} MB" if spec.size_mb else "?"
        if status.cache_path is not None:
            where = str(status.cache_path)
        else:
            from stt_studio.models.store import repo_cache_dir

            where = str(repo_cache_dir(spec, layout))
        cached = "unreadable" if status.problem else ("yes" if status.cached else "no")
        rows.append((spec.name, spec.engine.value, size, cached, where))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4])
    for status in statuses:  # below the table: an unreadable cache is not "not cached"
        if status.problem:
            print(f"\n{status.spec.name}: cannot tell whether it is cached\n{status.problem}")
    return 0


def _serve(args: argparse.Namespace, settings: Settings, layout: CacheLayout) -> int:
    from stt_studio.entrypoints.ui import serve

    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    return serve(settings, layout, host, port, preload=not args.no_preload)


def _doctor(args: argparse.Namespace, settings: Settings, layout: CacheLayout) -> int:
    from stt_studio.doctor import run_doctor

    result = run_doctor(settings, layout, clean=args.clean)
    print(result.render())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
