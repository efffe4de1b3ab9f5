"""Output formats: pure functions of a Transcript (no I/O here).

Subtitle timestamps are computed in integer milliseconds, as openai/whisper
does, so rounding never makes a cue end before it starts.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

from stt_studio.domain import Transcript

FORMATS = ("txt", "srt", "vtt", "json", "csv")


@dataclass(frozen=True, slots=True)
class SubtitleLayout:
    """How subtitle cues and TXT paragraphs are shaped.

    max_line_chars: characters a subtitle line holds at most (42: Netflix, BBC).
    max_lines: lines a cue holds at most.
    max_cue_s: seconds a cue stays on screen at most.
    paragraph_pause_s: a pause at least this long starts a new TXT paragraph.
    """

    max_line_chars: int = 42
    max_lines: int = 2
    max_cue_s: float = 7.0
    paragraph_pause_s: float = 2.0

    def __post_init__(self) -> None:
        if not 10 <= self.max_line_chars <= 200:
            raise ValueError("max_line_chars must be between 10 and 200")
        if not 1 <= self.max_lines <= 5:
            raise ValueError("max_lines must be between 1 and 5")
        if not 1.0 <= self.max_cue_s <= 60.0:
            raise ValueError("max_cue_s must be between 1 and 60 seconds")
        if self.paragraph_pause_s <= 0:
            raise ValueError("paragraph_pause_s must be > 0 seconds")


def to_ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def timestamp(ms: int, *, decimal_marker: str, always_hours: bool = True) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    head = f"{hours:02d}:" if always_hours or hours else ""
    return f"{head}{minutes:02d}:{seconds:02d}{decimal_marker}{millis:03d}"


def _cues(transcript: Transcript) -> list[tuple[int, int, str]]:
    """Non-empty segments as (start_ms, end_ms, text) with end > start."""
    cues = []
    for seg in transcript.segments:
        # a blank line inside a cue would end it early (text lost, or a broken file)
        text = " ".join(seg.text.split())
        if not text:
            continue
        start = to_ms(seg.start_s)
        end = max(to_ms(seg.end_s), start + 1)
        cues.append((start, end, text.replace("-->", "->")))
    return cues


def to_txt(transcript: Transcript) -> str:
    return transcript.text.strip() + "\n"


def to_srt(transcript: Transcript) -> str:
    out = io.StringIO()
    for index, (start, end, text) in enumerate(_cues(transcript), start=1):
        out.write(f"{index}\n")
        out.write(f"{timestamp(start, decimal_marker=',')} --> {timestamp(end, decimal_marker=',')}\n")
        out.write(f"{text}\n\n")
    return out.getvalue()


def to_vtt(transcript: Transcript) -> str:
    out = io.StringIO()
    out.write("WEBVTT\n\n")
    for start, end, text in _cues(transcript):
        out.write(f"{timestamp(start, decimal_marker='.')} --> {timestamp(end, decimal_marker='.')}\n")
        # "<" starts a tag and "&" an entity in WebVTT cue text: a player would eat them
        out.write(f"{text.replace('&', '&amp;').replace('<', '&lt;')}\n\n")
    return out.getvalue()


def to_dict(transcript: Transcript) -> dict[str, object]:
    """The documented JSON shape; every number a plain float in seconds."""
    return {
        "text": transcript.text,
        "language": transcript.language,
        "duration": round(float(transcript.duration_s), 3),
        "model": transcript.model,
        "segments": [
            {
                "start": round(float(seg.start_s), 3),
                "end": round(float(seg.end_s), 3),
                "text": seg.text,
                "words": [
                    {"start": round(float(w.start_s), 3), "end": round(float(w.end_s), 3),
                     "word": w.text}
                    for w in seg.words
                ],
            }
            for seg in transcript.segments
        ],
    }


def to_json(transcript: Transcript) -> str:
    return json.dumps(to_dict(transcript), ensure_ascii=False, indent=2) + "\n"


def to_csv(transcript: Transcript) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start", "end", "text"])
    for seg in transcript.segments:
        writer.writerow([f"{seg.start_s:.3f}", f"{seg.end_s:.3f}", seg.text.strip()])
    return out.getvalue()


FORMATTERS: dict[str, Callable[[Transcript], str]] = {
    "txt": to_txt,
    "srt": to_srt,
    "vtt": to_vtt,
    "json": to_json,
    "csv": to_csv,
}


def parse_formats(spec: str) -> tuple[str, ...]:
    """``"srt,vtt"`` or ``"all"`` -> ordered unique names; ValueError on unknown."""
    if spec.strip().lower() == "all":
        return FORMATS
    names: list[str] = []
    for part in spec.split(","):
        name = part.strip().lower().lstrip(".")
        if not name:
            continue
        if name not in FORMATTERS:
            raise ValueError(f"unknown format {name!r}; choose from {', '.join(FORMATS)} or all")
        if name not in names:
            names.append(name)
    if not names:
        raise ValueError("no output format given")
    return tuple(names)


def render(transcript: Transcript, fmt: str) -> str:
    return FORMATTERS[fmt](transcript)
