"""The check that every piece's speech came back with text, and the careful second decode.

The decoder here is a script at the engine boundary (what came back for each
piece, and what a second decode of a stretch gives), so the mechanics are
exact; the same check on real speech is in tests/test_nothing_lost.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from stt_studio import completeness
from stt_studio.completeness import GAP_S, Gap, complete, gaps, splice, to_redo
from stt_studio.domain import (
    SAMPLE_RATE_HZ,
    Audio,
    EngineKind,
    ModelSpec,
    Segment,
    Transcript,
    TranscriptionOptions,
    Unheard,
    Word,
)
from stt_studio.engines.base import DecodeSignals, EngineOutput, ModelInfo

RATE = SAMPLE_RATE_HZ


def talk(start_s: float, end_s: float, name: str = "w", step_s: float = 0.4) -> Segment:
    """A segment with a word every ``step_s`` from ``start_s`` to ``end_s``."""
    words = tuple(Word(round(t, 3), round(t + 0.3, 3), f"{name}{i}")
                  for i, t in enumerate(np.arange(start_s, end_s - 0.3 + 1e-9, step_s)))
    return Segment(words[0].start_s, words[-1].end_s, " ".join(w.text for w in words), words)


def audio(seconds: float) -> Audio:
    # a ramp, so a test can tell which stretch of the piece the decoder was given
    return Audio(np.arange(int(seconds * RATE), dtype=np.float32) / RATE, RATE)


@dataclass
class Scripted:
    """Answers a second decode of a stretch with ``again(start_s, seconds, prompt)``."""

    again: object = None
    calls: list[tuple[float, float, TranscriptionOptions]] = field(default_factory=list)
    spec: ModelSpec = field(default_factory=lambda: ModelSpec("fake", EngineKind.WHISPER, "x"))
    device: str = "cpu"
    info: ModelInfo = field(default_factory=lambda: ModelInfo(("en",), False, True, 30.0))

    def transcribe_batch(self, pieces, options, *, local_attention=False):
        assert len(pieces) == 1 and options.batch_size == 1  # alone, the careful way
        start_s = float(pieces[0].samples[0]) if pieces[0].samples.size else 0.0
        self.calls.append((start_s, pieces[0].duration_s, options))
        segments = self.again(start_s, pieces[0].duration_s, options) if self.again else ()
        return [EngineOutput(tuple(segments), "en")]

    def transcribe(self, piece, options):  # pragma: no cover - complete() asks for batches
        return self.transcribe_batch([piece], options)[0]

    def close(self) -> None:
        return None


# -- where text is missing ----------------------------------------------------------------

def test_words_all_through_leave_no_gap():
    assert gaps([talk(0.2, 29.6)], 30.0) == []
    assert to_redo([talk(0.2, 29.6)], 30.0) == []


def test_a_window_that_stops_early_leaves_its_tail():
    assert gaps([talk(0.2, 8.0)], 30.0) == [Gap(pytest.approx(7.7), 30.0)]


def test_a_stretched_word_covers_at_most_a_second():
    stretched = Segment(0.0, 9.0, "hello there", (Word(0.0, 0.4, "hello"), Word(0.4, 9.0, "there")))
    assert gaps([stretched, talk(9.0, 12.0)], 12.0) == [Gap(1.4, 9.0)]


def test_pauses_the_vad_kept_are_not_gaps():
    pausy = [talk(0.2, 5.0), talk(6.5, 12.0), talk(13.8, 20.0)]  # 1.5-1.9 s without words
    assert gaps(pausy, 20.0) == []
    assert to_redo(pausy, 20.0) == []


def test_a_gap_is_heard_again_with_the_short_stretches_beside_it():
    # a skipped turn: two words of what follows aligned into it, then the rest of the turn
    skipped = [talk(0.2, 6.0), Segment(9.5, 11.0, "as you", (Word(9.5, 10.0, "as"),
                                                             Word(10.0, 11.0, "you"))),
               talk(12.3, 20.0)]
    assert gaps(skipped, 20.0) == [Gap(pytest.approx(5.7), 9.5)]
    assert to_redo(skipped, 20.0) == [Gap(pytest.approx(5.7), pytest.approx(12.3))]


def test_text_without_times_is_judged_by_its_amount():
    sparse = [Segment(0.0, 20.0, "only three words")]
    plenty = [Segment(0.0, 20.0, " ".join(["word"] * 40))]
    assert gaps(sparse, 20.0, has_timestamps=False) == [Gap(0.0, 20.0)]
    assert gaps(plenty, 20.0, has_timestamps=False) == []
    assert gaps([], 20.0, has_timestamps=False) == [Gap(0.0, 20.0)]
    # scripts written without spaces count each character
    assert completeness.text_units("广州市房地产 ok") == 7


def test_no_output_at_all_is_one_gap_and_a_short_piece_is_not_judged():
    assert gaps([], 12.0) == [Gap(0.0, 12.0)]
    assert gaps([], GAP_S - 0.1) == []


def test_splice_puts_the_new_words_in_the_gap_and_keeps_the_rest():
    old = (talk(0.2, 6.0, "a"), talk(9.6, 11.0, "b"), talk(13.0, 20.0, "c"))
    new = (talk(6.4, 12.6, "n"),)
    out = splice(old, Gap(6.0, 12.8), new)
    texts = [w.text[0] for seg in out for w in seg.words]
    assert texts == ["a"] * texts.count("a") + ["n"] * texts.count("n") + ["c"] * texts.count("c")
    assert "b" not in texts
    starts = [w.start_s for seg in out for w in seg.words]
    assert starts == sorted(starts)


# -- decoding again ----------------------------------------------------------------------

def test_a_short_window_is_decoded_again_alone_with_the_text_before_as_prompt():
    model = Scripted(again=lambda start_s, seconds, _o: [talk(0.1, seconds - 0.2, "late")])
    options = TranscriptionOptions(initial_prompt="Kubernetes")
    [checked] = complete(model, [audio(30.0)], [EngineOutput((talk(0.2, 8.0, "early"),), "en")],
                         options, context="the turn before")
    [(start_s, seconds, asked)] = model.calls
    assert start_s == pytest.approx(7.7, abs=0.01) and seconds == pytest.approx(22.3, abs=0.01)
    assert asked.batch_size == 1 and asked.word_timestamps
    assert asked.initial_prompt.startswith("Kubernetes the turn before early0")
    assert asked.initial_prompt.endswith("early18")
    words = [w for seg in checked.output.segments for w in seg.words]
    assert [w.text[:4] for w in words].count("late") > 40
    assert words[-1].end_s == pytest.approx(29.6, abs=0.3)  # back in the piece's own time
    assert checked.missing == () and len(checked.redone) == 1


def test_what_stays_without_text_is_returned_and_a_window_judged_silent_is_left_alone():
    model = Scripted()  # the second decode hears nothing either
    batch = EngineOutput((talk(0.2, 8.0),), "en")
    [checked] = complete(model, [audio(30.0)], [batch], TranscriptionOptions())
    assert [round(g.start_s, 1) for g in checked.missing] == [7.7] and len(model.calls) == 1
    silent = EngineOutput((), "en", signals=DecodeSignals(-1.4, 0.0, 0.9))
    [quiet] = complete(model, [audio(10.0)], [silent], TranscriptionOptions())
    assert len(model.calls) == 1  # not decoded again: the decoder called it silence
    assert quiet.missing == (Gap(0.0, 10.0),)  # ... and it is still said


def test_a_doubtful_window_is_decoded_again_whole_and_replaced():
    loop = EngineOutput((Segment(0.0, 20.0, "the the the the", tuple(
        Word(t, t + 0.3, "the") for t in np.arange(0.0, 20.0, 0.4))),), "en",
        signals=DecodeSignals(-0.3, 3.1, 0.1))
    model = Scripted(again=lambda start_s, seconds, _o: [talk(0.3, 12.0, "real")])
    [checked] = complete(model, [audio(20.0)], [loop], TranscriptionOptions())
    assert model.calls[0][:2] == (0.0, pytest.approx(20.0))
    assert {w.text[:4] for s in checked.output.segments for w in s.words} == {"real"}
    assert "compression ratio" in (checked.reason or "")


def test_a_second_decode_that_heard_less_never_replaces_words():
    batch = EngineOutput((talk(0.2, 4.0, "a"), talk(6.5, 7.2, "b"), talk(7.5, 8.5, "b"),
                          talk(10.9, 16.0, "c")), "en")
    model = Scripted(again=lambda start_s, seconds, _o: [talk(0.1, 0.5, "x")])
    [checked] = complete(model, [audio(16.0)], [batch], TranscriptionOptions())
    assert model.calls  # the stretches without words were heard again ...
    texts = {w.text[0] for s in checked.output.segments for w in s.words}
    assert texts == {"a", "b", "c"}  # ... and one word does not replace four


def test_a_stretch_still_missing_is_heard_again_on_its_own():
    # the first second decode skips the stretch's start (as Whisper does at a change of
    # voice); the second hears that start alone
    def again(start_s, seconds, _options):
        return [talk(seconds - 6.0, seconds - 0.2, "end")] if seconds > 20 else \
            [talk(0.1, seconds - 0.2, "start")]

    model = Scripted(again=again)
    [checked] = complete(model, [audio(30.0)], [EngineOutput((talk(0.2, 8.0),), "en")],
                         TranscriptionOptions())
    assert len(model.calls) == 2 and checked.missing == ()
    names = [w.text.rstrip("0123456789") for s in checked.output.segments for w in s.words]
    assert names.index("start") < names.index("end")


# -- what a user reads --------------------------------------------------------------------

def test_the_note_says_how_much_speech_and_where():
    assert Unheard(33.5, 46.0, 12.4).text == "12.4 s of speech at 33.5–46.0 s gave no text"
    assert Unheard(723.5, 736.0, 12.5).text == "12.5 s of speech at 12:03.5–12:16.0 gave no text"
    transcript = Transcript("", "en", 800.0, "m", (), (Unheard(33.5, 46.0, 12.4),
                                                      Unheard(723.5, 736.0, 12.5)))
    assert transcript.unheard_summary == \
        "24.9 s of speech gave no text (at 33.5–46.0, 12:03.5–12:16.0)"
