"""Decode any container/codec PyAV reads into 16 kHz mono float32.

PyAV bundles FFmpeg's libraries, so no ``ffmpeg`` binary is needed (the same
choice faster-whisper makes). Every failure becomes an :class:`AudioError`
naming the file; nothing here crashes on a bad input.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Iterator
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
#: decoded frames are handed on in pieces of about this many samples
PIECE_SAMPLES = SAMPLE_RATE_HZ


def decode_file(path: Path, *, cache_dir: Path | str = "", retrier: Retrier | None = None) -> Audio:
    """Read ``path`` and return its first audio stream as mono 16 kHz float32.

    Damaged packets are skipped (as faster-whisper skips invalid frames) and
    reported as a note saying how much was lost; only a file from which
    nothing decodes is an error. Opening a locked file is retried. Long
    recordings should go through :class:`AudioStream` instead, which never
    holds the whole file.
    """
    with AudioStream(path, cache_dir=cache_dir, retrier=retrier) as stream:
        pieces = list(stream.chunks())
    samples = np.concatenate(pieces).astype(np.float32, copy=False)
    return Audio(samples=samples, sample_rate_hz=SAMPLE_RATE_HZ, source=Path(path))


class AudioStream:
    """A recording decoded piece by piece, so memory does not grow with its length.

    ``with AudioStream(path) as stream: for samples in stream.chunks(): ...``
    Every failure is an :class:`AudioError` (or a translated file error) naming
    the file, raised where it happens: when opening, or while iterating.
    ``declared_s`` is the length the container states (0.0: unknown).
    """

    def __init__(self, path: Path | str, *, cache_dir: Path | str = "",
                 retrier: Retrier | None = None) -> None:
        self.path = Path(path)
        self.cache_dir = cache_dir or self.path.parent
        self.retrier = retrier or Retrier()
        self.declared_s = 0.0
        self.decoded_s = 0.0
        self._container: av.container.InputContainer | None = None
        self._stream: av.AudioStream | None = None

    def __enter__(self) -> AudioStream:
        path = self.path
        if not path.exists():
            raise AudioError(
                f"the file does not exist: {path}",
                causes=("The path is misspelled, or the file was moved or deleted",),
                remedies=("Check the path and try again",),
                paths=(path,),
            )
        if path.is_dir():
            raise AudioError(f"this is a folder, not a recording: {path}", paths=(path,))
        with self._translated():
            size = self.retrier.run(lambda: path.stat().st_size, f"read {path}")
            if size == 0:
                raise AudioError(
                    f"the file is empty (0 bytes): {path}",
                    causes=("The recording was interrupted or the copy did not finish",),
                    paths=(path,),
                )
            self._open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def _open(self) -> None:
        import av  # lazy: PyAV loads the FFmpeg libraries

        path = self.path
        # FFmpeg reports a file another program holds as a bare EACCES; Python's own
        # open says WinError 32, so a lock is recognised (and waited out) here first
        self.retrier.run(lambda: open(path, "rb").close(), f"read {path}")
        container = av.open(str(path), mode="r", metadata_errors="ignore")
        streams = container.streams.audio
        if not streams:
            container.close()
            raise AudioError(
                f"the file has no audio track: {path}",
                causes=("It is a video without sound, an image, or not media at all",),
                paths=(path,),
            )
        self._container, self._stream = container, streams[0]
        self._stream.codec_context.thread_type = "AUTO"
        self.declared_s = _declared_s(container, self._stream)

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        path = self.path
        try:
            yield
        except StudioError:
            raise
        except OSError as exc:
            if isinstance(exc, (PermissionError, FileNotFoundError)) or exc.errno in (13, 2) \
                    or is_lock_error(exc):
                raise translate_os_error(exc, action="read the recording", path=path,
                                         cache_dir=self.cache_dir) from exc
            # PyAV raises FFmpeg open failures as OSError subclasses (av.error.*)
            raise AudioError(f"the file could not be decoded: {path}", paths=(path,),
                             detail=f"{type(exc).__name__}: {exc}") from exc
        except (ValueError, RuntimeError, EOFError, IndexError) as exc:
            raise AudioError(f"the file could not be decoded: {path}", paths=(path,),
                             detail=f"{type(exc).__name__}: {exc}") from exc

    def chunks(self) -> Iterator[np.ndarray]:
        """Mono 16 kHz float32 pieces in order (a few thousand samples each)."""
        if self._container is None or self._stream is None:
            raise RuntimeError("use AudioStream as a context manager")
        tally = _Tally()
        pieces = self._pieces(self._container, self._stream, tally)
        while True:
            with self._translated():
                try:
                    piece = next(pieces)
                except StopIteration:
                    break
            if not tally.warned_non_finite and not np.all(np.isfinite(piece)):
                log.warning("%s: non-finite samples replaced by 0", self.path)
                tally.warned_non_finite = True
            if tally.warned_non_finite:
                piece = np.nan_to_num(piece, nan=0.0, posinf=0.0, neginf=0.0)
            tally.samples += len(piece)
            self.decoded_s = tally.samples / SAMPLE_RATE_HZ
            yield piece
        self._finish(tally)

    def _finish(self, tally: _Tally) -> None:
        path = self.path
        if not tally.decoded_frames:  # nothing, or only stand-ins for damaged parts
            if tally.skipped or self.declared_s > 0:
                found = (f"{tally.skipped} damaged part(s)" if tally.skipped
                         else f"its header promises {self.declared_s:.1f} s")
                raise AudioError(
                    f"no part of the file could be decoded ({found}): {path}",
                    paths=(path,), detail=tally.first_error,
                )
            raise AudioError(
                f"the file holds no audio samples: {path}",
                causes=("The recording is empty (0 seconds long)",),
                remedies=("Record again, or check that the right file was chosen",),
                paths=(path,),
            )
        if tally.skipped or tally.stopped_early:
            # packets an MP3 demuxer skips leave no gap in its timestamps: once damage
            # is seen, the declared length sizes the loss (never used to detect it, as
            # the length of a VBR MP3 or raw AAC is only an estimate)
            skipped_s = max(tally.skipped_s, self.declared_s - self.decoded_s)
            lost = f"about {skipped_s:.1f} s" if skipped_s else "a little audio"
            ending = " and the end of the file could not be read" if tally.stopped_early else ""
            progress.note(
                NoteKind.SKIPPED_AUDIO,
                f"{path.name}: skipped {tally.skipped} damaged part(s) ({lost}){ending}; "
                "the rest was transcribed",
                logger=log,
            )

    @staticmethod
    def _pieces(container: av.container.InputContainer, stream: av.AudioStream,
                tally: _Tally) -> Iterator[np.ndarray]:
        """The decoded frames joined into pieces of about a second (fewer, cheaper hops)."""
        pending: list[np.ndarray] = []
        size = 0
        for frame in AudioStream._frames(container, stream, tally):
            pending.append(frame)
            size += len(frame)
            if size >= PIECE_SAMPLES:
                yield pending[0] if len(pending) == 1 else np.concatenate(pending)
                pending, size = [], 0
        if pending:
            yield pending[0] if len(pending) == 1 else np.concatenate(pending)

    @staticmethod
    def _frames(container: av.container.InputContainer, stream: av.AudioStream,
                tally: _Tally) -> Iterator[np.ndarray]:
        import av

        # float arithmetic: Fractions cost a fifth of the decoding time on small packets
        time_base_s = float(stream.time_base) if stream.time_base else 0.0
        next_pts_s: float | None = None  # where the next packet should start
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
                if not tally.decoded_frames:
                    raise
                tally.stopped_early = True
                tally.first_error = tally.first_error or f"{type(exc).__name__}: {exc}"
                break
            # a demuxer that resyncs past garbage (FLAC, Ogg) drops packets silently:
            # the jump in their timestamps is the audio lost
            if packet.pts is not None and time_base_s:
                start_s = packet.pts * time_base_s
                if next_pts_s is not None and start_s - next_pts_s > GAP_TOLERANCE_S:
                    tally.skipped += 1
                    tally.skipped_s += start_s - next_pts_s
                    yield _silence(start_s - next_pts_s)  # keep later times true
                    tally.first_error = tally.first_error or (
                        f"{start_s - next_pts_s:.2f} s missing at {next_pts_s:.2f} s")
                next_pts_s = (start_s + packet.duration * time_base_s
                              if packet.duration else None)  # no length: no expectation
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                tally.skipped += 1
                tally.first_error = tally.first_error or f"{type(exc).__name__}: {exc}"
                if packet.duration and time_base_s:
                    lost_s = packet.duration * time_base_s
                    tally.skipped_s += lost_s
                    yield _silence(lost_s)  # subtitles after it stay in sync
                continue
            for frame in frames:
                tally.decoded_frames += 1
                frame.pts = None  # let the resampler time frames by their sample count
                for out in resampler.resample(frame):
                    yield out.to_ndarray().reshape(-1)
        for out in resampler.resample(None):
            yield out.to_ndarray().reshape(-1)


@dataclass(slots=True)
class _Tally:
    """What one pass over a recording met (mutable, private to this module)."""

    samples: int = 0
    decoded_frames: int = 0
    skipped: int = 0
    skipped_s: float = 0.0
    stopped_early: bool = False  # the container could not be read to its end
    first_error: str | None = None
    warned_non_finite: bool = False


def _silence(seconds: float) -> np.ndarray:
    """Stands in for audio that could not be decoded, so later timestamps stay true."""
    return np.zeros(max(int(round(seconds * SAMPLE_RATE_HZ)), 0), dtype=np.float32)


def _declared_s(container: av.container.InputContainer, stream: av.AudioStream) -> float:
    """The stream's length as its headers state it, in seconds (0.0 when not stated)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / 1_000_000 if container.duration else 0.0
