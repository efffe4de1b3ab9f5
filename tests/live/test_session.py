"""A live session end to end: scripted decoders for the mechanics, tiny.en for real speech."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from stt_studio.domain import Segment, Word
from stt_studio.errors import AudioError, LiveLimitError, StudioError
from stt_studio.live.detector import CHUNK_SAMPLES
from stt_studio.live.session import (
    Cleared,
    Committed,
    Completed,
    Delta,
    Failed,
    Lag,
    LiveOptions,
    LiveSession,
    Problem,
    SpeechStarted,
    SpeechStopped,
)

RATE = 16_000
WORD_S = 0.5  # the scripted decoder hears one word per half second of sound


def loud_scores(samples: np.ndarray, state: list[np.ndarray]) -> list[float]:
    """Speech = a chunk louder than 0.01 RMS (a stand-in for Silero, for the mechanics);
    ``state``: the session's samples not yet scored."""
    state.append(np.asarray(samples))
    audio = np.concatenate(state)
    whole = len(audio) // CHUNK_SAMPLES * CHUNK_SAMPLES
    state[:] = [audio[whole:]]
    chunks = audio[:whole].reshape(-1, CHUNK_SAMPLES)
    return [0.9 if float(np.sqrt((c ** 2).mean())) > 0.01 else 0.05 for c in chunks]


class Scripted:
    """Words "w<n>" for each half second of sound, n counted from the session's start
    (so successive decodes agree); ``cost_s_per_s``: time a decode takes per second heard."""

    def __init__(self, cost_s_per_s: float = 0.0, fail_on: int | None = None) -> None:
        self.cost_s_per_s = cost_s_per_s
        self.calls = 0
        self.fail_on = fail_on
        self.offset = 0  # set by the test: the window's start in the session is not known here

    def decode(self, samples, *, prompt, final):
        self.calls += 1
        if self.fail_on is not None and self.calls == self.fail_on:
            raise AudioError("scripted failure")
        time.sleep(self.cost_s_per_s * len(samples) / RATE)
        words = []
        loud = np.sqrt(np.convolve(samples ** 2, np.ones(800) / 800, "same")) > 0.01
        t = 0.0
        while t + WORD_S <= len(samples) / RATE + 1e-9:
            lo, hi = int(t * RATE), int((t + WORD_S) * RATE)
            if loud[lo:hi].mean() > 0.6:
                words.append(Word(t, t + WORD_S - 0.05, f"w{round(t / WORD_S)}"))
            t += WORD_S
        if not words:
            return ()
        return (Segment(words[0].start_s, words[-1].end_s, " ".join(w.text for w in words),
                        tuple(words)),)


def talk(turns_s: list[float], gap_s: float = 1.0) -> np.ndarray:
    parts = [np.zeros(int(0.5 * RATE), np.float32)]
    for length in turns_s:
        t = np.arange(int(length * RATE)) / RATE
        parts.append((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
        parts.append(np.zeros(int(gap_s * RATE), np.float32))
    return np.concatenate(parts)


class Recorder:
    def __init__(self) -> None:
        self.events: list[object] = []
        self.lock = threading.Lock()

    def __call__(self, event: object) -> None:
        with self.lock:
            self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def feed(session: LiveSession, samples: np.ndarray, *, step_s: float = 0.1,
         pace: float | None = None) -> None:
    step = int(step_s * RATE)
    for at in range(0, len(samples), step):
        session.append(samples[at:at + step])
        if pace:
            time.sleep(step_s / pace)


def run(samples, decoder, options=None, pace=None):
    recorder = Recorder()
    session = LiveSession(decoder, options or LiveOptions(partial_every_s=0.05), recorder,
                          scores=lambda s, state=[]: loud_scores(s, state))
    feed(session, samples, pace=pace)
    segments = session.close(timeout_s=60)
    return recorder, segments


def test_deltas_are_append_only_join_to_the_completed_text_and_come_in_order():
    recorder, segments = run(talk([3.0, 2.0, 4.0]), Scripted(), pace=20)
    done = recorder.of(Completed)
    assert len(done) == 3
    for item in done:
        deltas = "".join(d.text for d in recorder.of(Delta) if d.item_id == item.item_id)
        assert deltas == item.transcript and item.transcript
        kinds = [type(e).__name__ for e in recorder.events
                 if getattr(e, "item_id", None) == item.item_id]
        assert kinds[0] == "SpeechStarted"
        assert kinds.index("SpeechStopped") < kinds.index("Committed") < kinds.index("Completed")
        assert kinds[-1] == "Completed"
        assert all(k != "Delta" for k in kinds[kinds.index("Completed"):])
    # the items chain: each committed names the one before
    committed = recorder.of(Committed)
    assert committed[0].previous_item_id is None
    assert [c.previous_item_id for c in committed[1:]] == [c.item_id for c in committed[:-1]]
    # the whole session's words, in order, each once (one scripted word per half second)
    words = [w for s in segments for w in s.words]
    assert len(words) == 6 + 4 + 8
    assert all(a.end_s <= b.start_s for a, b in zip(words, words[1:]))
    started = recorder.of(SpeechStarted)
    stopped = recorder.of(SpeechStopped)
    assert abs(started[0].audio_start_ms - (500 - 300)) <= 40  # 300 ms of prefix padding
    assert stopped[0].audio_end_ms > 3_500


def test_text_settles_while_the_turn_is_still_open():
    """Deltas of a long turn arrive before its speech stops (settled by agreement)."""
    recorder, _ = run(talk([6.0]), Scripted(), pace=10)
    kinds = [type(e).__name__ for e in recorder.events]
    assert "Delta" in kinds[:kinds.index("SpeechStopped")]


def test_a_slow_machine_drops_partials_and_the_lag_stays_bounded():
    """A decoder at a quarter of real time per pass, fed at real-time pace x 5: a partial of
    every 0.05 s would queue up without end; the session drops them, and still completes
    every turn."""
    decoder = Scripted(cost_s_per_s=0.05)
    samples = talk([4.0] * 8, gap_s=0.8)
    recorder, segments = run(samples, decoder, pace=5)
    assert len(recorder.of(Completed)) == 8
    lags = [e.lag_s for e in recorder.of(Lag)]
    assert lags and max(lags) < 6.0
    audio_s = len(samples) / RATE
    assert decoder.calls < audio_s / 0.05 / 2  # most partials were never run


def test_manual_commit_and_an_empty_commit():
    recorder = Recorder()
    session = LiveSession(Scripted(), LiveOptions(turns=None, partial_every_s=0.05), recorder)
    session.commit()
    feed(session, talk([2.0]))
    session.commit()
    session.close(timeout_s=30)
    problems = recorder.of(Problem)
    assert problems and problems[0].code == "input_audio_buffer_commit_empty"
    assert not recorder.of(SpeechStarted)  # no server VAD: no speech events
    done = recorder.of(Completed)
    assert len(done) == 1 and done[0].transcript.split()[0] == "w1"


def test_clear_drops_the_open_turn():
    recorder = Recorder()
    session = LiveSession(Scripted(), LiveOptions(turns=None, partial_every_s=10), recorder)
    feed(session, talk([2.0]))
    session.clear()
    feed(session, talk([1.0]))
    session.close(timeout_s=30)
    assert recorder.of(Cleared)
    done = recorder.of(Completed)
    assert len(done) == 1 and len(done[0].transcript.split()) == 2


def test_a_failed_decode_fails_its_turn_and_the_session_goes_on():
    recorder, _ = run(talk([1.0, 1.0]), Scripted(fail_on=1),
                      options=LiveOptions(partial_every_s=100))
    failed = recorder.of(Failed)
    assert len(failed) == 1 and "scripted failure" in failed[0].error.summary
    assert len(recorder.of(Completed)) == 1


def test_a_worker_that_dies_says_so_and_refuses_more_audio():
    recorder = Recorder()

    def broken(_samples):
        raise RuntimeError("scorer exploded")

    session = LiveSession(Scripted(), LiveOptions(), recorder, scores=broken)
    session.append(np.zeros(RATE, np.float32))
    session.close(timeout_s=10)
    problems = recorder.of(Problem)
    assert problems and problems[0].code == "server_error"
    assert "scorer exploded" in (problems[0].error.detail or "")
    with pytest.raises(StudioError, match="start a new one"):
        session.append(np.zeros(RATE, np.float32))


def test_limits_refuse_audio_with_a_readable_error():
    session = LiveSession(Scripted(), LiveOptions(turns=None, max_session_s=1.0), Recorder())
    session.append(np.zeros(RATE // 2, np.float32))
    with pytest.raises(LiveLimitError, match="at most"):
        session.append(np.zeros(RATE, np.float32))
    session.close(timeout_s=10)


def test_tiny_en_live_on_real_speech_matches_the_references(session_studio):
    """Group A clips, one speaker after another, streamed at 4x real time through the real
    decoder and Silero: every turn completed, settled text = completed text, WER bound."""
    from stt_studio.evaluation import normalize_text, word_error_rate
    from tests.support.conversations import spoken

    talk_ = spoken(3, target_s=40.0)
    recorder = Recorder()
    with session_studio.live(recorder, "tiny.en") as session:
        feed(session, talk_.samples, step_s=0.1, pace=4)
    done = recorder.of(Completed)
    assert done
    for item in done:
        deltas = "".join(d.text for d in recorder.of(Delta) if d.item_id == item.item_id)
        assert deltas == item.transcript
    heard = " ".join(d.transcript for d in done)
    reference = " ".join(t.text for t in talk_.turns)
    wer = word_error_rate([(reference, heard)]).wer
    assert wer < 0.2, (wer, normalize_text(heard), normalize_text(reference))
