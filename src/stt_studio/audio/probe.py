"""How long a recording is, read from its headers (no decoding).

Progress bars need the total audio of a batch before any of it is decoded;
opening the container with PyAV reads the headers only and takes
milliseconds. A file whose length is not stated, or that cannot be opened,
is "unknown" (``None``): decoding it later is what says what is wrong.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def duration_s(path: Path) -> float | None:
    """Seconds of the first audio stream as its headers state them; None when unknown."""
    import av  # PyAV: bundled FFmpeg libraries, imported only when a batch needs it

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            if stream.duration and stream.time_base:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration:
                seconds = container.duration / 1_000_000
            else:
                return None
    except (av.FFmpegError, OSError, ValueError, UnicodeError) as exc:
        log.debug("cannot read the length of %s: %s", path, exc)
        return None
    return seconds if seconds > 0 else None
