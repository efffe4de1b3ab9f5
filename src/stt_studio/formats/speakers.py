"""Who speaks, as the output formats show it (pure: no I/O).

A diarized transcript carries a speaker label (SPEAKER_1, … or a name the user
gave) on its words and segments. Cues and paragraphs never hold two speakers
(:func:`.tokens.must_cut`); this module gives the name people read and the
marks a format puts on a turn: SRT's ``[Speaker 1]`` tag, opening the first
cue of each turn and counted in its line like a word, and WebVTT's voice span
``<v Speaker 1>``, opening every cue of a speaker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from stt_studio.diarize.base import display_name
from stt_studio.domain import Transcript
from stt_studio.formats.tokens import Token


def speaker_name(speaker: str | None) -> str | None:
    """What people read: "Speaker 1" for SPEAKER_1, a given name as it is, on one line.

    None when there is no speaker (or only a blank name).
    """
    if not speaker:
        return None
    return " ".join(display_name(speaker).split()) or None


def has_speakers(transcript: Transcript) -> bool:
    """Whether any segment or word of the transcript carries a speaker."""
    return any(segment.speaker or any(word.speaker for word in segment.words)
               for segment in transcript.segments)


def opens_turn(tokens: Sequence[Token], index: int) -> bool:
    """Whether tokens[index] is the first word of a speaker's turn (a named speaker)."""
    token = tokens[index]
    return speaker_name(token.speaker) is not None and (
        index == 0 or tokens[index - 1].speaker != token.speaker)


def tagged(tokens: Sequence[Token]) -> tuple[Token, ...]:
    """The tokens with a ``[Speaker 1]`` tag before the first word of each turn.

    The tag has its word's time and speaker, so it starts the cue its turn
    starts (a speaker change always ends a cue) and is timed as its word.
    """
    out: list[Token] = []
    for index, token in enumerate(tokens):
        if opens_turn(tokens, index):
            out.append(Token(f"[{speaker_name(token.speaker)}]", token.start_ms,
                             token.start_ms, speaker=token.speaker, tag=True))
            token = replace(token, space_before=True)  # "[Speaker 1] 你好", never glued
        out.append(token)
    return tuple(out)


def voice_span(speaker: str | None) -> str:
    """WebVTT's ``<v Speaker 1>`` for the speaker ("" for none).

    The name is an annotation: "&", "<" and ">" are written as references,
    so a name such as "R&D <lead>" neither ends the tag nor starts another.
    """
    name = speaker_name(speaker)
    if name is None:
        return ""
    escaped = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<v {escaped}>"
