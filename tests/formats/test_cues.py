"""Readable subtitles: cues within the layout's limits, cut where a reader expects.

Every SRT and VTT here is parsed with the real parsers (``srt``, ``webvtt-py``)
and checked by :mod:`tests.formats.cuecheck`, which shares no code with the
writer: limits, every word once and in order, times from the words, no overlap.
"""

from __future__ import annotations

import dataclasses
import random
import re
import time

import pytest

from stt_studio.domain import Segment, Transcript, TranscriptionOptions, Word
from stt_studio.formats import SubtitleLayout, build_cues, render, to_srt, to_vtt
from tests.conftest import SHARED_AUDIO
from tests.formats.cuecheck import (
    ParsedCue,
    cue_problems,
    parse_srt,
    parse_vtt,
    spoken_words,
)

B_LONG = SHARED_AUDIO / "B_long" / "CONSTRUCTED_ljspeech_LJ001-0001_to_0032_concatenated.wav"
LAYOUTS = {
    "default": SubtitleLayout(),
    "narrow": SubtitleLayout(max_line_chars=16, max_lines=1, max_cue_s=2.5),
    "wide": SubtitleLayout(max_line_chars=60, max_lines=3, max_cue_s=12.0),
}
VOCAB = ("printing", "in", "the", "only", "sense", "with", "which", "we", "are", "at",
         "present", "concerned", "differs", "from", "most", "arts", "and", "crafts",
         "represented", "exhibition", "comparatively", "modern", "typography", "a")


def problems(text: str, fmt: str, transcript: Transcript, layout: SubtitleLayout) -> list[str]:
    cues = parse_srt(text) if fmt == "srt" else parse_vtt(text)
    return cue_problems(cues, transcript, max_line_chars=layout.max_line_chars,
                        max_lines=layout.max_lines, max_cue_s=layout.max_cue_s)


def written(transcript: Transcript, fmt: str, layout: SubtitleLayout) -> list[ParsedCue]:
    text = render(transcript, fmt, layout)
    assert problems(text, fmt, transcript, layout) == []
    return parse_srt(text) if fmt == "srt" else parse_vtt(text)


def without_words(transcript: Transcript) -> Transcript:
    return dataclasses.replace(transcript, segments=tuple(
        dataclasses.replace(seg, words=()) for seg in transcript.segments))


def timed(text: str, start_s: float = 0.0, word_s: float = 0.3, gap_s: float = 0.05,
          pauses: dict[int, float] | None = None) -> Segment:
    """A segment whose words follow each other; ``pauses[n]``: seconds of silence before word n."""
    words, at = [], start_s
    for number, word in enumerate(text.split()):
        at += (pauses or {}).get(number, 0.0)
        words.append(Word(at, at + word_s, word))
        at += word_s + gap_s
    return Segment(start_s, words[-1].end_s, text, tuple(words))


def transcript_of(*segments: Segment) -> Transcript:
    end_s = max((s.end_s for s in segments), default=0.0)
    return Transcript(" ".join(s.text for s in segments), "en", end_s, "test",
                      tuple(segments))


def unpunctuated(duration_s: float = 300.0, words: bool = True) -> Transcript:
    """One segment of unpunctuated speech, as a NeMo model without punctuation returns it."""
    rng = random.Random(5)
    count = int(duration_s / 0.4)
    text = " ".join(rng.choice(VOCAB) for _ in range(count))
    segment = timed(text, word_s=0.3, gap_s=0.1)
    return transcript_of(segment if words else dataclasses.replace(segment, words=()))


# -- a real transcript: Whisper tiny.en on the group B recording, with word timestamps ------

@pytest.fixture(scope="module")
def real(session_studio) -> Transcript:
    if not B_LONG.is_file():
        pytest.skip(f"{B_LONG} not found")
    options = TranscriptionOptions(word_timestamps=True)
    transcript = session_studio.transcribe_file(B_LONG, "tiny.en", options).transcript
    assert sum(len(s.words) for s in transcript.segments) > 300
    return transcript


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["srt", "vtt"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_real_speech_cues_are_within_the_limits(real, fmt, layout):
    cues = written(real, fmt, LAYOUTS[layout])
    assert " ".join(c.text for c in cues).split() == spoken_words(real)
    if layout == "default":
        # a reader's cues: most end where a sentence or a clause does
        ends = [c for c in cues if re.search(r"[.,;:?!]$", c.text)]
        assert len(ends) >= 0.7 * len(cues), [c.text for c in cues]
        assert len(cues) >= real.duration_s / 7.0


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_real_speech_without_word_timestamps(real, fmt):
    transcript = without_words(real)
    cues = written(transcript, fmt, SubtitleLayout())
    assert " ".join(c.text for c in cues).split() == spoken_words(real)
    assert all(c.end_ms - c.start_ms <= 7000 for c in cues)


# -- long segments from models that do not punctuate --------------------------------------

@pytest.mark.parametrize("words", [True, False], ids=["words", "no-words"])
@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_five_unpunctuated_minutes_become_many_short_cues(words, fmt):
    transcript = unpunctuated(300.0, words=words)
    cues = written(transcript, fmt, SubtitleLayout())
    assert len(cues) >= 300 / 7.0
    assert max(c.end_ms - c.start_ms for c in cues) <= 7000
    assert cues[0].start_ms == 0 and cues[-1].end_ms == round(transcript.segments[0].end_s * 1000)
    # cut by length alone, the cues are still of even size: no scraps
    sizes = [len(c.text) for c in cues[:-1]]
    assert min(sizes) >= 30, sorted(sizes)[:5]


def test_a_segment_without_words_shares_its_time_by_characters():
    segment = Segment(10.0, 20.0, " ".join(["word"] * 60))  # 299 characters in 10 s
    cues = build_cues(transcript_of(segment))
    assert cues[0].start_ms == 10_000 and cues[-1].end_ms == 20_000
    for cue in cues:
        chars = len(cue.text.replace("\n", " ")) + 1  # its words and the spaces after them
        assert abs((cue.end_ms - cue.start_ms) - 10_000 * chars / 300) <= 40, cue
    assert all(a.end_ms == b.start_ms for a, b in zip(cues, cues[1:]))


# -- where cues and lines break ------------------------------------------------------------

def cue_texts(*segments: Segment, layout: SubtitleLayout = LAYOUTS["default"]) -> list[str]:
    return [c.text.replace("\n", " ") for c in build_cues(transcript_of(*segments), layout)]


def test_a_cue_ends_at_a_sentence_end_before_a_comma():
    text = ("The printers of the city, working by hand, made fine books. "
            "Later the presses grew larger and the type was cast by machines everywhere")
    assert cue_texts(timed(text))[0] == "The printers of the city, working by hand, made fine books."


def test_a_cue_ends_at_a_comma_before_a_plain_word():
    text = ("printing in the only sense with which we are at present concerned, differs "
            "from most if not from all the arts and crafts represented in the exhibition")
    first = cue_texts(timed(text))[0]
    assert first.endswith("concerned,"), first


def test_a_cue_ends_at_a_pause_before_a_plain_word():
    text = ("printing in the only sense with which we are at present concerned differs "
            "from most if not from all the arts and crafts represented in the exhibition")
    first = cue_texts(timed(text, pauses={12: 0.6}))[0]  # silence before "differs"
    assert first.endswith("concerned"), first


def test_a_long_pause_always_ends_a_cue():
    assert cue_texts(timed("hello there friend", pauses={2: 1.6})) == ["hello there", "friend"]
    assert cue_texts(timed("hello there friend", pauses={2: 0.3})) == ["hello there friend"]


def test_sentences_that_fit_are_cues_of_their_own():
    first = "The first books were printed in black letter."
    second = "Roman type came a few years later in Italy."
    assert cue_texts(timed(f"{first} {second}")) == [first, second]


def test_lines_are_balanced_not_filled_greedily():
    text = "which were the immediate predecessors of the true printed book"  # 62 characters
    (cue,) = build_cues(transcript_of(timed(text)))
    # greedy filling gives 40 and 21 characters, the top line ending on "of"
    assert cue.lines == ("which were the immediate predecessors", "of the true printed book")


def test_a_text_that_fits_one_line_stays_on_one():
    (cue,) = build_cues(transcript_of(timed("in being comparatively modern.")))
    assert cue.lines == ("in being comparatively modern.",)


@pytest.mark.parametrize("words", [True, False], ids=["words", "no-words"])
def test_a_word_longer_than_a_line_stands_alone_on_its_line(words):
    long_word = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 2  # 90 characters
    segment = timed(f"a word {long_word} and then {'x' * 43} more words follow here")
    transcript = transcript_of(segment if words else dataclasses.replace(segment, words=()))
    for fmt in ("srt", "vtt"):
        cues = written(transcript, fmt, SubtitleLayout())
        lines = [line for c in cues for line in c.text.split("\n")]
        assert long_word in lines and "x" * 43 in lines
    cues = written(transcript, "srt", SubtitleLayout(max_line_chars=10, max_lines=1))
    assert long_word in [c.text for c in cues]


def test_cue_times_come_from_the_words():
    segment = Segment(0.0, 9.0, "one two. three", (
        Word(0.10, 0.40, "one"), Word(0.45, 0.90, "two."), Word(2.70, 3.00, "three")))
    cues = build_cues(transcript_of(segment))
    assert [(c.start_ms, c.end_ms, c.text) for c in cues] == [
        (100, 900, "one two."), (2700, 3000, "three")]


def test_overlapping_words_never_give_overlapping_cues():
    words = [Word(0.0, 0.3, "hello."), Word(0.2, 0.2, "again."), Word(0.2, 0.25, "and."),
             Word(0.1, 5.0, "then")]
    segment = Segment(0.0, 5.0, "hello. again. and. then", tuple(words))
    cues = build_cues(transcript_of(segment), SubtitleLayout(max_line_chars=10, max_lines=1))
    assert len(cues) == 4
    for before, after in zip(cues, cues[1:]):
        assert before.end_ms <= after.start_ms
    assert all(c.end_ms > c.start_ms for c in cues)


def test_pieces_of_one_word_stay_together():
    words = (Word(0.0, 0.5, "or"), Word(0.5, 0.8, "42"), Word(0.8, 1.2, "-line"),
             Word(1.2, 1.6, "Bible,"))
    segment = Segment(0.0, 1.6, "or 42-line Bible,", words)
    layout = SubtitleLayout(max_line_chars=10, max_lines=1)
    assert cue_texts(segment, layout=layout) == ["or 42-line", "Bible,"]


def test_chinese_without_spaces_is_cut_between_characters():
    text = "印刷术是中国古代四大发明之一。" * 12  # 180 characters, not one space
    segment = Segment(0.0, 40.0, text)
    cues = build_cues(transcript_of(segment))
    assert len(cues) >= 40 / 7
    assert "".join(c.text.replace("\n", "") for c in cues) == text
    assert all(len(line) <= 42 for c in cues for line in c.lines)
    assert not any(line.startswith("。") for c in cues for line in c.lines)


def test_arrows_never_survive_in_cue_text():
    transcript = transcript_of(Segment(0.0, 2.0, "a --> b ---> c ----> d"))
    srt_text, vtt_text = to_srt(transcript), to_vtt(transcript)
    assert srt_text.count("-->") == 1 and vtt_text.count("-->") == 1
    assert problems(srt_text, "srt", transcript, SubtitleLayout()) == []


@pytest.mark.parametrize("transcript", [
    Transcript("", None, 0.0, "m", ()),
    Transcript("", None, 3.0, "m", (Segment(0.0, 3.0, "   "),)),
    Transcript("", None, 3.0, "m", (Segment(0.0, 3.0, "", (Word(0.0, 1.0, " "),)),)),
], ids=["no-segments", "blank-segment", "blank-word"])
def test_empty_text_gives_no_cues(transcript):
    assert build_cues(transcript) == ()
    assert to_srt(transcript) == ""
    assert to_vtt(transcript) == "WEBVTT\n\n"


# -- many awkward transcripts at once ------------------------------------------------------

_PIECES = ("well,", "so.", "yes?", "and", "the", "R&D", "a<b", "-->", "naïve", "你好", "x" * 50,
           "typography;", "1455", "(indeed)", "“quoted.”")


def awkward(seed: int) -> Transcript:
    """Words with punctuation, gaps, overlaps, zero lengths, long words; some segments untimed."""
    rng = random.Random(seed)
    segments, at = [], 0.0
    for _ in range(40):
        words = []
        for _ in range(rng.randint(1, 25)):
            at += rng.choice((0.0, 0.05, 0.3, 0.6, 1.2, 2.5, -0.1))
            at = max(at, 0.0)
            length = rng.choice((0.0, 0.2, 0.4, 1.0, 9.0))
            words.append(Word(at, at + length, rng.choice(_PIECES + VOCAB)))
            at += length
        text = " ".join(w.text for w in words)
        start, end = words[0].start_s, max(w.end_s for w in words)
        keep = rng.random() < 0.7
        segments.append(Segment(start, end, text, tuple(words) if keep else ()))
    return transcript_of(*segments)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_awkward_transcripts_keep_every_rule(seed, layout):
    transcript = awkward(seed)
    for fmt in ("srt", "vtt"):
        text = render(transcript, fmt, LAYOUTS[layout])
        assert problems(text, fmt, transcript, LAYOUTS[layout]) == []


def test_three_hours_of_words_are_cut_in_seconds():
    transcript = unpunctuated(3 * 3600.0)
    started = time.perf_counter()
    cues = build_cues(transcript)
    assert time.perf_counter() - started < 10.0
    assert len(cues) >= 3 * 3600 / 7


# -- the check itself bites ----------------------------------------------------------------

CORRUPTIONS = {
    "lines-joined": lambda t: t.replace("arts\nand crafts", "arts and crafts", 1),
    "third-line": lambda t: t.replace("printing, in the only", "printing,\nin the\nonly", 1),
    "long-cue": lambda t: t.replace("--> 00:00:10,800", "--> 00:00:17,500", 1),
    "overlap": lambda t: t.replace("--> 00:00:04,150", "--> 00:00:04,300", 1),
    "late-start": lambda t: t.replace("00:00:04,200 -->", "00:00:04,210 -->", 1),
    "word-lost": lambda t: t.replace("differs ", "", 1),
    "word-doubled": lambda t: t.replace("differs ", "differs differs ", 1),
    "words-swapped": lambda t: t.replace("printing, in", "in printing,", 1),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_the_cue_check_refuses_a_corrupted_copy(corruption):
    text = ("printing, in the only sense with which we are at present concerned, differs "
            "from most if not from all the arts and crafts represented in the exhibition, "
            "in being comparatively modern.")
    transcript = transcript_of(timed(text))
    good = to_srt(transcript)
    bad = CORRUPTIONS[corruption](good)
    assert bad != good, "the corruption must change our output"
    assert problems(good, "srt", transcript, SubtitleLayout()) == []
    assert problems(bad, "srt", transcript, SubtitleLayout()) != []
