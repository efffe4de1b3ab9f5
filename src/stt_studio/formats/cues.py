"""Readable subtitle cues cut from a transcript's words (pure: no I/O).

The rules are those of the Netflix and BBC subtitle guidelines, within a
:class:`SubtitleLayout`: at most ``max_line_chars`` a line, ``max_lines`` lines
and ``max_cue_s`` seconds a cue. Where to cut is chosen over each run of words
at once (a shortest path over the cut points), so a cue ends at a sentence end
where it can, else at a comma, semicolon, colon or a pause, and only then
between two words; among cuts that are equally good, cues of even size win over
a full cue followed by a scrap. Lines are balanced the same way. A word longer
than a line stands alone on its line; a single word that lasts longer than
``max_cue_s`` is a cue of its own: no text is ever dropped.

A cue starts at its first word's start and ends at its last word's end, in
whole milliseconds, never overlapping the next cue and always after it starts.

A cue never holds two speakers. With ``speaker_tags`` (SRT), the first cue of
each turn opens with a ``[Speaker 1]`` tag, counted in the line like a word and
never left alone: a tag and its word are the unit a cue always holds, so a word
longer than a line may share its cue with the tag (on a line of its own where
the layout has two lines, else on the word's line).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from stt_studio.domain import Transcript
from stt_studio.formats.layout import DEFAULT_LAYOUT, SubtitleLayout
from stt_studio.formats.speakers import tagged
from stt_studio.formats.tokens import (
    PAUSE_MS,
    Token,
    ends_clause,
    ends_sentence,
    gap_ms,
    join,
    leads_on,
    must_cut,
    tokens_of,
)

# what a cut costs, by what it follows: a sentence end is free, a mere word space dear
_CUT_AT_WORD = 3.0
_CUT_AFTER_LEADING_WORD = 3.5
_CUT_AT_CLAUSE_OR_PAUSE = 1.0
_CUT_AT_CLAUSE_AND_PAUSE = 0.5
#: a sentence end inside a cue: short sentences share a cue only when both are very short
_SENTENCE_INSIDE = 1.0
# a line break after punctuation or at a pause is worth this much imbalance (negative: a cost)
_LINE_BREAK_AT_SENTENCE = 0.2
_LINE_BREAK_AT_CLAUSE = 0.1
_LINE_BREAK_AFTER_LEADING_WORD = -0.1


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle: times in integer milliseconds, its lines (never blank), who speaks."""

    start_ms: int
    end_ms: int
    lines: tuple[str, ...]
    speaker: str | None = None  # the label (SPEAKER_1, … or a given name); None: not diarized

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def build_cues(transcript: Transcript, layout: SubtitleLayout = DEFAULT_LAYOUT, *,
               speaker_tags: bool = False) -> tuple[Cue, ...]:
    """The transcript's words as cues within ``layout``, every word once and in order.

    speaker_tags: the first cue of each speaker's turn opens with ``[Speaker 1]``.
    """
    tokens = tokens_of(transcript)
    if speaker_tags:
        tokens = tagged(tokens)
    spans: list[tuple[int, int]] = []
    for first, stop in _runs(tokens):
        spans.extend(_cut(tokens, first, stop, layout))
    return tuple(_timed(tokens, spans, layout))


def _runs(tokens: Sequence[Token]) -> Iterator[tuple[int, int]]:
    """[first, stop) ranges between the places where a cue must end."""
    first = 0
    for index in range(1, len(tokens)):
        if must_cut(tokens[index - 1], tokens[index]):
            yield first, index
            first = index
    if tokens:
        yield first, len(tokens)


class _Lines:
    """The fewest lines that hold the tokens added so far (greedy filling is optimal)."""

    def __init__(self, max_line_chars: int) -> None:
        self.limit = max_line_chars
        self.count = 0
        self.line = 0  # characters on the last line
        self.chars = 0  # characters of all the text, joined on one line

    def add(self, token: Token) -> None:
        space = 1 if token.space_before and self.chars else 0
        self.chars += space + len(token.text)
        if self.count and self.line + space + len(token.text) <= self.limit:
            self.line += space + len(token.text)
        else:  # a word longer than a line gets a line of its own
            self.count += 1
            self.line = len(token.text)


def _cut(tokens: Sequence[Token], first: int, stop: int,
         layout: SubtitleLayout) -> list[tuple[int, int]]:
    """The cheapest cues for tokens[first:stop], as [start, stop) index pairs."""
    size = stop - first
    max_ms = round(layout.max_cue_s * 1000)
    capacity = layout.max_line_chars * layout.max_lines
    best = [0.0] + [float("inf")] * size
    back = [0] * (size + 1)
    for begin in range(size):
        lines = _Lines(layout.max_line_chars)
        inside = 0
        start_ms = tokens[first + begin].start_ms
        # one token (a tag and its word) always makes a cue, however long
        unit = 2 if tokens[first + begin].tag else 1
        for end in range(begin + 1, size + 1):
            token = tokens[first + end - 1]
            lines.add(token)
            duration_ms = token.end_ms - start_ms
            if end > begin + unit:
                if lines.count > layout.max_lines or duration_ms > max_ms:
                    break
                inside += ends_sentence(tokens[first + end - 2])
            fill = min(1.0, max(lines.chars / capacity, duration_ms / max_ms))
            cost = (best[begin] + (1.0 - fill) ** 2 + _SENTENCE_INSIDE * inside
                    + (_cut_cost(token, tokens[first + end]) if end < size else 0.0))
            if cost < best[end]:
                best[end], back[end] = cost, begin
    spans = []
    end = size
    while end:
        spans.append((first + back[end], first + end))
        end = back[end]
    return spans[::-1]


def _cut_cost(before: Token, after: Token) -> float:
    if before.tag:
        return float("inf")  # a tag stays with the word it announces
    if ends_sentence(before):
        return 0.0
    clause, pause = ends_clause(before), gap_ms(before, after) >= PAUSE_MS
    if clause and pause:
        return _CUT_AT_CLAUSE_AND_PAUSE
    if clause or pause:
        return _CUT_AT_CLAUSE_OR_PAUSE
    return _CUT_AFTER_LEADING_WORD if leads_on(before) else _CUT_AT_WORD


def _timed(tokens: Sequence[Token], spans: list[tuple[int, int]],
           layout: SubtitleLayout) -> Iterator[Cue]:
    """Cues with times that never overlap and never end before they start."""
    previous_end_ms = 0
    for number, (begin, stop) in enumerate(spans):
        start_ms = max(tokens[begin].start_ms, previous_end_ms)
        end_ms = tokens[stop - 1].end_ms
        if number + 1 < len(spans):
            next_start_ms = tokens[spans[number + 1][0]].start_ms
            if next_start_ms > start_ms:
                end_ms = min(end_ms, next_start_ms)
        end_ms = max(end_ms, start_ms + 1)
        previous_end_ms = end_ms
        shown = lines(tokens[begin:stop], layout.max_line_chars)
        while len(shown) > layout.max_lines:  # only a tag before a word longer than a line
            shown = (f"{shown[0]} {shown[1]}", *shown[2:])
        yield Cue(start_ms, end_ms, shown, tokens[begin].speaker)


def lines(tokens: Sequence[Token], max_line_chars: int) -> tuple[str, ...]:
    """The tokens in the fewest lines, balanced: each break chosen for even lengths."""
    fewest = _Lines(max_line_chars)
    for token in tokens:
        fewest.add(token)
    if fewest.count <= 1:
        return (join(tokens),)
    size = len(tokens)
    # offset[n]: where token n ends in the one-line text, so a line's length is a subtraction
    offset = [0] * (size + 1)
    for number, token in enumerate(tokens):
        space = 1 if number and token.space_before else 0
        offset[number + 1] = offset[number] + space + len(token.text)

    def length(begin: int, end: int) -> int:
        lead = 1 if begin and tokens[begin].space_before else 0
        return offset[end] - offset[begin] - lead

    inf = float("inf")
    # best[n][end]: the cheapest way to set tokens[:end] in n lines
    best = [[inf] * (size + 1) for _ in range(fewest.count + 1)]
    back = [[0] * (size + 1) for _ in range(fewest.count + 1)]
    best[0][0] = 0.0
    for count in range(1, fewest.count + 1):
        for end in range(count, size + 1):
            for begin in range(end - 1, count - 2, -1):
                chars = length(begin, end)
                if chars > max_line_chars and end - begin > 1:
                    break  # longer lines only get longer
                cost = best[count - 1][begin] + (chars / max_line_chars) ** 2 \
                    - _break_bonus(tokens, end)
                if cost < best[count][end]:
                    best[count][end], back[count][end] = cost, begin
    out = []
    end = size
    for count in range(fewest.count, 0, -1):
        begin = back[count][end]
        out.append(join(tokens[begin:end]))
        end = begin
    return tuple(out[::-1])


def _break_bonus(tokens: Sequence[Token], end: int) -> float:
    """How welcome a line break after tokens[end - 1] is."""
    if end >= len(tokens):
        return 0.0
    before, after = tokens[end - 1], tokens[end]
    if ends_sentence(before):
        return _LINE_BREAK_AT_SENTENCE
    if ends_clause(before) or gap_ms(before, after) >= PAUSE_MS:
        return _LINE_BREAK_AT_CLAUSE
    return _LINE_BREAK_AFTER_LEADING_WORD if leads_on(before) else 0.0
