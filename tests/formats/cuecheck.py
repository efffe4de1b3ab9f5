"""An independent check of subtitle cues against the transcript they came from.

It shares no code with the writer: it walks the characters of the parsed cues
against the transcript's words and says, in words, every place where the cues
break a rule of the issue ("Readable subtitles"):

- the cues carry every word of the transcript exactly once, in order (a literal
  "-->" may be written "->"), spaced as the segment's text has them, and no cue
  cuts a word in two (Chinese and Japanese, written without spaces, excepted);
- no line is longer than ``max_line_chars`` unless it is one word alone, no cue
  has more than ``max_lines`` lines or a blank line, and none lasts longer than
  ``max_cue_s`` unless it is one word;
- a cue starts at its first word's start and ends at its last word's end (to
  the millisecond) where the words were timed; where a segment had no words,
  its cues stay inside the segment and its first and last cues meet its edges;
- cues follow each other without overlapping, each ending after it starts
  (a cue may be pushed to the previous one's end, or cut at the next one's start,
  only where the words themselves overlap).
"""

from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from datetime import timedelta

import srt
import webvtt

from stt_studio.domain import Transcript

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPACE_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")
_CJK_CHAR = re.compile(rf"[{_CJK}]")


@dataclass(frozen=True)
class ParsedCue:
    start_ms: int
    end_ms: int
    text: str


@dataclass(frozen=True)
class Unit:
    """One word as the transcript has it, with the times a cue holding it must respect."""

    text: str
    timed: bool
    start_ms: int  # the word's, or its segment's when the segment had no words
    end_ms: int
    first_in_segment: bool
    last_in_segment: bool


def ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _ms(delta: timedelta) -> int:
    return round(delta.total_seconds() * 1000)


def parse_srt(text: str) -> list[ParsedCue]:
    return [ParsedCue(_ms(s.start), _ms(s.end), s.content) for s in srt.parse(text)]


def parse_vtt(text: str) -> list[ParsedCue]:
    # a player shows entities as the characters they stand for
    return [ParsedCue(c.start_time.in_milliseconds(), c.end_time.in_milliseconds(),
                      html.unescape(c.text))
            for c in webvtt.from_buffer(io.StringIO(text), strict=True)]


def without_arrows(text: str) -> str:
    while "-->" in text:
        text = text.replace("-->", "->")
    return text


def normalise(text: str) -> str:
    """Spaces as one, none next to Chinese or Japanese characters, arrows defused."""
    return _SPACE_NEXT_TO_CJK.sub("", " ".join(without_arrows(text).split()))


def units(transcript: Transcript) -> list[Unit]:
    out: list[Unit] = []
    for seg in transcript.segments:
        start, end = ms(seg.start_s), max(ms(seg.start_s), ms(seg.end_s))
        words = [w for w in seg.words if w.text.strip()]
        if words:
            pieces = [(w.text, True, ms(w.start_s), max(ms(w.start_s), ms(w.end_s)))
                      for w in words]
        else:
            pieces = [(text, False, start, end) for text in seg.text.split()]
        for number, (text, timed, begin, finish) in enumerate(pieces):
            out.append(Unit(text, timed, begin, finish, number == 0, number == len(pieces) - 1))
    return out


def spoken_text(transcript: Transcript) -> str:
    """What the cues must say, together: the segments' words, spaced as their text has them.

    Engines give "42-line" as the words "42" and "-line"; where a segment's text holds
    the same characters as its words, its spacing is the one to show.
    """
    parts = []
    for seg in transcript.segments:
        words = [w.text for w in seg.words if w.text.strip()]
        same = "".join(seg.text.split()) == "".join("".join(words).split())
        parts.append(seg.text if not words or same else " ".join(words))
    return normalise(" ".join(parts))


def spoken_words(transcript: Transcript) -> list[str]:
    return spoken_text(transcript).split()


def cue_problems(cues: list[ParsedCue], transcript: Transcript, *, max_line_chars: int = 42,
                 max_lines: int = 2, max_cue_s: float = 7.0) -> list[str]:
    """Every rule the cues break, in words (empty: they are fine)."""
    problems = _shape_problems(cues, max_line_chars, max_lines, max_cue_s)
    spoken = units(transcript)
    owner: list[int] = []  # the unit each character of the spoken text belongs to
    first_char: list[bool] = []
    for index, unit in enumerate(spoken):
        chars = normalise(unit.text).replace(" ", "")
        owner.extend([index] * len(chars))
        first_char.extend(n == 0 for n in range(len(chars)))
    want = spoken_text(transcript)
    got = normalise(" ".join(c.text for c in cues))
    if got != want:
        return [*problems, f"the cues say {got[:200]!r}..., the transcript {want[:200]!r}..."]
    position = 0
    for number, cue in enumerate(cues):
        size = len(normalise(cue.text).replace(" ", ""))
        first, last = owner[position], owner[position + size - 1]
        starts_unit = first_char[position]
        ends_unit = position + size == len(owner) or first_char[position + size]
        if not (starts_unit and ends_unit) and not _CJK_CHAR.search(cue.text):
            problems.append(f"cue {number + 1} cuts a word in two: {cue.text!r}")
        previous_end = cues[number - 1].end_ms if number else None
        next_start = cues[number + 1].start_ms if number + 1 < len(cues) else None
        problems += _time_problems(number + 1, cue, spoken[first], spoken[last],
                                   starts_unit, ends_unit, previous_end, next_start)
        position += size
    return problems


def _shape_problems(cues: list[ParsedCue], max_line_chars: int, max_lines: int,
                    max_cue_s: float) -> list[str]:
    problems = []
    for number, cue in enumerate(cues, start=1):
        lines = cue.text.split("\n")
        one_word = len(cue.text.split()) == 1
        if len(lines) > max_lines:
            problems.append(f"cue {number} has {len(lines)} lines: {cue.text!r}")
        for line in lines:
            if not line.strip():
                problems.append(f"cue {number} holds a blank line (players end the cue there)")
            elif len(line) > max_line_chars and len(line.split()) > 1:
                problems.append(f"cue {number} has a line of {len(line)} characters: {line!r}")
        if cue.end_ms - cue.start_ms > round(max_cue_s * 1000) and not one_word:
            problems.append(f"cue {number} lasts {cue.end_ms - cue.start_ms} ms: {cue.text!r}")
        if not cue.end_ms > cue.start_ms:
            problems.append(f"cue {number} ends at {cue.end_ms} ms, not after its start")
        if number > 1 and cue.start_ms < cues[number - 2].end_ms:
            problems.append(f"cue {number} starts at {cue.start_ms} ms, inside the cue before")
    return problems


def _time_problems(number: int, cue: ParsedCue, first: Unit, last: Unit, starts_unit: bool,
                   ends_unit: bool, previous_end: int | None,
                   next_start: int | None) -> list[str]:
    problems = []
    pushed = previous_end is not None and cue.start_ms == previous_end
    if first.timed or (first.first_in_segment and starts_unit):
        want = first.start_ms
        if cue.start_ms != want and not (pushed and previous_end is not None
                                         and previous_end > want):
            problems.append(f"cue {number} starts at {cue.start_ms} ms, not {want}")
    elif not first.start_ms <= cue.start_ms <= first.end_ms and not pushed:
        problems.append(f"cue {number} starts at {cue.start_ms} ms, outside its segment "
                        f"({first.start_ms}-{first.end_ms} ms)")
    shortened = next_start is not None and cue.end_ms == next_start
    lengthened = cue.end_ms == cue.start_ms + 1
    if last.timed or (last.last_in_segment and ends_unit):
        want = last.end_ms
        if cue.end_ms != want and not (shortened and next_start is not None
                                       and next_start < want) \
                and not (lengthened and want <= cue.start_ms):
            problems.append(f"cue {number} ends at {cue.end_ms} ms, not {want}")
    elif not last.start_ms <= cue.end_ms <= last.end_ms and not lengthened:
        problems.append(f"cue {number} ends at {cue.end_ms} ms, outside its segment "
                        f"({last.start_ms}-{last.end_ms} ms)")
    return problems
