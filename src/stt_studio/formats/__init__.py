"""Output formats: pure functions of a Transcript (no I/O here).

SRT and VTT carry readable cues (:mod:`.cues`), TXT paragraphs broken at long
pauses (:mod:`.paragraphs`), both shaped by a :class:`SubtitleLayout`; JSON and
CSV keep the segments and words as recognised. Subtitle timestamps are integer
milliseconds (:mod:`.timing`), so rounding never makes a cue end before it starts.

A diarized transcript shows who speaks (:mod:`.speakers`): TXT as turns
(``Speaker 1: …``), SRT with ``[Speaker 1]`` opening each turn's first cue,
VTT with a voice span (``<v Speaker 1>``) on every cue, no cue holding two
speakers; JSON with ``speaker`` on each segment and word, CSV with a
``speaker`` column. A transcript without speakers is written as it always was:
no speaker key in JSON, no speaker column in CSV.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

from stt_studio.domain import Transcript
from stt_studio.formats.cues import Cue, build_cues
from stt_studio.formats.layout import DEFAULT_LAYOUT, SubtitleLayout
from stt_studio.formats.paragraphs import paragraphs
from stt_studio.formats.speakers import has_speakers, speaker_name, voice_span
from stt_studio.formats.timing import timestamp, to_ms

__all__ = [
    "DEFAULT_LAYOUT", "FORMATS", "FORMATTERS", "Cue", "SubtitleLayout", "build_cues",
    "paragraphs", "parse_formats", "render", "speaker_name", "timestamp", "to_csv", "to_dict",
    "to_json", "to_ms", "to_srt", "to_txt", "to_vtt",
]

FORMATS = ("txt", "srt", "vtt", "json", "csv")


def _cue_text(cue: Cue) -> str:
    """The cue's lines without "-->", which would read as a new timing line."""
    text = cue.text
    while "-->" in text:  # once is not enough: "--->" becomes "-->"
        text = text.replace("-->", "->")
    return text


def to_txt(transcript: Transcript, layout: SubtitleLayout = DEFAULT_LAYOUT) -> str:
    """Paragraphs separated by a blank line, a new one after each long pause and speaker."""
    return "\n\n".join(paragraphs(transcript, layout)) + "\n"


def to_srt(transcript: Transcript, layout: SubtitleLayout = DEFAULT_LAYOUT) -> str:
    """Numbered cues; a speaker's turn opens with ``[Speaker 1]`` (in the line limits)."""
    out = io.StringIO()
    for index, cue in enumerate(build_cues(transcript, layout, speaker_tags=True), start=1):
        start = timestamp(cue.start_ms, decimal_marker=",")
        end = timestamp(cue.end_ms, decimal_marker=",")
        out.write(f"{index}\n{start} --> {end}\n{_cue_text(cue)}\n\n")
    return out.getvalue()


def to_vtt(transcript: Transcript, layout: SubtitleLayout = DEFAULT_LAYOUT) -> str:
    """WebVTT cues; each cue of a speaker opens with its voice span ``<v Speaker 1>``."""
    out = io.StringIO()
    out.write("WEBVTT\n\n")
    for cue in build_cues(transcript, layout):
        start = timestamp(cue.start_ms, decimal_marker=".")
        end = timestamp(cue.end_ms, decimal_marker=".")
        # "<" starts a tag and "&" an entity in WebVTT cue text: a player would eat them
        text = _cue_text(cue).replace("&", "&amp;").replace("<", "&lt;")
        out.write(f"{start} --> {end}\n{voice_span(cue.speaker)}{text}\n\n")
    return out.getvalue()


def to_dict(transcript: Transcript) -> dict[str, object]:
    """The documented JSON shape; every number a plain float in seconds.

    A segment or word with a speaker also has ``"speaker"`` (its label:
    SPEAKER_1, … or the name a user gave); without one it has no such key.
    A transcript with speech that gave no text has ``"notes"`` saying where.
    """
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
                **_speaker_field(seg.speaker),
                "words": [
                    {"start": round(float(w.start_s), 3), "end": round(float(w.end_s), 3),
                     "word": w.text, **_speaker_field(w.speaker)}
                    for w in seg.words
                ],
            }
            for seg in transcript.segments
        ],
        **_notes_field(transcript),
    }


def _notes_field(transcript: Transcript) -> dict[str, list[str]]:
    """``"notes"``: speech that gave no text ("12.4 s of speech at 33.5–46.0 s gave no
    text"); a transcript with nothing to say has no such key."""
    return {"notes": list(transcript.notes)} if transcript.notes else {}


def _speaker_field(speaker: str | None) -> dict[str, str]:
    return {"speaker": speaker} if speaker else {}


def to_json(transcript: Transcript) -> str:
    return json.dumps(to_dict(transcript), ensure_ascii=False, indent=2) + "\n"


def to_csv(transcript: Transcript) -> str:
    """start, end, text a segment; a diarized transcript adds a last column, speaker."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    diarized = has_speakers(transcript)
    writer.writerow(["start", "end", "text", "speaker"] if diarized else ["start", "end", "text"])
    for seg in transcript.segments:
        row = [f"{seg.start_s:.3f}", f"{seg.end_s:.3f}", seg.text.strip()]
        writer.writerow([*row, seg.speaker or ""] if diarized else row)
    return out.getvalue()


#: each format's writer; the layout shapes TXT, SRT and VTT, JSON and CSV are as recognised
FORMATTERS: dict[str, Callable[[Transcript, SubtitleLayout], str]] = {
    "txt": to_txt,
    "srt": to_srt,
    "vtt": to_vtt,
    "json": lambda transcript, _layout: to_json(transcript),
    "csv": lambda transcript, _layout: to_csv(transcript),
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


def render(transcript: Transcript, fmt: str, layout: SubtitleLayout = DEFAULT_LAYOUT) -> str:
    """``transcript`` in format ``fmt`` (KeyError when unknown: see :func:`parse_formats`)."""
    return FORMATTERS[fmt](transcript, layout)
