"""Peak memory of one transcription, measured in a process of its own.

    python tests/support/rss_probe.py stream|whole <recording> <cache root> [speech_s]

``stream``: ``Studio.transcribe_file`` (the recording decoded and transcribed
block by block, default settings). ``whole``: the old way — ``decode_file``
holds the whole recording while it is transcribed from memory (``speech_s`` is
accepted and ignored). Prints one JSON line:
``{"peak_rss_mb": ..., "duration_s": ..., "words": ...}``.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def peak_rss_kb() -> int:
    """This process's own peak RSS in KiB.

    ``/proc/self/status`` VmHWM belongs to this program's memory map. getrusage's
    ru_maxrss survives exec on Linux: a probe started from a 2.7 GB pytest
    process would report 2.7 GB before doing anything.
    """
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str]) -> int:
    mode, recording, root = argv[0], Path(argv[1]), Path(argv[2])
    from stt_studio.cache import prepare_cache  # before any heavy import

    layout = prepare_cache(root)
    from stt_studio.audio.decode import decode_file
    from stt_studio.domain import TranscriptionOptions
    from stt_studio.service import Studio
    from stt_studio.settings import Settings

    studio = Studio(Settings(cache_dir=root, device="cpu"), layout)
    options = TranscriptionOptions()
    if mode == "stream":
        transcript = studio.transcribe_file(recording, "tiny.en", options).transcript
    elif mode == "whole":
        loaded = studio.load("tiny.en")
        audio = decode_file(recording)  # held until the end, as the old studio held it
        transcript = studio.transcribe_audio(audio, loaded, options)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    peak_kb = peak_rss_kb()
    words = sum(len(s.words) for s in transcript.segments)
    print(json.dumps({"peak_rss_mb": peak_kb / 1024, "duration_s": transcript.duration_s,
                      "words": words}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
