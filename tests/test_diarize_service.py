"""Who said what through the studio: Studio.transcribe_file(..., diarize=True) with tiny.en.

Real parts only: the bundled Whisper tiny.en, the studio's GE2E encoder (bundled weights),
conversations built from the shared clips (tests/diarize/cases.py) and the
awkward files of group D.
"""

from __future__ import annotations

import threading
import wave

import numpy as np
import pytest

from stt_studio import progress as job_progress
from stt_studio.domain import ProgressEvent, Stage, TranscriptionOptions
from stt_studio.errors import JobCancelled
from tests.conftest import SHARED_AUDIO
from tests.diarize.cases import conversation, speakers_of, word_agreement, write_wav
from tests.support.conversations import RefTurn, build, trimmed

pytestmark = pytest.mark.slow

MODEL = "tiny.en"
MIN_WORD_AGREEMENT = 0.85


@pytest.fixture(scope="module")
def studio(session_studio):
    session_studio.load(MODEL)
    return session_studio


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("conversations")
    out = {n: write_wav(conversation(n).samples, folder / f"conv{n}.wav") for n in (2, 3, 4)}
    short = build([("mfa", 5.0), ("lj", 5.0), ("mfa", 4.0), ("lj", 4.0)], seed=5)
    out["short"] = write_wav(short.samples, folder / "short2.wav")
    out["short_turns"] = short.turns
    out["silent"] = write_wav(short.samples[:16_000 * 4] * 0, folder / "silent.wav")
    return out


def diarized(studio, path, **options):
    return studio.transcribe_file(path, MODEL, TranscriptionOptions(diarize=True, **options))


def labelled_throughout(transcript) -> None:
    """Every segment and word carries a speaker; a segment never holds two."""
    assert transcript.segments
    for segment in transcript.segments:
        assert segment.speaker is not None and segment.speaker.startswith("SPEAKER_")
        assert {w.speaker for w in segment.words} <= {segment.speaker}
    first_seen: list[str] = []
    for segment in transcript.segments:
        if segment.speaker not in first_seen:
            first_seen.append(str(segment.speaker))
    assert first_seen == [f"SPEAKER_{i + 1}" for i in range(len(first_seen))]


@pytest.mark.parametrize("speakers", [2, 3, 4])
def test_words_carry_the_speaker_of_the_turn_they_fall_in(studio, wavs, speakers):
    result = diarized(studio, wavs[speakers])
    transcript = result.transcript
    labelled_throughout(transcript)
    agreement, words = word_agreement(transcript, conversation(speakers).turns)
    print(f"{speakers} speakers: {words} words, {agreement:.1%} with the reference speaker, "
          f"{result.elapsed_s:.1f} s")
    assert words > 60
    assert len(speakers_of(transcript)) == speakers
    assert agreement >= MIN_WORD_AGREEMENT


def test_a_count_given_is_the_count_in_the_transcript(studio, wavs):
    transcript = diarized(studio, wavs[3], speakers=2).transcript
    labelled_throughout(transcript)
    assert speakers_of(transcript) == {"SPEAKER_1", "SPEAKER_2"}


def test_one_reader_gives_one_speaker(studio, manifest):
    clip = next(c for c in manifest if "LJ001-0001" in c.path.name)
    transcript = diarized(studio, clip.path).transcript
    labelled_throughout(transcript)
    assert speakers_of(transcript) == {"SPEAKER_1"}


def test_without_the_vad_speakers_are_still_found(studio, wavs):
    transcript = diarized(studio, wavs["short"], vad=False).transcript
    labelled_throughout(transcript)
    agreement, _ = word_agreement(transcript, wavs["short_turns"])
    assert len(speakers_of(transcript)) == 2
    assert agreement >= MIN_WORD_AGREEMENT


def test_words_not_wanted_are_dropped_after_labelling(studio, wavs):
    transcript = diarized(studio, wavs["short"], word_timestamps=False).transcript
    assert transcript.segments and all(s.words == () for s in transcript.segments)
    assert len(speakers_of(transcript)) == 2
    # segments were split where the speaker changes: each lies in one reference turn's speaker
    names = {}
    for segment in transcript.segments:
        middle = (segment.start_s + segment.end_s) / 2
        turn = min(wavs["short_turns"], key=lambda t: max(t.start_s - middle, middle - t.end_s, 0))
        names.setdefault(segment.speaker, set()).add(turn.speaker)
    assert all(len(voices) == 1 for voices in names.values()), names


def test_not_diarized_means_no_speakers(studio, wavs):
    transcript = studio.transcribe_file(wavs["short"], MODEL, TranscriptionOptions()).transcript
    assert transcript.segments
    assert speakers_of(transcript) == {None}
    assert {w.speaker for s in transcript.segments for w in s.words} == {None}


def test_silence_gives_an_empty_transcript(studio, wavs):
    transcript = diarized(studio, wavs["silent"]).transcript
    assert transcript.segments == () and transcript.text == ""
    assert transcript.duration_s == pytest.approx(4.0, abs=0.01)


@pytest.mark.parametrize("name", ["stereo_diarization.wav", "ami_ES2011a_headset_40-46s.wav"])
def test_the_awkward_two_speaker_files_as_they_are(studio, name):
    """One speaker is found in each as recorded, and two when two are asked for (measured).

    stereo_diarization.wav: LibriSpeech 61 on the left, 260 on the right, talking AT THE
    SAME TIME for the first 2.5 s, then the left alone to 4.5 s. Mixed to mono, no window
    holds the right-hand reader alone (6 windows in all): there is no second voice to
    count. ami_ES2011a 40-46 s: the only speech the VAD passes on is one introduction
    ("I'm Abigail Claflin … you can call me Abbie", 1.5-4.6 s, 3 windows); the other
    person is not heard. Fewer windows than two speakers' worth (MIN_CLUSTER_WINDOWS
    each) are one speaker unless a count is given; given 2, they are split.
    """
    path = SHARED_AUDIO / "D_awkward" / name
    transcript = diarized(studio, path).transcript
    labelled_throughout(transcript)
    assert speakers_of(transcript) == {"SPEAKER_1"}
    forced = diarized(studio, path, speakers=2).transcript
    labelled_throughout(forced)
    assert speakers_of(forced) == {"SPEAKER_1", "SPEAKER_2"}
    assert forced.text == transcript.text  # speakers never change the words


def stereo_channels() -> tuple[np.ndarray, np.ndarray]:
    with wave.open(str(SHARED_AUDIO / "D_awkward" / "stereo_diarization.wav")) as w:
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    left, right = (raw.reshape(-1, 2).astype(np.float32) / 32768.0).T
    return trimmed(left), trimmed(right)


def test_the_stereo_file_s_two_readers_one_after_the_other(studio, tmp_path):
    """The stereo file's channels laid one after the other, so each reader is heard alone:
    LibriSpeech 61 (the left channel, 4.9 s, 6 windows), a 0.8 s pause, LibriSpeech 260
    (the right channel, 2.2 s: all there is of him, 2 windows).

    Found without a count: one speaker. 2.2 s is under MIN_CLUSTER_WINDOWS (about 4 s),
    what the studio takes for a cough or a word thrown in rather than a person; two
    turns of his would be two (the leave-voices-out conversations, turns from 1.5 s,
    tests/diarize/test_unseen_voices.py). Repeating his 2.2 s to make more of him does
    not make a fair test: copies hold the same samples, and the copies of one utterance's
    start and of its end come out as two "speakers". Given 2, the split falls between the
    channels: every word of each reader is his.
    """
    left, right = stereo_channels()
    pause = np.zeros(int(0.8 * 16_000), np.float32)
    reference = [RefTurn(0.8, 0.8 + len(left) / 16_000, "left")]
    right_at = reference[0].end_s + 0.8
    reference.append(RefTurn(right_at, right_at + len(right) / 16_000, "right"))
    path = write_wav(np.concatenate([pause, left, pause, right, pause]),
                     tmp_path / "two_readers_apart.wav")
    assert speakers_of(diarized(studio, path).transcript) == {"SPEAKER_1"}
    forced = diarized(studio, path, speakers=2).transcript
    labelled_throughout(forced)
    assert speakers_of(forced) == {"SPEAKER_1", "SPEAKER_2"}
    agreement, words = word_agreement(forced, reference)
    assert words >= 15 and agreement == 1.0, (agreement, words)


def test_cancelling_while_the_speakers_are_found_stops_the_job(studio, wavs):
    cancel = threading.Event()
    stages: list[Stage] = []

    def progress(event: ProgressEvent) -> None:
        stages.append(event.stage)
        if event.stage is Stage.DIARIZING:
            cancel.set()  # the user presses Cancel on "finding the speakers"

    with job_progress.job(progress, cancel), pytest.raises(JobCancelled):
        diarized(studio, wavs["short"])
    assert Stage.DIARIZING in stages
    # the studio is fine afterwards
    assert len(speakers_of(diarized(studio, wavs["short"]).transcript)) == 2
