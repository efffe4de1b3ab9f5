"""How subtitle cues and TXT paragraphs are shaped: one frozen, validated value."""

from __future__ import annotations

from dataclasses import dataclass


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


DEFAULT_LAYOUT = SubtitleLayout()
