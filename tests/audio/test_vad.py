"""Speech only: Silero VAD (faster-whisper's) gates the engine, so silence gives no words.

The recordings are assembled at test time: JFK's 11 s, a 30 s pause (digital
silence or a quiet room at -60 dBFS), JFK again; 20 s of near-silence alone; a
0.44 s spoken digit at the very start of a file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stt_studio.audio import vad
from stt_studio.domain import SAMPLE_RATE_HZ
from stt_studio.evaluation import normalize_text
from tests.support.longaudio import (
    DIGIT_SEVEN,
    JFK,
    low_noise,
    silence,
    speech,
    words_of,
    write_wav,
)

pytestmark = pytest.mark.slow  # tiny.en, loaded once for the session

PAUSE_S = 30.0
#: word times may reach this far into a pause (Whisper's word edges are approximate)
EDGE_S = 0.2


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    for source in (JFK, DIGIT_SEVEN):
        if not source.is_file():
            pytest.skip(f"{source} not found")
    return tmp_path_factory.mktemp("vad")


# -- the detector itself ------------------------------------------------------------------

def test_near_silence_holds_no_speech():
    quiet = np.concatenate(list(low_noise(20.0, seed=1)))
    assert vad.detect_speech(quiet, max_span_s=30.0) == ()
    assert vad.detect_speech(np.zeros(10 * SAMPLE_RATE_HZ, np.float32), max_span_s=30.0) == ()
    assert vad.detect_speech(np.zeros(0, np.float32), max_span_s=30.0) == ()


def test_spans_stay_inside_the_audio_and_within_max_span():
    samples = speech(JFK)
    spans = vad.detect_speech(samples, max_span_s=4.0)
    assert spans
    for a, b in zip(spans, spans[1:]):
        assert a.end_sample <= b.start_sample
    for span in spans:
        assert 0 <= span.start_sample < span.end_sample <= len(samples)
        assert span.length <= 4.0 * SAMPLE_RATE_HZ + 2 * vad.SPEECH_PAD_MS * 16


def _longest_left_out_s(spans, a: int, b: int) -> float:
    """The longest stretch of samples [a, b) in no span."""
    longest, at = 0, a
    for span in (*spans, vad.Span(b, b)):
        if span.end_sample <= a:
            continue
        longest, at = max(longest, min(span.start_sample, b) - at), max(at, span.end_sample)
    return longest / SAMPLE_RATE_HZ


def test_a_quiet_voice_after_a_loud_one_is_heard_afresh(monkeypatch):
    """Silero carries what it heard: a hoarse speaker (the shared "cold" corpus, 25.7 s)
    right after a LibriSpeech reader scores under the threshold for most of the turn,
    unless the long pause it leaves is listened to again on its own."""
    from tests.support import conversations

    talk = conversations.spoken(1)
    turn = next(t for t in talk.turns if t.text.startswith("uh so this is the sick corpus"))
    start = int((turn.start_s - 5.0) * SAMPLE_RATE_HZ)
    samples = talk.samples[start:int(turn.end_s * SAMPLE_RATE_HZ)]
    a, b = 5 * SAMPLE_RATE_HZ, len(samples)
    alone = _longest_left_out_s(vad.detect_speech(samples[a:], max_span_s=30.0), 0, b - a)
    assert alone < 2.0
    assert _longest_left_out_s(vad.detect_speech(samples, max_span_s=30.0), a, b) < 3.5
    monkeypatch.setattr(vad, "RELISTEN_S", float("inf"))  # one pass, as Silero gives it
    assert _longest_left_out_s(vad.detect_speech(samples, max_span_s=30.0), a, b) > 6.0


def test_a_digit_at_the_very_start_is_speech():
    """A 0.44 s "seven" at sample 0: Silero needs context before it (the lead-in)."""
    samples = speech(DIGIT_SEVEN)
    assert len(samples) < 0.5 * SAMPLE_RATE_HZ
    spans = vad.detect_speech(samples, max_span_s=30.0)
    assert spans and spans[0].start_sample == 0


# -- through the studio -------------------------------------------------------------------

def test_near_silence_alone_gives_no_words(session_studio, folder):
    path = folder / "near_silence.wav"
    write_wav(path, [low_noise(20.0, dbfs=-60.0, seed=2)])
    transcript = session_studio.transcribe_file(path, "tiny.en").transcript
    assert transcript.segments == ()
    assert transcript.text == ""
    assert transcript.duration_s == pytest.approx(20.0)


@pytest.mark.parametrize("pause", ["digital silence", "low noise"])
def test_a_30_s_pause_inside_speech_gives_no_words_inside_it(session_studio, folder, pause):
    jfk = speech(JFK)
    quiet = silence(PAUSE_S) if pause == "digital silence" else low_noise(PAUSE_S, seed=3)
    path = folder / f"jfk_pause_jfk_{pause.replace(' ', '_')}.wav"
    write_wav(path, [jfk, quiet, jfk])
    pause_start_s = len(jfk) / SAMPLE_RATE_HZ
    pause_end_s = pause_start_s + PAUSE_S

    transcript = session_studio.transcribe_file(path, "tiny.en").transcript
    words = [t.word for t in words_of(transcript.segments)]
    inside = [w for w in words
              if w.end_s > pause_start_s + EDGE_S and w.start_s < pause_end_s - EDGE_S]
    assert inside == [], f"words heard in the pause: {inside}"
    for seg in transcript.segments:  # no segment spans the pause either
        assert not (seg.start_s < pause_start_s and seg.end_s > pause_end_s), seg
    # and the speech on both sides is heard
    before = [w for w in words if w.end_s <= pause_start_s + EDGE_S]
    after = [w for w in words if w.start_s >= pause_end_s - EDGE_S]
    for side in (before, after):
        heard = normalize_text(" ".join(w.text for w in side)).split()
        assert heard.count("country") == 2, heard


def test_a_digit_at_the_very_start_of_a_file_is_heard(session_studio):
    transcript = session_studio.transcribe_file(DIGIT_SEVEN, "tiny.en").transcript
    heard = normalize_text(transcript.text).split()
    assert "seven" in heard or "7" in heard, transcript.text


def test_a_whisper_is_heard_on_a_second_listen(session_studio):
    """Silero scores this whisper 0.41: under the usual threshold, above the quiet one."""
    from stt_studio.audio.decode import decode_file

    whisper = Path(__file__).resolve().parents[2].parent / "shared" / "audio" / "D_awkward" \
        / "voice_quality" / "mfa_whisper.flac"
    if not whisper.is_file():
        pytest.skip(f"{whisper} not found")
    samples = decode_file(whisper).samples
    assert vad.detect_speech(samples, max_span_s=30.0) == ()  # the first listen hears nothing
    assert vad.detect_speech(samples, max_span_s=30.0, threshold=vad.QUIET_THRESHOLD)
    text = normalize_text(session_studio.transcribe_file(whisper).transcript.text)
    assert "montreal" in text.split(), text
