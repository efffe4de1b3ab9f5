"""`stt-studio`: the command-line shell over :class:`stt_studio.service.Studio`.

Start-up stays light: argparse, settings and the cache come first, and the
heavy libraries are only imported once a command needs an engine.
"""

from __future__ import annotations

import argparse
import functools
import io
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from stt_studio import batch
from stt_studio.cache import CacheLayout, prepare_cache
from stt_studio.domain import LongAudio, ProgressEvent, Task, TranscriptionOptions
from stt_studio.entrypoints.batch_run import BatchRun, say_skipped
from stt_studio.entrypoints.console import configure_logging, report
from stt_studio.errors import StudioError, translate_os_error
from stt_studio.formats import FORMATS, SubtitleLayout, parse_formats
from stt_studio.settings import COMPUTE_TYPES, DEVICES, Settings, default_cache_dir

if TYPE_CHECKING:
    from stt_studio.service import Studio

log = logging.getLogger("stt_studio.cli")

_OPTIONS = TranscriptionOptions()  # the one set of defaults the flags show
_LAYOUT = SubtitleLayout()
DEVICE_HELP = ("auto: a CUDA GPU once a test on it works, else the CPU (the log and the page "
               "say why); cuda: the GPU or a readable error (default: auto, or "
               "$STT_STUDIO_DEVICE)")
COMPUTE_TYPE_HELP = ("how the model computes. auto: Whisper in float16 on a GPU and int8 on "
                     "the CPU, NeMo in float32. Whisper takes what CTranslate2 offers on the "
                     "device (`stt-studio doctor` lists it; int8_float16 and float16 mostly "
                     "need a GPU); NeMo takes float32, or float16 on a GPU (default: auto, "
                     "or $STT_STUDIO_COMPUTE_TYPE)")


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
                        help="cache folder (default: $STT_STUDIO_CACHE_DIR, else "
                             "model_cache/ in a source checkout, else this user's cache "
                             "folder; here: " + str(default_cache_dir()).replace("%", "%%")
                             + ")")
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
    tr.add_argument("--device", choices=DEVICES, default=None, help=DEVICE_HELP)
    tr.add_argument("--compute-type", choices=COMPUTE_TYPES, default=None,
                    help=COMPUTE_TYPE_HELP)
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
    tr.add_argument("--initial-prompt", metavar="TEXT",
                    help="Whisper: names, jargon or spelling to expect (NeMo models ignore it)")
    tr.add_argument("--temperature", type=float, default=_OPTIONS.temperature,
                    help="Whisper sampling temperature, 0 to 1; 0 decodes greedily/with beams "
                         "and raises it only when a window fails (default: 0)")
    who = tr.add_argument_group("speakers (who said what)")
    who.add_argument("--diarize", action="store_true",
                     help="label every segment and word with its speaker (SPEAKER_1, …); "
                          "subtitles and TXT show the turns")
    who.add_argument("--speakers", type=int, metavar="N",
                     help="exactly N speakers (default: found automatically; implies --diarize)")
    who.add_argument("--min-speakers", type=int, metavar="N",
                     help="at least N speakers (implies --diarize)")
    who.add_argument("--max-speakers", type=int, metavar="N",
                     help="at most N speakers (default 8; implies --diarize)")
    cues = tr.add_argument_group("subtitles (srt, vtt)")
    cues.add_argument("--max-line-chars", type=int, default=_LAYOUT.max_line_chars, metavar="N",
                      help=f"characters a line holds at most (default: {_LAYOUT.max_line_chars})")
    cues.add_argument("--max-lines", type=int, default=_LAYOUT.max_lines, metavar="N",
                      help=f"lines a cue holds at most (default: {_LAYOUT.max_lines})")
    cues.add_argument("--max-cue-s", type=float, default=_LAYOUT.max_cue_s, metavar="SECONDS",
                      help=f"seconds a cue stays at most (default: {_LAYOUT.max_cue_s:g})")
    tr.set_defaults(handler=_transcribe)
    from stt_studio.entrypoints import live_run

    live_run.add_parser(sub, common).set_defaults(handler=_live)

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
    serve.add_argument("--device", choices=DEVICES, default=None, help=DEVICE_HELP)
    serve.add_argument("--compute-type", choices=COMPUTE_TYPES, default=None,
                       help=COMPUTE_TYPE_HELP + "; the page and the API can ask for another")
    serve.add_argument("--no-preload", action="store_true",
                       help="do not load the default model at start-up")
    access = serve.add_argument_group("access (see README: Access control)")
    access.add_argument("--api-key", metavar="KEY", default=None,
                        help="API requests must send `Authorization: Bearer KEY` (or "
                             "$STT_STUDIO_API_KEY); beyond 127.0.0.1 without one, a random "
                             "token is made and printed")
    access.add_argument("--auth", metavar="USER:PASSWORD", action="append", default=[],
                        help="a login for the web page (repeatable)")
    access.add_argument("--auth-file", metavar="FILE", action="append", default=[], type=Path,
                        help="a file of USER:PASSWORD lines for the web page's login")
    access.add_argument("--max-upload-mb", type=int, default=None, metavar="MB",
                        help="the largest upload, page and API (default: 2048, or "
                             "$STT_STUDIO_MAX_UPLOAD_MB)")
    access.add_argument("--cors-origin", metavar="ORIGIN", action="append", default=[],
                        help="let web pages from ORIGIN call the API, e.g. "
                             "http://localhost:3000 (repeatable; default: none)")
    access.add_argument("--max-live-sessions", type=_at_least_one, default=4, metavar="N",
                        help="live sessions (/v1/realtime) at once; more are refused "
                             "(default: 4)")
    access.add_argument("--max-live-minutes", type=_at_least_one, default=240, metavar="MIN",
                        help="the longest live session (default: 240)")
    serve.set_defaults(handler=_serve)

    doctor = sub.add_parser("doctor", parents=[common], help="check the set-up")
    doctor.add_argument("--clean", action="store_true", help="delete leftover temp folders")
    doctor.set_defaults(handler=_doctor)
    return parser


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number is needed, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def utf8_output() -> None:
    """Pipes and files get UTF-8 whatever the console's code page (Windows writes cp1252
    there); a console that cannot show a character shows '?' instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        if not isinstance(stream, io.TextIOWrapper):
            continue  # not the process's own text stream (redirected in code): leave it be
        if stream.isatty():
            stream.reconfigure(errors="replace")
        else:
            stream.reconfigure(encoding="utf-8", errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    utf8_output()
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    configure_logging(debug=debug, quiet=getattr(args, "quiet", False))
    try:
        settings = Settings.from_env(cache_dir=getattr(args, "cache_dir", None),
                                     device=getattr(args, "device", None),
                                     compute_type=getattr(args, "compute_type", None),
                                     serving=args.command == "serve",
                                     api_key=getattr(args, "api_key", None),
                                     max_upload_mb=getattr(args, "max_upload_mb", None))
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
        from stt_studio.hazards import log_hazards, path_hazards

        log_hazards(path_hazards(layout, (args.model or settings.default_model,)))
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
            initial_prompt=args.initial_prompt, temperature=args.temperature,
            diarize=args.diarize or any(n is not None for n in (
                args.speakers, args.min_speakers, args.max_speakers)),
            speakers=args.speakers, min_speakers=args.min_speakers,
            max_speakers=args.max_speakers,
        )
        subtitles = SubtitleLayout(max_line_chars=args.max_line_chars,
                                   max_lines=args.max_lines, max_cue_s=args.max_cue_s)
    except ValueError as exc:
        print(f"stt-studio transcribe: error: {exc}", file=sys.stderr)
        return 2
    work = batch.plan(args.inputs, args.output_dir, formats, recursive=args.recursive,
                      overwrite=args.overwrite)
    say_skipped(work, formats)
    studio = _studio(settings, layout) if work.items else None
    return BatchRun(studio, args, formats, options, subtitles, work).run()


def _live(args: argparse.Namespace, settings: Settings, layout: CacheLayout) -> int:
    from stt_studio.entrypoints import live_run

    try:
        formats = parse_formats(args.format)
    except ValueError as exc:
        print(f"stt-studio live: error: {exc}", file=sys.stderr)
        return 2
    return live_run.run(args, _studio(settings, layout), formats)


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
    from stt_studio.entrypoints.api.access import decide, parse_logins
    from stt_studio.entrypoints.server import ServeOptions, serve

    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    try:
        logins = parse_logins(args.auth, args.auth_file)
    except StudioError as exc:
        report(exc)
        return 2
    options = ServeOptions(access=decide(host, settings.api_key, logins),
                           max_upload_mb=settings.max_upload_mb,
                           cors_origins=tuple(args.cors_origin),
                           max_live_sessions=args.max_live_sessions,
                           max_live_minutes=float(args.max_live_minutes))
    return serve(settings, layout, host, port, preload=not args.no_preload, options=options)


def _doctor(args: argparse.Namespace, settings: Settings, layout: CacheLayout) -> int:
    from stt_studio.doctor import run_doctor

    result = run_doctor(settings, layout, clean=args.clean)
    print(result.render())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
