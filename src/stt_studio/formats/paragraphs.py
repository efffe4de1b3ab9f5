"""A transcript as paragraphs of plain text, broken at long pauses (pure: no I/O).

A pause is measured between words where the recogniser timed them (so a long
silence inside one segment breaks it too) and between segments otherwise.
"""

from __future__ import annotations

from stt_studio.domain import Transcript
from stt_studio.formats.layout import DEFAULT_LAYOUT, SubtitleLayout
from stt_studio.formats.tokens import gap_ms, join, tokens_of


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
        if gap_ms(tokens[index - 1], tokens[index]) >= pause_ms:
            out.append(join(tokens[first:index]))
            first = index
    out.append(join(tokens[first:]))
    return tuple(out)
