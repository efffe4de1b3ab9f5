"""Speaker turns laid on a transcript: every word and segment gets its speaker (pure).

A word belongs to the turn it overlaps most (the nearest turn when it falls
in a gap); a segment is split where its words change speaker; a segment
without words takes the speaker it overlaps most. Labels are numbered in
order of first appearance in the transcript: SPEAKER_1, SPEAKER_2, …
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from stt_studio.diarize.base import Turn, label
from stt_studio.domain import Segment, Word


def speaker_at(start_s: float, end_s: float, turns: Sequence[Turn]) -> int:
    """The speaker of the turn overlapping [start_s, end_s] most, else the nearest one."""
    best, best_overlap = -1, 0.0
    for turn in turns:
        overlap = min(end_s, turn.end_s) - max(start_s, turn.start_s)
        if overlap > best_overlap:
            best, best_overlap = turn.speaker, overlap
    if best >= 0:
        return best
    middle = (start_s + end_s) / 2
    nearest = min(turns, key=lambda t: max(t.start_s - middle, middle - t.end_s, 0.0))
    return nearest.speaker


def assign(segments: Sequence[Segment], turns: Sequence[Turn]) -> tuple[Segment, ...]:
    """``segments`` with speakers on them, split at speaker changes; unchanged without turns."""
    if not turns:
        return tuple(segments)
    raw: list[tuple[Segment, int]] = []
    for segment in segments:
        if not segment.words:
            raw.append((segment, speaker_at(segment.start_s, segment.end_s, turns)))
            continue
        speakers = [speaker_at(w.start_s, w.end_s, turns) for w in segment.words]
        groups: list[tuple[int, list[Word]]] = []
        for word, speaker in zip(segment.words, speakers):
            if groups and groups[-1][0] == speaker:
                groups[-1][1].append(word)
            else:
                groups.append((speaker, [word]))
        if len(groups) == 1:
            raw.append((segment, groups[0][0]))
            continue
        for speaker, words in groups:
            raw.append((Segment(words[0].start_s, words[-1].end_s,
                                " ".join(w.text for w in words), tuple(words)), speaker))
    order: dict[int, int] = {}
    for _, speaker in raw:
        order.setdefault(speaker, len(order))
    out = []
    for segment, speaker in raw:
        name = label(order[speaker])
        out.append(replace(segment, speaker=name,
                           words=tuple(replace(w, speaker=name) for w in segment.words)))
    return tuple(out)


def rename(segments: Sequence[Segment], names: dict[str, str]) -> tuple[Segment, ...]:
    """Speakers renamed (``{"SPEAKER_1": "Alice"}``) on every segment and word."""
    def named(speaker: str | None) -> str | None:
        return names.get(speaker, speaker) if speaker else speaker

    return tuple(replace(s, speaker=named(s.speaker),
                         words=tuple(replace(w, speaker=named(w.speaker)) for w in s.words))
                 for s in segments)
