"""A transcript as one stream of timed tokens: what cues and paragraphs are cut from.

Word timestamps are used as recognised. A segment without words (word
timestamps off, or an engine without them) is split at whitespace, and its time
is shared among its tokens in proportion to their characters, so a five-minute
unpunctuated segment can still be cut into short cues; such tokens are marked
``timed=False``.

A token is a word as the segment's text shows it: engines split "42-line" into
"42" and "-line", and the text says they belong together, so they are one token
(nothing may be cut between them). Scripts written without spaces (Chinese,
Japanese) are the exception: their tokens are characters or words glued on
with ``space_before=False``, and a cue or line may end between them.

A diarized transcript's tokens carry their speaker (the word's, else its
segment's); a cue or paragraph never holds two speakers.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from stt_studio.domain import Segment, Transcript, Word
from stt_studio.formats.timing import to_ms

#: a gap between words at least this long is a pause: a good place to cut
PAUSE_MS = 500
#: a cue never spans a pause this long (its text would show while nobody speaks)
LONG_PAUSE_MS = 1500

_SENTENCE_END = frozenset(".?!…。？！")
_CLAUSE_END = frozenset(",;:–—，、；：")
_CLOSERS = "\"'”’»)]}」』"
# abbreviations whose full stop ends no sentence
_ABBREVIATIONS = frozenset({"i.e.", "e.g.", "cf.", "vs.", "mr.", "mrs.", "ms.", "dr.", "st."})
# English words a line or cue should not end on (Netflix: keep them with what follows)
_LEADING_WORDS = frozenset({
    "a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "with", "from", "into",
    "and", "or", "but", "nor", "that", "which", "who", "as", "if", "than", "my", "your",
    "his", "her", "its", "our", "their", "this", "these", "those", "i", "we", "you",
})


@dataclass(frozen=True, slots=True)
class Token:
    """One word (or one character of an unspaced script) with its time.

    space_before: a space separates it from the token before (False: glued on).
    timed: the times are the recogniser's; False: shared out from a word-less segment.
    speaker: who says it (SPEAKER_1, … or a given name); None when not diarized.
    tag: not a spoken word but the mark of a new speaker's turn (SRT's ``[Speaker 1]``).
    """

    text: str
    start_ms: int
    end_ms: int
    space_before: bool = True
    timed: bool = True
    speaker: str | None = None
    tag: bool = False


def ends_sentence(token: Token) -> bool:
    core = token.text.rstrip(_CLOSERS)
    return (bool(core) and core[-1] in _SENTENCE_END and core.lower() not in _ABBREVIATIONS
            and not token.tag)


def leads_on(token: Token) -> bool:
    """A word that belongs with the next one (an article, a preposition, a conjunction)."""
    return token.text.lower() in _LEADING_WORDS


def ends_clause(token: Token) -> bool:
    core = token.text.rstrip(_CLOSERS)
    return bool(core) and core[-1] in _CLAUSE_END and not token.tag


def gap_ms(before: Token, after: Token) -> int:
    return after.start_ms - before.end_ms


def must_cut(before: Token, after: Token) -> bool:
    """A cue ends between these two, whatever the layout: a long pause, another speaker."""
    return gap_ms(before, after) >= LONG_PAUSE_MS or before.speaker != after.speaker


def join(tokens: Sequence[Token]) -> str:
    """The tokens as text: spaces where they were, none before the first."""
    parts = []
    for number, token in enumerate(tokens):
        if number and token.space_before:
            parts.append(" ")
        parts.append(token.text)
    return "".join(parts)


def tokens_of(transcript: Transcript) -> tuple[Token, ...]:
    """Every word of every segment, in order; blank segments give none."""
    out: list[Token] = []
    for segment in transcript.segments:
        words = [w for w in segment.words if w.text.strip()]
        out.extend(_timed(segment, words) if words else _shared(segment))
    return tuple(out)


def _timed(segment: Segment, words: list[Word]) -> list[Token]:
    out: list[Token] = []
    for word, spaced in zip(words, _spacing(segment.text, [w.text.strip() for w in words])):
        text = " ".join(word.text.split())
        start = to_ms(word.start_s)
        end = max(start, to_ms(word.end_s))
        speaker = word.speaker or segment.speaker or None
        if out and not spaced and not (_unspaced(out[-1].text[-1]) or _unspaced(text[0])):
            last = out.pop()  # one word the engine gave in pieces
            text, start, end = last.text + text, last.start_ms, max(last.end_ms, end)
            spaced, speaker = last.space_before, last.speaker
        out.append(Token(text, start, end, spaced, speaker=speaker))
    return out


def _spacing(text: str, words: list[str]) -> Iterator[bool]:
    """Whether a space precedes each word in the segment's text (True where unsure).

    Engines strip words of their spaces; the segment's text still has them, and
    a Chinese transcript has none between its words.
    """
    position = 0
    for number, word in enumerate(words):
        found = text.find(word, position)
        if found < 0 or text[position:found].strip():
            yield True  # not where the text has it next: a space is the safe guess
            continue
        yield number == 0 or found == 0 or text[found - 1].isspace()
        position = found + len(word)


def _shared(segment: Segment) -> Iterator[Token]:
    pieces = list(_pieces(segment.text))
    if not pieces:
        return
    # each token owns its characters and the space after it, so the tokens tile the segment
    weights = [len(text) + (1 if n + 1 < len(pieces) and pieces[n + 1][1] else 0)
               for n, (text, _spaced) in enumerate(pieces)]
    total = sum(weights)
    start_ms = to_ms(segment.start_s)
    span_ms = max(0, to_ms(segment.end_s) - start_ms)
    done = 0
    for (text, spaced), weight in zip(pieces, weights):
        begin = start_ms + span_ms * done // total
        done += weight
        yield Token(text, begin, start_ms + span_ms * done // total, spaced, timed=False,
                    speaker=segment.speaker or None)


def _pieces(text: str) -> Iterator[tuple[str, bool]]:
    """(token, space_before) for the words of ``text``; unspaced scripts a character each."""
    for word in text.split():
        current, spaced = "", True
        for char in word:
            if _unspaced(char) and current:
                yield current, spaced
                current, spaced = char, False
            elif current and _unspaced(current[-1]) and not unicodedata.category(char) \
                    .startswith("P"):
                yield current, spaced
                current, spaced = char, False
            else:
                current += char  # punctuation stays with the character before it
        if current:
            yield current, spaced


def _unspaced(char: str) -> bool:
    """A character of a script written without spaces between words."""
    code = ord(char)
    return (0x3040 <= code <= 0x30FF or 0x3400 <= code <= 0x4DBF or 0x4E00 <= code <= 0x9FFF
            or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x2FA1F)
