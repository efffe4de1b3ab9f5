"""Subtitle time arithmetic in integer milliseconds, as openai/whisper does.

Seconds are floats everywhere else; here they become whole milliseconds once,
so rounding never makes a cue end before it starts.
"""

from __future__ import annotations


def to_ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def timestamp(ms: int, *, decimal_marker: str, always_hours: bool = True) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    head = f"{hours:02d}:" if always_hours or hours else ""
    return f"{head}{minutes:02d}:{seconds:02d}{decimal_marker}{millis:03d}"
