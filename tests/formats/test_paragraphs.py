"""TXT: paragraphs broken at long pauses, and the layout reaching the files written."""

from __future__ import annotations

import pytest

from stt_studio.domain import Segment, Transcript, Word
from stt_studio.formats import SubtitleLayout, paragraphs, render, to_txt
from tests.formats.cuecheck import parse_srt


def spoken(*spans: tuple[float, float, str]) -> Transcript:
    segments = tuple(Segment(start, end, text) for start, end, text in spans)
    return Transcript(" ".join(s.text for s in segments), "en", segments[-1].end_s, "m",
                      segments)


def with_words(*words: tuple[float, float, str]) -> Segment:
    return Segment(words[0][0], words[-1][1], " ".join(w[2] for w in words),
                   tuple(Word(*w) for w in words))


def test_a_pause_at_the_threshold_starts_a_paragraph_and_a_shorter_one_does_not():
    transcript = spoken((0.0, 3.0, "First thought."), (4.9, 7.0, "Still the first."),
                        (9.0, 11.0, "Second thought,"), (13.5, 15.0, "third."))
    assert to_txt(transcript) == (
        "First thought. Still the first.\n\nSecond thought,\n\nthird.\n")
    assert paragraphs(transcript, SubtitleLayout(paragraph_pause_s=1.5)) == (
        "First thought.", "Still the first.", "Second thought,", "third.")
    assert paragraphs(transcript, SubtitleLayout(paragraph_pause_s=3.0)) == (
        "First thought. Still the first. Second thought, third.",)


def test_a_long_pause_inside_one_segment_breaks_it_where_its_words_say():
    segment = with_words((0.0, 0.5, "one"), (0.6, 1.0, "two."), (3.1, 3.5, "three"),
                         (3.6, 4.0, "four"), (5.9, 6.2, "five."))
    transcript = Transcript(segment.text, "en", 6.2, "m", (segment,))
    assert paragraphs(transcript) == ("one two.", "three four five.")  # 2.1 s, then 1.9 s
    assert render(transcript, "txt") == "one two.\n\nthree four five.\n"
    # the segment's own times know nothing of the pause
    assert paragraphs(Transcript(segment.text, "en", 6.2, "m",
                                 (Segment(0.0, 6.2, segment.text),))) == (segment.text,)


def test_no_pause_gives_one_paragraph_of_all_the_text():
    transcript = spoken(*((n * 2.0, n * 2.0 + 1.9, f"part {n}.") for n in range(30)))
    assert to_txt(transcript) == " ".join(f"part {n}." for n in range(30)) + "\n"


def test_txt_text_is_each_segment_once_with_whitespace_tidied():
    transcript = spoken((0.0, 1.0, "  first line\n\nsecond line "), (5.0, 6.0, "   "),
                        (9.0, 10.0, "after\tthe gap"))
    assert to_txt(transcript) == "first line second line\n\nafter the gap\n"


@pytest.mark.parametrize(("text", "expected"), [
    ("", "\n"), ("  spaced  \n", "spaced\n"), ("kept as it is", "kept as it is\n")])
def test_a_transcript_without_segments_is_still_its_text(text, expected):
    assert to_txt(Transcript(text, "en", 1.0, "m", ())) == expected


def test_the_layout_reaches_the_files_written(session_studio, tmp_path):
    segment = with_words(*((n * 0.4, n * 0.4 + 0.3, f"word{n}") for n in range(40)))
    transcript = Transcript(segment.text, "en", 16.0, "m", (segment,))
    narrow = SubtitleLayout(max_line_chars=20, max_lines=1, max_cue_s=2.0,
                            paragraph_pause_s=0.05)
    written = session_studio.write_outputs(transcript, tmp_path / "narrow", "talk",
                                           ["srt", "txt"], layout=narrow)
    assert [p.name for p in written] == ["talk.srt", "talk.txt"]
    cues = parse_srt(written[0].read_text("utf-8"))
    assert all(len(c.text) <= 20 and "\n" not in c.text for c in cues)
    assert all(c.end_ms - c.start_ms <= 2000 for c in cues)
    assert written[1].read_text("utf-8").count("\n\n") == 39  # every 0.1 s gap
    default = session_studio.write_outputs(transcript, tmp_path / "default", "talk", ["srt"])
    assert default[0].read_text("utf-8") == render(transcript, "srt")
    assert len(parse_srt(default[0].read_text("utf-8"))) < len(cues)
