"""decode_file on real awkward inputs: 16 kHz mono float32, or an AudioError naming the file."""

from __future__ import annotations

import errno
import wave
from pathlib import Path

import numpy as np
import pytest

from stt_studio import progress
from stt_studio.audio import decode as decode_module
from stt_studio.audio.decode import decode_file
from stt_studio.domain import SAMPLE_RATE_HZ, NoteKind, ProgressEvent
from stt_studio.errors import AudioError, FileLockedError, PermissionDeniedError
from tests.conftest import SHARED_AUDIO, Clip, load_manifest

MUST_FAIL = {"evil_corrupt.wav", "null_zero_samples.wav"}
CONTAINERS = ("aac", "aiff", "flac", "mp3", "mp4", "ogg", "wav", "webm")
FORMATS_DIR = SHARED_AUDIO / "D_awkward" / "formats"
# Decoders differ by a frame or two at the ends (codec priming, a short last frame).
DURATION_TOLERANCE_S = 0.05


def _group_d() -> list[Clip]:
    if not (SHARED_AUDIO / "manifest.jsonl").is_file():
        return []
    return [clip for clip in load_manifest() if clip.group == "D"]


GROUP_D = _group_d()


def _id(clip: Clip) -> str:
    return str(clip.path.relative_to(SHARED_AUDIO / "D_awkward"))


def assert_clean_audio(audio, path: Path) -> None:
    assert audio.sample_rate_hz == SAMPLE_RATE_HZ
    assert audio.samples.dtype == np.float32
    assert audio.samples.ndim == 1
    assert audio.samples.size > 0
    assert np.all(np.isfinite(audio.samples))
    assert np.abs(audio.samples).max() > 0, "decoded to silence"
    assert audio.source == path


def test_manifest_has_the_expected_group_d(manifest):
    names = {clip.path.name for clip in manifest if clip.group == "D"}
    assert MUST_FAIL <= names
    assert {f"p001.{ext}" for ext in CONTAINERS} <= names
    assert len([c for c in manifest if c.group == "D"]) == 29


@pytest.mark.parametrize("clip", GROUP_D, ids=_id)
def test_group_d_decodes_or_raises_a_readable_audio_error(clip: Clip):
    assert clip.path.is_file()
    if clip.path.name in MUST_FAIL:
        with pytest.raises(AudioError) as info:
            decode_file(clip.path)
        text = info.value.render()
        assert str(clip.path) in text
        assert text.startswith("Cannot read the audio: ")
        assert "What to do:" in text or "Likely causes:" in text
        return
    audio = decode_file(clip.path)
    assert_clean_audio(audio, clip.path)
    if clip.duration_s is not None and clip.path.suffix != ".aac":
        # (raw ADTS .aac has no length field: its manifest duration is a bitrate estimate,
        # checked against its siblings below instead)
        assert audio.duration_s == pytest.approx(clip.duration_s, abs=DURATION_TOLERANCE_S)


def test_the_eight_containers_decode_to_the_same_recording():
    reference = decode_file(FORMATS_DIR / "p001.wav").samples
    ref_rms = float(np.sqrt(np.mean(reference**2)))
    for ext in CONTAINERS:
        path = FORMATS_DIR / f"p001.{ext}"
        audio = decode_file(path)
        assert_clean_audio(audio, path)
        assert audio.duration_s == pytest.approx(len(reference) / SAMPLE_RATE_HZ,
                                                 abs=DURATION_TOLERANCE_S), ext
        rms = float(np.sqrt(np.mean(audio.samples**2)))
        assert rms == pytest.approx(ref_rms, rel=0.10), ext  # lossy codecs, same loudness


def test_healthy_files_report_no_skipped_audio(jfk):
    # gaps in packet timestamps count as skipped audio: none may show in a whole file
    # (MP4 priming, Ogg granules, MP3 and raw AAC timing included)
    events: list[ProgressEvent] = []
    with progress.job(events.append):
        for clip in GROUP_D:
            if clip.path.name not in MUST_FAIL:
                decode_file(clip.path)
        decode_file(jfk)
    assert [e.note for e in events if e.note is not None
            and e.note.kind is NoteKind.SKIPPED_AUDIO] == []


def test_stereo_is_mixed_down_from_both_channels():
    path = SHARED_AUDIO / "D_awkward" / "stereo_diarization.wav"  # one utterance per channel
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, 16_000)
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    left, right = (raw.reshape(-1, 2).astype(np.float32) / 32768.0).T
    mono = decode_file(path).samples
    assert len(mono) == len(left)
    both = left + right
    gain = float(np.dot(mono, both) / np.dot(both, both))
    # FFmpeg's stereo->mono mix (what faster-whisper uses too): (L+R) times a fixed gain
    assert 0.5 <= gain <= 0.71
    assert np.abs(mono - gain * both).max() < 1e-4
    assert np.corrcoef(mono, left)[0, 1] > 0.3 and np.corrcoef(mono, right)[0, 1] > 0.3


def test_24_bit_and_float_wav_decode_identically():
    folder = SHARED_AUDIO / "D_awkward"
    pcm24 = decode_file(folder / "cold_corpus_24bit.wav").samples
    flt = decode_file(folder / "cold_corpus_32bit_float.wav").samples
    assert len(pcm24) == len(flt)
    assert np.abs(pcm24 - flt).max() < 1e-3


def test_8_khz_is_upsampled_to_16_khz():
    path = SHARED_AUDIO / "D_awkward" / "fsdd_8kHz" / "0_jackson_0.wav"
    with wave.open(str(path)) as w:
        assert w.getframerate() == 8000
        frames = w.getnframes()
    audio = decode_file(path)
    assert len(audio.samples) == pytest.approx(2 * frames, abs=2)


def test_44_1_khz_stereo_is_resampled():
    path = FORMATS_DIR / "p001.wav"
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels()) == (44_100, 2)
        seconds = w.getnframes() / 44_100
    assert decode_file(path).duration_s == pytest.approx(seconds, abs=1e-3)


# -- inputs that are not recordings ----------------------------------------------------------

def _assert_audio_error_names(path: Path, phrase: str) -> AudioError:
    with pytest.raises(AudioError) as info:
        decode_file(path)
    err = info.value
    assert phrase in err.summary
    assert str(path) in err.render()
    assert str(path) in err.paths
    return err


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    _assert_audio_error_names(path, "empty (0 bytes)")


def test_text_file_renamed_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("Meeting notes: buy milk.\n" * 20, encoding="utf-8")
    err = _assert_audio_error_names(path, "could not be decoded")
    assert err.detail  # the decoder's own words are kept for --debug readers


def test_missing_path(tmp_path):
    _assert_audio_error_names(tmp_path / "nope.flac", "does not exist")


def test_directory(tmp_path):
    folder = tmp_path / "recording.wav"
    folder.mkdir()
    _assert_audio_error_names(folder, "folder, not a recording")


def test_truncated_wav_gives_audio_or_audio_error(tmp_path):
    source = (FORMATS_DIR / "p001.wav").read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(source[: len(source) // 3])  # header claims more than is there
    try:
        audio = decode_file(path)
    except AudioError as err:
        assert str(path) in err.render()
    else:
        assert_clean_audio(audio, path)
        assert audio.duration_s == pytest.approx(9.0 / 3, abs=0.1)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.mp3"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(AudioError) as info:
        decode_file(path)
    assert str(path) in info.value.render()


def test_video_without_sound(tmp_path):
    import av

    path = tmp_path / "silent-film.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    _assert_audio_error_names(path, "no audio track")


# -- OS errors while opening: translated, not reported as a broken recording ----------------

def _open_raising(exc: OSError):
    import av

    def fake_open(*args, **kwargs):
        raise exc

    return av, fake_open


def test_permission_error_while_reading_is_permission_denied(monkeypatch, tmp_path):
    path = FORMATS_DIR / "p001.wav"
    av, fake_open = _open_raising(PermissionError(errno.EACCES, "Permission denied", str(path)))
    monkeypatch.setattr(av, "open", fake_open)
    with pytest.raises(PermissionDeniedError) as info:
        decode_file(path, cache_dir=tmp_path)
    assert str(path) in info.value.render()


def test_locked_file_while_reading_is_file_locked(monkeypatch, tmp_path):
    path = FORMATS_DIR / "p001.wav"
    exc = PermissionError(13, "The process cannot access the file because it is being used by "
                              "another process", str(path))
    av, fake_open = _open_raising(exc)
    monkeypatch.setattr(av, "open", fake_open)
    with pytest.raises(FileLockedError) as info:
        decode_file(path, cache_dir=tmp_path)
    text = info.value.render()
    assert str(path) in text and str(tmp_path) in text


def test_module_never_lets_decoder_errors_escape(monkeypatch):
    path = FORMATS_DIR / "p001.wav"
    def exploding(container, stream, tally):
        yield from ()
        raise RuntimeError("codec exploded")

    monkeypatch.setattr(decode_module.AudioStream, "_pieces", staticmethod(exploding))
    with pytest.raises(AudioError) as info:
        decode_file(path)
    assert "codec exploded" in info.value.render()
