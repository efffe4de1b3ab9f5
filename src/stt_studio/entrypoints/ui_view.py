"""What the studio UI shows, as pure functions of domain values (no Gradio here).

Keeping the texts here lets tests check exactly what a user reads: the status
box on success and on every kind of failure, the model list, the segment table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stt_studio.diarize.base import display_name
from stt_studio.domain import EngineKind, ModelSpec, Note, NoteKind, Stage, Transcript
from stt_studio.entrypoints.ui_batch import FileOutcome, FileState
from stt_studio.errors import StudioError
from stt_studio.formats import render

AUTO_LANGUAGE = "auto"
SPEAKERS_OFF = "Off"
SPEAKERS_AUTO = "Automatic"
#: the Speakers control: off, found automatically, or how many speak
SPEAKER_CHOICES = (SPEAKERS_OFF, SPEAKERS_AUTO, *(str(n) for n in range(1, 9)))
SPEAKER_HEADERS = ("start", "end", "speaker", "text")
PLAIN_WIDTHS = ("11%", "11%", "78%")
SPEAKER_WIDTHS = ("10%", "10%", "13%", "67%")
#: light backgrounds that dark text reads well on, one per speaker (then again)
SPEAKER_COLOURS = ("#bfdbfe", "#fecaca", "#bbf7d0", "#fde68a", "#ddd6fe", "#fbcfe8",
                   "#a5f3fc", "#fed7aa")
WAIT_HINT = (
    "This is taking a while. A first load of a large model can take minutes (download, "
    "unpacking); if nothing moves, look at the console log for the cause."
)


@dataclass(frozen=True, slots=True)
class ModelRow:
    """One model as the UI lists it."""

    name: str
    engine: str
    size_mb: int | None
    cached: bool
    bundled: bool
    state: str  # "", "loaded on cpu", "loading (12 s)"
    problem: str | None = None  # why its cache folder cannot be read (a rendered error)


@dataclass(frozen=True, slots=True)
class Controls:
    """Which transcription options make sense for a model.

    languages: choices for the spoken language, ``auto`` first when the model
    detects it; an empty tuple means "unknown until loaded: free text".
    targets: translation targets; empty when the model cannot translate.
    """

    languages: tuple[str, ...]
    targets: tuple[str, ...]

    @property
    def can_translate(self) -> bool:
        return bool(self.targets)

    @property
    def choose_language(self) -> bool:
        return len(self.languages) != 1

    @property
    def default_language(self) -> str:
        return self.languages[0] if self.languages else AUTO_LANGUAGE


def controls_for(spec: ModelSpec, whisper_languages: Sequence[str] = ()) -> Controls:
    """Options the UI offers for ``spec`` (before it is loaded)."""
    if spec.local:
        return Controls((), ("en",))  # unknown until loaded: the engine checks the choice
    if spec.engine is EngineKind.WHISPER:
        if not spec.multilingual:
            return Controls((AUTO_LANGUAGE,), ())
        return Controls((AUTO_LANGUAGE, *whisper_languages), ("en",))
    if spec.translates:  # Canary: the spoken language is a prompt, not detected
        return Controls(spec.languages, spec.languages)
    return Controls((AUTO_LANGUAGE,), ())  # Parakeet: English-only, or v3 detects it


def model_label(row: ModelRow) -> str:
    where = "bundled" if row.bundled else ("cached" if row.cached else (
        "cache unreadable" if row.problem else
        f"download {row.size_mb} MB" if row.size_mb else "not downloaded"))
    return f"{row.name} · {row.engine} · {where}"


def model_choices(rows: Sequence[ModelRow]) -> list[tuple[str, str]]:
    """(label, value) pairs for the model dropdown, cached models first."""
    ordered = sorted(rows, key=lambda r: (not (r.cached or r.bundled),))
    return [(model_label(r), r.name) for r in ordered]


def model_table(rows: Sequence[ModelRow]) -> list[list[str]]:
    return [
        [r.name, r.engine, f"{r.size_mb} MB" if r.size_mb else "?",
         "bundled" if r.bundled else ("unreadable" if r.problem else
                                      ("yes" if r.cached else "no")),
         _row_state(r)]
        for r in rows
    ]


def _row_state(row: ModelRow) -> str:
    if not row.problem:
        return row.state or "—"
    unreadable = f"cannot read the cache: {row.problem.splitlines()[0]}"
    return f"{row.state} · {unreadable}" if row.state else unreadable


def clock(seconds: float) -> str:
    """``1:02:03.4`` / ``2:03.4`` for tables (tenths of a second)."""
    tenths = round(max(seconds, 0.0) * 10)
    minutes, tenth_s = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    secs = f"{tenth_s // 10:02d}.{tenth_s % 10}"
    return f"{hours}:{minutes:02d}:{secs}" if hours else f"{minutes}:{secs}"


def duration(seconds: float) -> str:
    """Human durations for summaries: ``0.8 s``, ``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def segment_rows(transcript: Transcript) -> list[list[str]]:
    """start, end, (speaker,) text of each segment: the speaker column only when diarized."""
    if not speakers_of(transcript):
        return [[clock(s.start_s), clock(s.end_s), s.text.strip()] for s in transcript.segments]
    return [[clock(s.start_s), clock(s.end_s), display_name(s.speaker) if s.speaker else "",
             s.text.strip()] for s in transcript.segments]


def speakers_of(transcript: Transcript) -> tuple[str, ...]:
    """The transcript's speaker labels (or given names), in order of first appearance."""
    return tuple(dict.fromkeys(s.speaker for s in transcript.segments if s.speaker))


def speaker_colour(index: int) -> str:
    """The colour of the ``index``-th speaker (0-based, by first appearance)."""
    return SPEAKER_COLOURS[index % len(SPEAKER_COLOURS)]


def segment_table(transcript: Transcript) -> list[list[str]] | dict[str, object]:
    """The segment table's value: plain rows, or with speakers a table whose speaker
    cells carry one colour per speaker (Gradio's ``{"headers", "data", "metadata"}``)."""
    rows = segment_rows(transcript)
    order = speakers_of(transcript)
    if not order:
        return rows
    colour = {speaker: speaker_colour(n) for n, speaker in enumerate(order)}
    styling = [["", "", f"background-color: {colour[s.speaker]}; color: #111827"
                if s.speaker else "", ""] for s in transcript.segments]
    return {"headers": list(SPEAKER_HEADERS), "data": rows,
            "metadata": {"styling": styling, "display_value": None}}


def segment_widths(transcript: Transcript | None) -> list[str]:
    """The segment table's column widths: with or without the speaker column."""
    if transcript is not None and speakers_of(transcript):
        return list(SPEAKER_WIDTHS)
    return list(PLAIN_WIDTHS)


def speaker_choice(value: object) -> tuple[bool, int | None]:
    """The Speakers control as (diarize, exact count): Off, Automatic, or a number.

    Raises ValueError (said to the user) for anything else; the API may send
    the number as an int or a string.
    """
    text = str(value).strip() if value is not None else SPEAKERS_OFF
    if text.lower() in ("", SPEAKERS_OFF.lower(), "false", "none"):
        return False, None
    if text.lower() in (SPEAKERS_AUTO.lower(), "auto"):
        return True, None
    try:
        number = float(text)
    except ValueError:
        number = 0.0
    if not number.is_integer() or not 1 <= number <= 32:
        raise ValueError(f"Speakers must be {SPEAKERS_OFF}, {SPEAKERS_AUTO} or a number of "
                         f"speakers from 1 to 32, not {text!r}")
    return True, int(number)


def transcript_text(transcript: Transcript) -> str:
    """The transcript box: the TXT download's paragraphs (a new one after each long pause)."""
    return render(transcript, "txt").strip()


def _file_status(outcome: FileOutcome) -> str:
    if outcome.state is FileState.FAILED:
        return f"failed: {outcome.reason}" if outcome.reason else "failed"
    if outcome.state is FileState.RUNNING:
        return "working…"
    if outcome.state is FileState.DONE and outcome.result is not None \
            and outcome.result.transcript.unheard:
        return f"done; {outcome.result.transcript.unheard_summary}"
    return str(outcome.state.value)


def results_rows(files: Sequence[FileOutcome]) -> list[list[str]]:
    """The results table: file, duration, status (done / failed: why / cancelled / not run)."""
    return [[f.name, duration(f.duration_s) if f.duration_s is not None else "—",
             _file_status(f)] for f in files]


#: where each stage puts the overall bar, and how much of the bar it spans
_STAGE_SPAN: dict[Stage, tuple[float, float]] = {
    Stage.STARTING: (0.0, 0.0),
    Stage.LOADING: (0.05, 0.05),
    Stage.DOWNLOADING: (0.1, 0.1),
    Stage.PREPARING: (0.2, 0.1),
    Stage.DECODING: (0.4, 0.1),
    Stage.TRANSCRIBING: (0.5, 0.45),
    Stage.DIARIZING: (0.95, 0.0),  # at the end of transcribing: the turns laid on words
    Stage.WRITING: (0.95, 0.05),
    Stage.CHECKING: (0.0, 1.0),
}


def overall_fraction(stage: Stage, fraction: float | None) -> float:
    """Where the progress bar stands: stage by stage, then through the stage."""
    start, span = _STAGE_SPAN[stage]
    return start + span * min(max(fraction or 0.0, 0.0), 1.0)


def working(stage: str, elapsed_s: float, stage_elapsed_s: float,
            notes: Sequence[Note] = (), subject: str | None = None) -> str:
    """The status box while a job runs: the stage, the time, what happened so far."""
    head = f"⏳ {stage} ({duration(elapsed_s)})"
    lines = [f"{head} — {subject}" if subject else head]
    lines.extend(f"  ! {n.text}" for n in notes[-5:])
    if stage_elapsed_s >= 60:
        lines.append(WAIT_HINT)
    return "\n".join(lines)


def batch_working(stage: str, elapsed_s: float, stage_elapsed_s: float,
                  notes: Sequence[Note] = (), *, position: int | None, count: int,
                  name: str | None, finished: int, overall: float) -> str:
    """The status box while several files run: this file's stage, then the whole run."""
    where = f"file {position} of {count}: {name} — {stage}" if position else stage
    lines = [f"⏳ {where} ({duration(elapsed_s)})",
             f"  overall: {finished} of {count} files finished · {overall:.0%}"]
    lines.extend(f"  ! {n.text}" for n in notes[-5:])
    if stage_elapsed_s >= 60:
        lines.append(WAIT_HINT)
    return "\n".join(lines)


def _names(files: Sequence[FileOutcome]) -> str:
    return ", ".join(f.name for f in files)


def _of_state(files: Sequence[FileOutcome], *states: FileState) -> list[FileOutcome]:
    return [f for f in files if f.state in states]


def _speed_line(done: Sequence[FileOutcome], elapsed_s: float) -> str:
    audio_s = sum(f.duration_s or 0.0 for f in done)
    speed = audio_s / elapsed_s if elapsed_s > 0 else 0.0
    return (f"  audio: {duration(audio_s)} · took {duration(elapsed_s)} · "
            f"{speed:.1f}× real time")


def batch_summary(files: Sequence[FileOutcome], failures: Sequence[str], *, elapsed_s: float,
                  zip_name: str | None, notes: Sequence[Note] = ()) -> str:
    """The status box after a run of several files: the total, each file, each failure."""
    done = _of_state(files, FileState.DONE)
    failed = _of_state(files, FileState.FAILED)
    head = (f"✓ Transcribed {len(done)} files" if not failed and len(done) == len(files) else
            f"✗ {len(failed)} of {len(files)} files failed; {len(done)} transcribed")
    lines = [head, _speed_line(done, elapsed_s)]
    first = next((f.result for f in done if f.result is not None), None)
    if first is not None:
        lines.append(f"  model: {first.transcript.model} ({first.engine}) on {first.device}")
    for f in files:
        mark = "✓" if f.state is FileState.DONE else "✗"
        length = f" · {duration(f.duration_s)}" if f.duration_s is not None else ""
        lines.append(f"  {mark} {f.name}{length} · {_file_status(f)}")
    if zip_name:
        lines.append(f"  download: every output of the finished files in {zip_name}")
    lines.extend(_retry_note(notes))
    for text in failures:
        lines.extend(["", text])
    return "\n".join(lines)


def cancelled(files: Sequence[FileOutcome], *, stage: str, elapsed_s: float,
              zip_name: str | None) -> str:
    """The status box after Cancel: what finished (and stays), what stopped, what never ran."""
    stopped = _of_state(files, FileState.CANCELLED)
    where = f" ({_names(stopped)})" if stopped else ""
    lines = [f"⏹ Cancelled while {stage.rstrip('…. ')}{where}, after {duration(elapsed_s)}."]
    groups = (
        (_of_state(files, FileState.DONE), "finished", "their outputs stay downloadable"),
        (_of_state(files, FileState.FAILED), "failed", "see the results table"),
        (stopped, "stopped", "nothing was written for it"),
        (_of_state(files, FileState.NOT_RUN), "not run", ""),
    )
    for group, label, after in groups:
        if group:
            lines.append(f"  {label}: {_names(group)}" + (f" — {after}" if after else ""))
    if zip_name:
        lines.append(f"  download: every output of the finished files in {zip_name}")
    lines.append("Ready for the next job: press Transcribe to start one.")
    return "\n".join(lines)


def _retries(notes: Sequence[Note]) -> list[Note]:
    return [n for n in notes if n.kind is NoteKind.LOCK_RETRY]


def _retry_note(notes: Sequence[Note]) -> list[str]:
    retries = _retries(notes)
    # speech without text is said with its file, from the transcript itself
    other = [n for n in notes if n.kind not in (NoteKind.LOCK_RETRY, NoteKind.NO_TEXT)]
    lines = []
    if retries:
        lines.append(f"Recovered from a locked file after {len(retries)} retr"
                     f"{'y' if len(retries) == 1 else 'ies'}:")
        lines.extend(f"  - {n.text}" for n in retries)
    if other:
        lines.append("Notes:")
        lines.extend(f"  - {n.text}" for n in other[-5:])
    return lines


def success(
    transcript: Transcript, *, subject: str, device: str, engine: str, elapsed_s: float,
    files: Sequence[Path] = (), notes: Sequence[Note] = (),
) -> str:
    speed = transcript.duration_s / elapsed_s if elapsed_s > 0 else 0.0
    words = len(transcript.text.split())
    lines = [
        f"✓ Transcribed {subject}",
        f"  audio: {duration(transcript.duration_s)} · took {duration(elapsed_s)} · "
        f"{speed:.1f}× real time",
        f"  model: {transcript.model} ({engine}) on {device}"
        + (f" · language: {transcript.language}" if transcript.language else ""),
        f"  {len(transcript.segments)} segment(s) · {words} word(s)" + _speaker_count(transcript),
    ]
    if not transcript.segments:
        lines.append("  No speech was found in this recording.")
    if transcript.unheard:
        lines.append("  ⚠ Speech without text, even decoded again on its own "
                     "(a JSON download lists it too):")
        lines.extend(f"    - {text}" for text in transcript.notes)
    if files:
        lines.append(f"  files: {', '.join(p.name for p in files)}")
    lines.extend(_retry_note(notes))
    return "\n".join(lines)


def _speaker_count(transcript: Transcript) -> str:
    count = len(speakers_of(transcript))
    return f" · {count} speaker{'' if count == 1 else 's'}" if count else ""


def renamed(subject: str, names: Sequence[tuple[str, str]], files: Sequence[Path],
            zip_name: str | None) -> str:
    """The status box after Rename: who is called what now, and what was written again."""
    given = [f"{display_name(label)} → {name}" for label, name in names if name]
    lines = [f"✓ Speaker names applied to {subject}: " + ("; ".join(given) if given else
                                                          "back to Speaker 1, Speaker 2, …")]
    if files:
        lines.append(f"  downloads written again: {', '.join(p.name for p in files)}")
    if zip_name:
        lines.append(f"  and the zip of all outputs: {zip_name}")
    return "\n".join(lines)


def failure(error: StudioError, *, stage: str, cache_dir: Path, subject: str | None = None,
            notes: Sequence[Note] = ()) -> str:
    """The categorized error for the status box: what, why, what to do, where."""
    where = f" ({subject})" if subject else ""
    lines = [f"✗ Failed while {stage.rstrip('…. ')}{where}", "", error.render()]
    if str(cache_dir) not in error.paths:
        lines.append(f"Cache folder: {cache_dir}")
    retries = _retries(notes)
    if retries:
        lines.append("Retries before giving up:")
        lines.extend(f"  - {n.text}" for n in retries)
    waits = [n for n in notes if n.kind is NoteKind.WAITING]
    if waits:
        lines.append(f"Waited: {waits[-1].text}")
    lines.append("The full traceback is in the console log.")
    return "\n".join(lines)


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def too_large(files: Sequence[str], limit_mb: int) -> str:
    """The status when uploads are past the studio's limit (also said by the page's script)."""
    return (f"✗ Too large to upload: {', '.join(files)}\n"
            f"This studio takes files up to {limit_mb} MB.\n"
            "What to do:\n"
            "  • Send a compressed copy, e.g. `ffmpeg -i INPUT -ac 1 -b:a 64k out.mp3` "
            "(an hour is about 30 MB)\n"
            "  • Or start the studio with a higher limit: stt-studio serve --max-upload-mb N "
            "(or STT_STUDIO_MAX_UPLOAD_MB)\n"
            "  • Or transcribe it from the command line: stt-studio transcribe FILE")
