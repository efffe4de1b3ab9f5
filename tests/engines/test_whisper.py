"""Whisper tiny.en (bundled) through faster-whisper on real speech: invariants and a WER bound.

The model loads once for the session (``session_studio``); group A is
transcribed once for this module and every test reads those results.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stt_studio.domain import Task, Transcript, TranscriptionOptions
from stt_studio.errors import AudioError, InvalidOptionError
from stt_studio.evaluation import NORMALIZER_NAME, normalize_text, word_error_rate
from tests.conftest import SHARED_AUDIO, Clip

pytestmark = pytest.mark.slow

# Measured on this corpus (46 clips, 1029 reference words): 68 errors, WER 6.6%
# with the "lowercase+strip-punctuation" normalizer (tiny.en int8 on CPU, beam 5).
# Most errors are LJ Speech's spelled-out numbers ("fourteen fifty five" vs "1455").
WER_BOUND = 0.09
JFK = SHARED_AUDIO / "A_short_en" / "jfk" / "jfk.flac"
# Whisper's segment/word times come from 20 ms frames and token alignment
TIME_SLACK_S = 0.3


@pytest.fixture(scope="module")
def group_a(manifest, session_studio) -> list[tuple[Clip, Transcript]]:
    clips = [clip for clip in manifest if clip.group == "A"]
    assert len(clips) == 46
    results = []
    for clip in clips:
        result = session_studio.transcribe_file(clip.path, "tiny.en")
        assert result.device == "cpu"
        assert result.elapsed_s > 0
        results.append((clip, result.transcript))
    return results


def assert_transcript_invariants(transcript: Transcript, duration_s: float | None) -> None:
    assert transcript.model == "tiny.en"
    assert transcript.language == "en"
    if duration_s is not None:
        assert transcript.duration_s == pytest.approx(duration_s, abs=0.05)
    assert transcript.text == " ".join(s.text for s in transcript.segments)
    previous_start = 0.0
    previous_end = 0.0
    for seg in transcript.segments:
        assert seg.text and seg.text == seg.text.strip()
        assert 0.0 <= seg.start_s <= seg.end_s <= transcript.duration_s
        assert seg.start_s >= previous_start, "segments out of order"
        assert seg.start_s >= previous_end - TIME_SLACK_S, "segments overlap"
        previous_start, previous_end = seg.start_s, seg.end_s
        last_word_start = seg.start_s - TIME_SLACK_S
        for word in seg.words:
            assert word.text
            assert 0.0 <= word.start_s <= word.end_s <= transcript.duration_s
            assert word.start_s >= seg.start_s - TIME_SLACK_S
            assert word.end_s <= seg.end_s + TIME_SLACK_S
            assert word.start_s >= last_word_start, "words out of order"
            last_word_start = word.start_s
        if seg.words:
            # the words spell out the segment
            assert normalize_text(" ".join(w.text for w in seg.words)) == normalize_text(seg.text)


def test_corpus_wer_on_group_a(group_a):
    result = word_error_rate((clip.text, transcript.text) for clip, transcript in group_a)
    assert result.normalizer == NORMALIZER_NAME == "lowercase+strip-punctuation"
    assert result.reference_words > 1000
    print(f"\ntiny.en WER on group A ({NORMALIZER_NAME}): {result.wer:.2%} "
          f"({result.errors}/{result.reference_words})")
    assert result.wer <= WER_BOUND


def test_every_group_a_clip_keeps_the_invariants(group_a):
    for clip, transcript in group_a:
        assert transcript.segments, f"{clip.path.name}: no speech found in a speech clip"
        assert any(seg.words for seg in transcript.segments), clip.path.name
        try:
            assert_transcript_invariants(transcript, clip.duration_s)
        except AssertionError as exc:
            raise AssertionError(f"{clip.path}: {exc}") from exc


def test_no_clip_is_badly_wrong(group_a):
    # a corpus bound can hide one broken file (e.g. a channel or sample-rate bug)
    for clip, transcript in group_a:
        wer = word_error_rate([(clip.text, transcript.text)]).wer
        assert wer < 0.5, f"{clip.path.name}: WER {wer:.0%}: {transcript.text!r}"


def test_jfk(session_studio):
    result = session_studio.transcribe_file(JFK)
    text = normalize_text(result.transcript.text)
    assert "ask not what your country can do for you" in text
    assert result.transcript.duration_s == pytest.approx(11.0, abs=0.05)
    assert result.speed_x > 1.0  # faster than real time even on 2 cores


def test_options_are_honoured(session_studio):
    no_words = session_studio.transcribe_file(
        JFK, "tiny.en", TranscriptionOptions(language="en", word_timestamps=False, beam_size=1)
    ).transcript
    assert no_words.segments and all(seg.words == () for seg in no_words.segments)
    assert no_words.language == "en"
    assert "country" in no_words.text.lower()


@pytest.mark.parametrize("language", ["de", "fr", "zh"])
def test_other_language_with_tiny_en_is_an_invalid_option(session_studio, language):
    with pytest.raises(InvalidOptionError) as info:
        session_studio.transcribe_file(JFK, "tiny.en", TranscriptionOptions(language=language))
    text = info.value.render()
    assert f"{language!r}" in text and "tiny.en" in text
    assert "en" in text  # it says which language works


def test_translation_with_tiny_en_is_an_invalid_option(session_studio):
    with pytest.raises(InvalidOptionError) as info:
        session_studio.transcribe_file(JFK, "tiny.en", TranscriptionOptions(task=Task.TRANSLATE))
    text = info.value.render()
    assert "cannot translate" in text
    assert "faster-whisper-small" in text  # names a model that can


def test_whisper_translates_into_english_only(session_studio):
    with pytest.raises(InvalidOptionError) as info:
        session_studio.transcribe_file(
            JFK, "tiny.en", TranscriptionOptions(task=Task.TRANSLATE, target_language="de"))
    assert "English only" in info.value.render() and "Canary" in info.value.render()


@pytest.fixture(scope="module")
def group_d(manifest, session_studio) -> dict[str, tuple[Clip, Transcript | AudioError]]:
    outcomes: dict[str, tuple[Clip, Transcript | AudioError]] = {}
    for clip in (c for c in manifest if c.group == "D"):
        key = str(clip.path.relative_to(SHARED_AUDIO / "D_awkward"))
        try:
            outcomes[key] = (clip, session_studio.transcribe_file(clip.path).transcript)
        except AudioError as err:  # anything else fails the test
            outcomes[key] = (clip, err)
    return outcomes


def test_group_d_gives_a_transcript_or_an_audio_error(group_d):
    assert len(group_d) == 29
    failed = {key for key, (_, out) in group_d.items() if isinstance(out, AudioError)}
    assert failed == {"evil_corrupt.wav", "null_zero_samples.wav"}
    for key, (clip, out) in group_d.items():
        if isinstance(out, AudioError):
            assert str(clip.path) in out.render()
            continue
        if clip.duration_s is not None and clip.path.suffix != ".aac":
            assert out.duration_s == pytest.approx(clip.duration_s, abs=0.05), key
        try:
            assert_transcript_invariants(out, None)
        except AssertionError as exc:
            raise AssertionError(f"{clip.path}: {exc}") from exc


def test_the_same_speech_in_eight_containers_reads_the_same(group_d):
    texts = {key: normalize_text(out.text) for key, (_, out) in group_d.items()
             if key.startswith("formats/") and isinstance(out, Transcript)}
    assert len(texts) == 8
    reference = texts["formats/p001.wav"]
    assert len(reference.split()) >= 10
    for key, text in texts.items():
        wer = word_error_rate([(reference, text)]).wer
        assert wer <= 0.25, f"{key}: {text!r} vs wav {reference!r}"


def test_a_missing_file_is_an_audio_error_not_a_crash(session_studio, tmp_path):
    with pytest.raises(AudioError):
        session_studio.transcribe_file(Path(tmp_path / "missing.wav"))
