"""Output formats, checked with real parsers (srt, webvtt-py, json, csv).

The subtitle writers are checked by parsing what they wrote and comparing the
cues with the transcript (:mod:`tests.formats.cuecheck`: the same words once and
in order, times from the words or inside their segment, the layout's limits);
the same check run on a corrupted copy of our output must complain, which
proves it would notice a broken writer. How cues are cut is tested in
test_cues.py, TXT paragraphs in test_paragraphs.py.
"""

from __future__ import annotations

import csv
import html
import io
import json
import random
from datetime import timedelta

import pytest
import srt
import webvtt
from webvtt.errors import MalformedCaptionError, MalformedFileError

from stt_studio.domain import Segment, Transcript, Word
from stt_studio.formats import (
    FORMATS,
    SubtitleLayout,
    parse_formats,
    render,
    timestamp,
    to_csv,
    to_json,
    to_ms,
    to_srt,
    to_txt,
    to_vtt,
)
from tests.formats.cuecheck import ParsedCue, cue_problems

SEGMENTS = (
    Segment(0.0, 1.9995, "Hello there, world.",
            (Word(0.0, 0.5, "Hello"), Word(0.6, 1.0, "there,"), Word(1.1, 1.9995, "world."))),
    Segment(2.25, 4.0, '  She said "yes", then left.  ',
            (Word(2.25, 2.5, "She"), Word(2.5, 2.8, "said"), Word(2.9, 3.2, '"yes",'),
             Word(3.3, 3.6, "then"), Word(3.6, 4.0, "left."))),
    Segment(59.9995, 61.0, "Über café naïve — 你好"),
    Segment(3599.9996, 3661.0427, "Past the first hour."),
    Segment(4000.0, 4000.0, "Zero-length cue."),  # end == start: written as 1 ms long
    Segment(4001.0, 4002.0, "   "),  # blank: no cue
    Segment(5000.123, 5001.456, "a --> b"),  # the cue arrow must not break the file
    Segment(5002.0, 5003.0, "first line\n\nsecond line"),  # a blank line must not end the cue
)
TRANSCRIPT = Transcript(
    text="Hello there, world. She said \"yes\", then left. Über café naïve — 你好 ...",
    language="en",
    duration_s=5003.5,
    model="tiny.en",
    segments=SEGMENTS,
)
EMPTY = Transcript(text="", language=None, duration_s=0.0, model="tiny.en", segments=())

# (start_ms, end_ms, text) that the cues must carry: a sentence a cue; the segment
# without words that lasts 61 s shares its time among its words by their characters,
# and each word then lasts longer than the 7 s a cue may, so each is a cue of its own
EXPECTED_CUES = [
    (0, 2000, "Hello there, world."),
    (2250, 4000, 'She said "yes", then left.'),
    (60000, 61000, "Über café naïve — 你好"),
    (3600000, 3615260, "Past"),
    (3615260, 3627469, "the"),
    (3627469, 3645782, "first"),
    (3645782, 3661043, "hour."),
    (4000000, 4000001, "Zero-length cue."),
    (5000123, 5003000, "a -> b first line second line"),  # two short pieces, 0.5 s apart
]


def ms(delta: timedelta) -> int:
    return round(delta.total_seconds() * 1000)


def parse_srt(text: str) -> list[tuple[int, int, str]]:
    return [(ms(s.start), ms(s.end), s.content) for s in srt.parse(text)]


def parse_vtt(text: str) -> list[tuple[int, int, str]]:
    captions = webvtt.from_string(text, strict=True)
    # a player shows entities as the characters they stand for
    return [(c.start_time.in_milliseconds(), c.end_time.in_milliseconds(), html.unescape(c.text))
            for c in captions]


def cue_mismatches(cues: list[tuple[int, int, str]], transcript: Transcript) -> list[str]:
    """Where parsed cues break a rule of readable subtitles, in words (default layout)."""
    return cue_problems([ParsedCue(*cue) for cue in cues], transcript)


def srt_mismatches(text: str, transcript: Transcript) -> list[str]:
    try:
        subs = list(srt.parse(text))
    except srt.SRTParseError as exc:
        return [f"not valid SRT: {exc}"]
    problems = cue_mismatches([(ms(s.start), ms(s.end), s.content) for s in subs], transcript)
    if [s.index for s in subs] != list(range(1, len(subs) + 1)):
        problems.append(f"cue numbers {[s.index for s in subs]}")
    return problems


def vtt_mismatches(text: str, transcript: Transcript) -> list[str]:
    try:
        cues = parse_vtt(text)
    except (MalformedFileError, MalformedCaptionError) as exc:
        return [f"not valid WebVTT: {type(exc).__name__}: {exc}"]
    return cue_mismatches(cues, transcript)


_PIECES = ("well", "Ünïcödé", "你好", "--> arrow", "a<b", "R&D", "x > y", "1", "00:00:01,000",
           "WEBVTT", "NOTE this", "  spaced  ", "line\n\nbreak", "tab\there", "\u2028sep",
           "<i>not a tag</i>", "&amp;", "ok.")


def generated_transcript(seed: int, count: int = 300) -> Transcript:
    """Many segments with awkward text and times (sub-millisecond, zero-length, hours)."""
    rng = random.Random(seed)
    segments, start_s = [], 0.0
    for _ in range(count):
        start_s += rng.choice((0.0, 0.0004, 0.0005, 0.0015, rng.uniform(0, 40)))
        end_s = start_s + rng.choice((0.0, 0.0004, 0.0005, 0.9995, rng.uniform(0, 30)))
        words = rng.choice(((), (rng.choice(_PIECES),), tuple(rng.choices(_PIECES, k=5))))
        segments.append(Segment(start_s, end_s, " ".join(words)))
        start_s = end_s
    return Transcript(" ".join(s.text for s in segments), "en", start_s, "tiny.en",
                      tuple(segments))


GENERATED = [generated_transcript(seed) for seed in range(3)]


# -- timestamps --------------------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "expected"), [
    (0.0, 0), (1.9995, 2000), (1.2344, 1234), (59.9995, 60000), (3599.9996, 3600000),
    (-0.004, 0), (36000.5, 36000500),
])
def test_to_ms(seconds, expected):
    assert to_ms(seconds) == expected
    assert isinstance(to_ms(seconds), int)


@pytest.mark.parametrize(("value_ms", "srt_text", "vtt_text"), [
    (0, "00:00:00,000", "00:00:00.000"),
    (2000, "00:00:02,000", "00:00:02.000"),
    (60000, "00:01:00,000", "00:01:00.000"),
    (3661043, "01:01:01,043", "01:01:01.043"),
    (100 * 3600000 + 5, "100:00:00,005", "100:00:00.005"),
])
def test_timestamp_text(value_ms, srt_text, vtt_text):
    assert timestamp(value_ms, decimal_marker=",") == srt_text
    assert timestamp(value_ms, decimal_marker=".") == vtt_text


def test_timestamp_without_hours():
    assert timestamp(61_500, decimal_marker=".", always_hours=False) == "01:01.500"
    assert timestamp(3_661_500, decimal_marker=".", always_hours=False) == "01:01:01.500"


# -- SRT -----------------------------------------------------------------------------------

def test_srt_parses_with_the_srt_package_and_carries_the_cues():
    text = to_srt(TRANSCRIPT)
    assert parse_srt(text) == EXPECTED_CUES
    subs = list(srt.parse(text))
    assert [s.index for s in subs] == list(range(1, len(EXPECTED_CUES) + 1))
    assert "00:00:01,999" not in text and "00:00:02,000" in text  # 1.9995 s rounds up
    assert "01:01:01,043 " not in text and "01:01:01,043\n" in text


@pytest.mark.parametrize("transcript", [TRANSCRIPT, EMPTY, *GENERATED],
                         ids=["fixed", "empty", *(f"generated-{n}" for n in range(3))])
def test_our_srt_carries_the_words_as_readable_cues(transcript):
    assert srt_mismatches(to_srt(transcript), transcript) == []


# each corruption is one a broken writer could make; the check must refuse all of them
SRT_CORRUPTIONS = {
    "arrow": lambda t: t.replace(" --> ", " -> ", 1),
    "later-arrow": lambda t: t.replace("00:00:02,250 --> ", "00:00:02,250 -> ", 1),
    "digit": lambda t: t.replace("00:00:00,000", "00:0x:00,000", 1),
    "marker": lambda t: t.replace("00:00:00,000", "00:00:00;000", 1),
    # srt folds a cue with a bad timestamp into the one before instead of raising
    "later-digit": lambda t: t.replace("00:00:02,250", "00:0x:02,250", 1),
    "one-ms-late": lambda t: t.replace("00:00:02,250", "00:00:02,251", 1),
    "end-before-start": lambda t: t.replace("--> 00:00:04,000", "--> 00:00:02,000", 1),
    "lost-cue": lambda t: t.replace("3\n00:01:00,000 --> 00:01:01,000\nÜber café naïve — 你好\n\n",
                                    "", 1),
    "renumbered": lambda t: t.replace("\n2\n", "\n7\n", 1),
    "word": lambda t: t.replace("then left", "then right", 1),
    "blank-line-in-cue": lambda t: t.replace("first line second line", "first line\n\nsecond line"),
}


@pytest.mark.parametrize("corruption", list(SRT_CORRUPTIONS))
def test_the_srt_check_refuses_a_corrupted_copy_of_our_output(corruption):
    good = to_srt(TRANSCRIPT)
    bad = SRT_CORRUPTIONS[corruption](good)
    assert bad != good, "the corruption must change our output"
    assert srt_mismatches(good, TRANSCRIPT) == []
    assert srt_mismatches(bad, TRANSCRIPT) != []


def test_srt_of_an_empty_transcript_is_valid_and_empty():
    assert to_srt(EMPTY) == ""
    assert parse_srt(to_srt(EMPTY)) == []


# -- VTT -----------------------------------------------------------------------------------

def test_vtt_parses_with_webvtt_and_carries_the_cues():
    text = to_vtt(TRANSCRIPT)
    assert text.startswith("WEBVTT\n\n")
    assert parse_vtt(text) == EXPECTED_CUES
    # the buffer reader agrees
    from_buffer = webvtt.from_buffer(io.StringIO(text))
    assert [c.text for c in from_buffer] == [cue[2] for cue in EXPECTED_CUES]


@pytest.mark.parametrize("transcript", [TRANSCRIPT, EMPTY, *GENERATED],
                         ids=["fixed", "empty", *(f"generated-{n}" for n in range(3))])
def test_our_vtt_carries_the_words_as_readable_cues(transcript):
    assert vtt_mismatches(to_vtt(transcript), transcript) == []


VTT_CORRUPTIONS = {
    "header": lambda t: t.replace("WEBVTT", "WEBVT", 1),
    "digit": lambda t: t.replace("00:00:02.250", "00:0x:02.250", 1),
    "marker": lambda t: t.replace("01:01:01.043", "01:01:01,043", 1),
    "arrow": lambda t: t.replace(" --> ", " -> ", 1),  # webvtt skips such a block
    "one-ms-early": lambda t: t.replace("01:01:01.043", "01:01:01.042", 1),
    "lost-cue": lambda t: t.replace("01:00:45.782 --> 01:01:01.043\nhour.\n\n", "", 1),
    "word": lambda t: t.replace("\nhour.\n", "\nday.\n", 1),
    # two words in one 30 s cue: longer than a cue may last
    "merged-cues": lambda t: t.replace("01:00:27.469\nthe\n\n01:00:27.469 --> 01:00:45.782\nfirst",
                                       "01:00:45.782\nthe first", 1),
    "unescaped-tag": lambda t: t.replace("x &lt;b> y", "x <b> y", 1),
    "unescaped-entity": lambda t: t.replace("R&amp;amp;D", "R&amp;D", 1),
}
AWKWARD = Transcript("x", "en", 5010.0, "tiny.en",
                     (*SEGMENTS, Segment(5004.0, 5005.0, "x <b> y"), Segment(5006.0, 5007.0, "R&amp;D")))


@pytest.mark.parametrize("corruption", list(VTT_CORRUPTIONS))
def test_the_vtt_check_refuses_a_corrupted_copy_of_our_output(corruption):
    good = to_vtt(AWKWARD)
    bad = VTT_CORRUPTIONS[corruption](good)
    assert bad != good, "the corruption must change our output"
    assert vtt_mismatches(good, AWKWARD) == []
    assert vtt_mismatches(bad, AWKWARD) != []


def test_vtt_of_an_empty_transcript_is_valid_and_empty():
    assert to_vtt(EMPTY) == "WEBVTT\n\n"
    assert parse_vtt(to_vtt(EMPTY)) == []


def test_cue_ends_never_precede_starts():
    for start, end, _ in parse_srt(to_srt(TRANSCRIPT)) + parse_vtt(to_vtt(TRANSCRIPT)):
        assert end > start


# -- JSON ----------------------------------------------------------------------------------

def test_json_has_exactly_the_documented_shape():
    data = json.loads(to_json(TRANSCRIPT))
    assert set(data) == {"text", "language", "duration", "model", "segments"}
    assert data["text"] == TRANSCRIPT.text
    assert data["language"] == "en"
    assert data["duration"] == 5003.5
    assert data["model"] == "tiny.en"
    assert len(data["segments"]) == len(SEGMENTS)  # JSON keeps every segment, blank ones too
    for seg, original in zip(data["segments"], SEGMENTS):
        assert set(seg) == {"start", "end", "text", "words"}
        assert seg["text"] == original.text
        assert seg["start"] == round(original.start_s, 3)
        assert seg["end"] == round(original.end_s, 3)
        assert len(seg["words"]) == len(original.words)
        for word, ow in zip(seg["words"], original.words):
            assert set(word) == {"start", "end", "word"}
            assert word["word"] == ow.text
            assert isinstance(word["start"], float) and isinstance(word["end"], float)
    assert data["segments"][0]["words"][2] == {"start": 1.1, "end": 2.0, "word": "world."}


def test_json_keeps_unicode_readable_and_round_trips():
    text = to_json(TRANSCRIPT)
    assert "你好" in text and "\\u" not in text
    assert json.loads(json.dumps(json.loads(text))) == json.loads(text)


def test_json_of_an_empty_transcript():
    assert json.loads(to_json(EMPTY)) == {"text": "", "language": None, "duration": 0.0,
                                          "model": "tiny.en", "segments": []}


def test_json_numbers_from_numpy_are_plain_floats():
    import numpy as np

    t = Transcript("x", "en", np.float32(1.5), "m",
                   (Segment(np.float64(0.25), np.float32(1.0), "x"),))
    data = json.loads(to_json(t))
    assert data["duration"] == 1.5 and data["segments"][0]["start"] == 0.25


# -- CSV and TXT ---------------------------------------------------------------------------

def test_csv_parses_with_the_csv_module():
    rows = list(csv.reader(io.StringIO(to_csv(TRANSCRIPT))))
    assert rows[0] == ["start", "end", "text"]
    assert len(rows) == 1 + len(SEGMENTS)
    assert rows[1] == ["0.000", "2.000", "Hello there, world."]  # the comma survives quoting
    assert rows[2] == ["2.250", "4.000", 'She said "yes", then left.']
    assert rows[4] == ["3600.000", "3661.043", "Past the first hour."]
    assert rows[-1][2] == "first line\n\nsecond line"
    for start, end, _ in rows[1:]:
        assert float(end) >= float(start)


def test_csv_of_an_empty_transcript_is_just_the_header():
    assert list(csv.reader(io.StringIO(to_csv(EMPTY)))) == [["start", "end", "text"]]


def test_txt_is_the_segments_in_paragraphs_broken_at_long_pauses():
    assert to_txt(TRANSCRIPT) == "\n\n".join([
        'Hello there, world. She said "yes", then left.',
        "Über café naïve — 你好", "Past the first hour.", "Zero-length cue.",
        "a --> b first line second line"]) + "\n"
    assert to_txt(Transcript("  spaced  \n", "en", 1.0, "m", ())) == "spaced\n"
    assert to_txt(EMPTY) == "\n"


# -- choosing formats ----------------------------------------------------------------------

def test_parse_formats():
    assert parse_formats("all") == FORMATS == ("txt", "srt", "vtt", "json", "csv")
    assert parse_formats(" ALL ") == FORMATS
    assert parse_formats("srt,vtt") == ("srt", "vtt")
    assert parse_formats("vtt, .SRT ,vtt,") == ("vtt", "srt")


@pytest.mark.parametrize("spec", ["bogus", "srt,docx", "", " , "])
def test_parse_formats_rejects(spec):
    with pytest.raises(ValueError) as info:
        parse_formats(spec)
    if "bogus" in spec or "docx" in spec:
        assert "txt, srt, vtt, json, csv" in str(info.value)


def test_render_dispatches_every_format():
    for fmt in FORMATS:
        out = render(TRANSCRIPT, fmt)
        assert isinstance(out, str) and out.endswith("\n")
    with pytest.raises(KeyError):
        render(TRANSCRIPT, "docx")


def test_render_passes_the_layout_to_subtitles_and_txt_only():
    narrow = SubtitleLayout(max_line_chars=10, max_lines=1, paragraph_pause_s=10_000.0)
    assert render(TRANSCRIPT, "srt", narrow) != render(TRANSCRIPT, "srt")
    assert render(TRANSCRIPT, "vtt", narrow) != render(TRANSCRIPT, "vtt")
    assert render(TRANSCRIPT, "txt", narrow).count("\n") == 1  # one paragraph
    for fmt in ("json", "csv"):  # segments and words as recognised
        assert render(TRANSCRIPT, fmt, narrow) == render(TRANSCRIPT, fmt)
