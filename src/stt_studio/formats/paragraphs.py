"""A transcript as paragraphs of plain text, broken at long pauses (pure: no I/O).

A pause is measured between words where the recogniser timed them (so a long
silence inside one segment breaks it too) and between segments otherwise.

A diarized transcript is written as turns: a new speaker starts a new
paragraph, opened with the name (``Speaker 1: …``, or the name a user gave);
a long pause inside a turn still starts a paragraph, without the name again,
as in a script: a name is where another person starts to speak.
"""

from __future__ import annotations

from collections.abc import Sequence

from stt_studio.domain import Transcript
from stt_studio.formats.layout import DEFAULT_LAYOUT, SubtitleLayout
from stt_studio.formats.speakers import opens_turn, speaker_name
from stt_studio.formats.tokens import Token, gap_ms, join, tokens_of


def paragraphs(transcript: Transcript,
               layout: SubtitleLayout = DEFAULT_LAYOUT) -> tuple[str, ...]:
    """The spoken text, one string a paragraph; a transcript without segments is its text."""
    tokens = tokens_of(transcript)
    if not tokens:
        text = transcript.text.strip()
        return (text,) if text else ()
    pause_ms = round(layout.paragraph_pause_s * 1000)
    out = []
    first = 0
    for index in range(1, len(tokens)):
        before, after = tokens[index - 1], tokens[index]
        if gap_ms(before, after) >= pause_ms or before.speaker != after.speaker:
            out.append(_paragraph(tokens, first, index))
            first = index
    out.append(_paragraph(tokens, first, len(tokens)))
    return tuple(out)


def _paragraph(tokens: Sequence[Token], first: int, stop: int) -> str:
    text = join(tokens[first:stop])
    if opens_turn(tokens, first):
        return f"{speaker_name(tokens[first].speaker)}: {text}"
    return text
