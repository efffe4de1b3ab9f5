"""Speaker turns laid on a transcript: words by overlap, segments split where speakers change."""

from __future__ import annotations

from stt_studio.diarize.assign import assign, rename, speaker_at
from stt_studio.diarize.base import Turn, display_name, label
from stt_studio.domain import Segment, Word


def seg(*words: tuple[float, float, str]) -> Segment:
    ws = tuple(Word(a, b, text) for a, b, text in words)
    return Segment(ws[0].start_s, ws[-1].end_s, " ".join(w.text for w in ws), ws)


TURNS = (Turn(0.0, 3.0, 7), Turn(3.2, 6.0, 4), Turn(6.5, 9.0, 7))


def test_each_word_takes_the_turn_it_overlaps_most():
    assert speaker_at(2.8, 3.6, TURNS) == 4  # 0.2 s in 7's turn, 0.4 s in 4's
    assert speaker_at(2.5, 3.6, TURNS) == 7  # 0.5 s in 7's, 0.4 s in 4's
    assert speaker_at(5.9, 6.9, TURNS) == 7


def test_a_word_in_a_gap_takes_the_nearest_turn():
    assert speaker_at(3.12, 3.18, TURNS) == 4  # its middle: 0.05 s from 4's start, 0.15 from 7's end
    assert speaker_at(3.02, 3.08, TURNS) == 7  # 0.05 s from 7's end
    assert speaker_at(6.1, 6.2, TURNS) == 4
    assert speaker_at(20.0, 21.0, TURNS) == 7  # after the last turn


def test_a_segment_is_split_where_its_words_change_speaker():
    segment = seg((1.0, 1.5, "Hello"), (1.6, 2.4, "there."), (3.4, 3.9, "Hi,"),
                  (4.0, 4.5, "how"), (4.6, 5.0, "are"), (6.6, 7.0, "you?"))
    out = assign([segment], TURNS)
    assert [(s.text, s.speaker) for s in out] == [
        ("Hello there.", "SPEAKER_1"), ("Hi, how are", "SPEAKER_2"), ("you?", "SPEAKER_1")]
    assert [(s.start_s, s.end_s) for s in out] == [(1.0, 2.4), (3.4, 5.0), (6.6, 7.0)]
    for s in out:
        assert s.words and {w.speaker for w in s.words} == {s.speaker}
    assert [w.text for s in out for w in s.words] == [w.text for w in segment.words]


def test_a_segment_of_one_speaker_is_kept_whole_with_its_text():
    segment = Segment(0.5, 2.0, "Well, yes.", (Word(0.5, 1.0, "Well,"), Word(1.1, 2.0, "yes.")))
    (out,) = assign([segment], TURNS)
    assert (out.start_s, out.end_s, out.text, out.speaker) == (0.5, 2.0, "Well, yes.", "SPEAKER_1")
    assert [w.speaker for w in out.words] == ["SPEAKER_1", "SPEAKER_1"]


def test_segments_without_words_take_the_speaker_they_overlap_most():
    out = assign([Segment(2.0, 5.0, "mostly the second"), Segment(0.0, 1.0, "first")], TURNS)
    # numbered by appearance in the transcript: the second voice speaks first here
    assert [(s.text, s.speaker) for s in out] == [("mostly the second", "SPEAKER_1"),
                                                   ("first", "SPEAKER_2")]
    assert all(s.words == () for s in out)


def test_labels_follow_first_appearance_in_the_transcript():
    turns = (Turn(0.0, 1.0, 3), Turn(1.0, 2.0, 0), Turn(2.0, 3.0, 5))
    out = assign([seg((0.1, 0.9, "a")), seg((1.1, 1.9, "b")), seg((2.1, 2.9, "c")),
                  seg((0.2, 0.8, "d"))], turns)
    assert [s.speaker for s in out] == ["SPEAKER_1", "SPEAKER_2", "SPEAKER_3", "SPEAKER_1"]
    assert label(0) == "SPEAKER_1" and display_name("SPEAKER_12") == "Speaker 12"
    assert display_name("Alice") == "Alice"


def test_without_turns_the_segments_are_left_as_they_were():
    segments = (seg((0.0, 1.0, "alone")),)
    assert assign(segments, ()) == segments
    assert assign(segments, ())[0].speaker is None
    assert assign((), TURNS) == ()


def test_rename_reaches_every_segment_and_word():
    out = assign([seg((1.0, 1.5, "one"), (3.5, 4.0, "two")), Segment(7.0, 8.0, "three")], TURNS)
    named = rename(out, {"SPEAKER_1": "Alice"})
    assert [s.speaker for s in named] == ["Alice", "SPEAKER_2", "Alice"]
    assert [w.speaker for s in named for w in s.words] == ["Alice", "SPEAKER_2"]
    assert [s.text for s in named] == [s.text for s in out]
    plain = (seg((0.0, 1.0, "undiarized")),)
    assert rename(plain, {"SPEAKER_1": "Alice"}) == plain  # None stays None
