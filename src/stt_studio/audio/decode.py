"""Decode any container/codec PyAV reads into 16 kHz mono float32.

PyAV bundles FFmpeg's libraries, so no ``ffmpeg`` binary is needed (the same
choice faster-whisper makes). Every failure becomes an :class:`AudioError`
naming the file; nothing here crashes on a bad input.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from stt_studio.domain import SAMPLE_RATE_HZ, Audio
from stt_studio.errors import AudioError, StudioError, translate_os_error

log = logging.getLogger(__name__)


def decode_file(path: Path, *, cache_dir: Path | str = "") -> Audio:
    """Read ``path`` and return its first audio stream as mono 16 kHz float32."""
    path = Path(path)
    if not path.exists():
        raise AudioError(
            f"the file does not exist: {path}",
            causes=("The path is misspelled, or the file was moved or deleted",),
            remedies=("Check the path and try again",),
            paths=(path,),
        )
    if path.is_dir():
        raise AudioError(f"this is a folder, not a recording: {path}", paths=(path,))
    if path.stat().st_size == 0:
        raise AudioError(
            f"the file is empty (0 bytes): {path}",
            causes=("The recording was interrupted or the copy did not finish",),
            paths=(path,),
        )
    try:
        samples = _decode(path)
    except StudioError:
        raise
    except OSError as exc:
        if isinstance(exc, (PermissionError, FileNotFoundError)) or exc.errno in (13, 2):
            raise translate_os_error(exc, action="read the recording", path=path,
                                     cache_dir=cache_dir or path.parent) from exc
        # PyAV raises FFmpeg decode failures as OSError subclasses (av.error.*)
        raise AudioError(f"the file could not be decoded: {path}", paths=(path,),
                         detail=f"{type(exc).__name__}: {exc}") from exc
    except (ValueError, RuntimeError, EOFError, IndexError) as exc:
        raise AudioError(f"the file could not be decoded: {path}", paths=(path,),
                         detail=f"{type(exc).__name__}: {exc}") from exc
    if samples.size == 0:
        raise AudioError(
            f"the file holds no audio samples: {path}",
            causes=("The recording is empty (0 seconds long)",),
            remedies=("Record again, or check that the right file was chosen",),
            paths=(path,),
        )
    return Audio(samples=samples, sample_rate_hz=SAMPLE_RATE_HZ, source=path)


def _decode(path: Path) -> np.ndarray:
    import av  # lazy: PyAV loads the FFmpeg libraries

    chunks: list[np.ndarray] = []
    with av.open(str(path), mode="r", metadata_errors="ignore") as container:
        streams = container.streams.audio
        if not streams:
            raise AudioError(
                f"the file has no audio track: {path}",
                causes=("It is a video without sound, an image, or not media at all",),
                paths=(path,),
            )
        stream = streams[0]
        stream.codec_context.thread_type = "AUTO"
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE_HZ)
        for frame in container.decode(stream):
            frame.pts = None  # let the resampler time frames by their sample count
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    if not np.all(np.isfinite(samples)):
        log.warning("%s: non-finite samples replaced by 0", path)
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    return samples
