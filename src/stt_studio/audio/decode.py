"""Decode any container/codec PyAV reads into 16 kHz mono float32.

PyAV bundles FFmpeg's libraries, so no ``ffmpeg`` binary is needed (the same
choice faster-whisper makes). Every failure becomes an :class:`AudioError`
naming the file; nothing here crashes on a bad input.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from stt_studio import progress
from stt_studio.domain import SAMPLE_RATE_HZ, Audio, NoteKind
from stt_studio.errors import AudioError, StudioError, is_lock_error, translate_os_error
from stt_studio.retry import Retrier

if TYPE_CHECKING:
    import av

log = logging.getLogger(__name__)

#: a jump in packet timestamps longer than this is audio the demuxer dropped
GAP_TOLERANCE_S = 0.02


def decode_file(path: Path, *, cache_dir: Path | str = "", retrier: Retrier | None = None) -> Audio:
    """Read ``path`` and return its first audio stream as mono 16 kHz float32.

    Damaged packets are skipped (as faster-whisper skips invalid frames) and
    reported as a note saying how much was lost; only a file from which
    nothing decodes is an error. Opening a locked file is retried.
    """
    path = Path(path)
    retrier = retrier or Retrier()
    if not path.exists():
        raise AudioError(
            f"the file does not exist: {path}",
            causes=("The path is misspelled, or the file was moved or deleted",),
            remedies=("Check the path and try again",),
            paths=(path,),
        )
    if path.is_dir():
        raise AudioError(f"this is a folder, not a recording: {path}", paths=(path,))
    try:
        size = retrier.run(lambda: path.stat().st_size, f"read {path}")
        if size == 0:
            raise AudioError(
                f"the file is empty (0 bytes): {path}",
                causes=("The recording was interrupted or the copy did not finish",),
                paths=(path,),
            )
        decoded = _decode(path, retrier)
    except StudioError:
        raise
    except OSError as exc:
        if isinstance(exc, (PermissionError, FileNotFoundError)) or exc.errno in (13, 2) \
                or is_lock_error(exc):
            raise translate_os_error(exc, action="read the recording", path=path,
                                     cache_dir=cache_dir or path.parent) from exc
        # PyAV raises FFmpeg open failures as OSError subclasses (av.error.*)
        raise AudioError(f"the file could not be decoded: {path}", paths=(path,),
                         detail=f"{type(exc).__name__}: {exc}") from exc
    except (ValueError, RuntimeError, EOFError, IndexError) as exc:
        raise AudioError(f"the file could not be decoded: {path}", paths=(path,),
                         detail=f"{type(exc).__name__}: {exc}") from exc
    samples = decoded.samples
    if samples.size == 0:
        if decoded.skipped_packets or decoded.declared_s > 0:
            found = (f"{decoded.skipped_packets} damaged part(s)" if decoded.skipped_packets
                     else f"its header promises {decoded.declared_s:.1f} s")
            raise AudioError(
                f"no part of the file could be decoded ({found}): {path}",
                paths=(path,), detail=decoded.first_error,
            )
        raise AudioError(
            f"the file holds no audio samples: {path}",
            causes=("The recording is empty (0 seconds long)",),
            remedies=("Record again, or check that the right file was chosen",),
            paths=(path,),
        )
    if decoded.skipped_packets or decoded.stopped_early:
        lost = f"about {decoded.skipped_s:.1f} s" if decoded.skipped_s else "a little audio"
        ending = " and the end of the file could not be read" if decoded.stopped_early else ""
        progress.note(
            NoteKind.SKIPPED_AUDIO,
            f"{path.name}: skipped {decoded.skipped_packets} damaged part(s) ({lost}){ending}; "
            "the rest was transcribed",
            logger=log,
        )
    return Audio(samples=samples, sample_rate_hz=SAMPLE_RATE_HZ, source=path)


@dataclass(frozen=True, slots=True)
class _Decoded:
    samples: np.ndarray
    skipped_packets: int = 0
    skipped_s: float = 0.0
    stopped_early: bool = False  # the container could not be read to its end
    first_error: str | None = None
    declared_s: float = 0.0  # the length the container claims (0: unknown)


def _decode(path: Path, retrier: Retrier) -> _Decoded:
    import av  # lazy: PyAV loads the FFmpeg libraries

    chunks: list[np.ndarray] = []
    skipped = 0
    skipped_s = 0.0
    stopped_early = False
    first_error: str | None = None
    next_pts_s: float | None = None  # where the next packet should start
    decoded_frames = 0
    # FFmpeg reports a file another program holds as a bare EACCES; Python's own
    # open says WinError 32, so a lock is recognised (and waited out) here first
    retrier.run(lambda: open(path, "rb").close(), f"read {path}")
    container = av.open(str(path), mode="r", metadata_errors="ignore")
    with container:
        streams = container.streams.audio
        if not streams:
            raise AudioError(
                f"the file has no audio track: {path}",
                causes=("It is a video without sound, an image, or not media at all",),
                paths=(path,),
            )
        stream = streams[0]
        stream.codec_context.thread_type = "AUTO"
        declared_s = _declared_s(container, stream)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE_HZ)
        packets = container.demux(stream)
        for count in itertools.count():
            if count % 256 == 0:
                progress.check_cancelled()  # a long file stops decoding when its job is cancelled
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:  # the container breaks off mid-file
                if not decoded_frames:
                    raise
                stopped_early, first_error = True, first_error or f"{type(exc).__name__}: {exc}"
                break
            # a demuxer that resyncs past garbage (FLAC, Ogg) drops packets silently:
            # the jump in their timestamps is the audio lost
            if packet.pts is not None and packet.time_base:
                start_s = float(packet.pts * packet.time_base)
                if next_pts_s is not None and start_s - next_pts_s > GAP_TOLERANCE_S:
                    skipped += 1
                    skipped_s += start_s - next_pts_s
                    chunks.append(_silence(start_s - next_pts_s))  # keep later times true
                    first_error = first_error or (
                        f"{start_s - next_pts_s:.2f} s missing at {next_pts_s:.2f} s")
                next_pts_s = (start_s + float(packet.duration * packet.time_base)
                              if packet.duration else None)  # no length: no expectation
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                skipped += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"
                if packet.duration and packet.time_base:
                    lost_s = float(packet.duration * packet.time_base)
                    skipped_s += lost_s
                    chunks.append(_silence(lost_s))  # subtitles after it stay in sync
                continue
            for frame in frames:
                decoded_frames += 1
                frame.pts = None  # let the resampler time frames by their sample count
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if not decoded_frames:  # nothing, or only stand-ins for damaged parts
        return _Decoded(np.zeros(0, dtype=np.float32), skipped, skipped_s, stopped_early,
                        first_error, declared_s)
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    if skipped or stopped_early:
        # packets an MP3 demuxer skips leave no gap in its timestamps: once damage
        # is seen, the declared length sizes the loss (never used to detect it, as
        # the length of a VBR MP3 or raw AAC is only an estimate)
        skipped_s = max(skipped_s, declared_s - len(samples) / SAMPLE_RATE_HZ)
    if not np.all(np.isfinite(samples)):
        log.warning("%s: non-finite samples replaced by 0", path)
        samples = np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0)
    return _Decoded(samples, skipped, skipped_s, stopped_early, first_error, declared_s)


def _silence(seconds: float) -> np.ndarray:
    """Stands in for audio that could not be decoded, so later timestamps stay true."""
    return np.zeros(max(int(round(seconds * SAMPLE_RATE_HZ)), 0), dtype=np.float32)


def _declared_s(container: av.container.InputContainer, stream: av.AudioStream) -> float:
    """The stream's length as its headers state it, in seconds (0.0 when not stated)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / 1_000_000 if container.duration else 0.0
