"""Speakers in every output format (issue 10: "Who said what").

Transcripts with two or three speakers are built by hand here, one of them
renamed "Alice" as the UI lets a user do. Every SRT and VTT is parsed with the
real parsers (``srt``, ``webvtt-py`` strict) and, with the speaker marks taken
off, checked by :mod:`tests.formats.cuecheck` like any other subtitles; the
speaker rules are checked beside it: no cue mixes speakers, the first cue of
each turn carries ``[Speaker 1]`` in SRT, every VTT cue its ``<v Speaker 1>``
voice, and the lines stay within the layout with the prefix counted.

A transcript without speakers must come out byte for byte as it did before
speakers existed: ``plain_outputs.json`` holds what the writers gave for two
fixture transcripts before the change.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import random
import re
from pathlib import Path

import pytest
import srt
import webvtt

from stt_studio.diarize.base import display_name
from stt_studio.domain import Segment, Transcript, Word
from stt_studio.formats import (
    FORMATS,
    SubtitleLayout,
    build_cues,
    paragraphs,
    render,
    to_csv,
    to_dict,
    to_srt,
    to_txt,
    to_vtt,
)
from tests.formats.cuecheck import ParsedCue, cue_problems, parse_srt

PLAIN_OUTPUTS = Path(__file__).with_name("plain_outputs.json")
LAYOUTS = {
    "default": SubtitleLayout(),
    "narrow": SubtitleLayout(max_line_chars=16, max_lines=1, max_cue_s=2.5,
                             paragraph_pause_s=1.0),
    "wide": SubtitleLayout(max_line_chars=60, max_lines=3, max_cue_s=12.0),
}
VOCAB = ("printing", "in", "the", "only", "sense", "with", "which", "we", "are", "at",
         "present", "concerned,", "differs", "from", "most", "arts.", "and", "crafts",
         "R&D", "a<b", "-->", "naïve", "x" * 30, "typography;", "yes?", "“quoted.”")


# -- transcripts built by hand -------------------------------------------------------------

def said(speaker: str | None, start_s: float, text: str, word_s: float = 0.3,
         gap_s: float = 0.05, pauses: dict[int, float] | None = None) -> Segment:
    """A segment by ``speaker`` whose words follow each other; ``pauses[n]``: silence before word n."""
    words, at = [], start_s
    for number, word in enumerate(text.split()):
        at += (pauses or {}).get(number, 0.0)
        words.append(Word(at, at + word_s, word, speaker))
        at += word_s + gap_s
    return Segment(start_s, words[-1].end_s, text, tuple(words), speaker)


def untimed(segment: Segment) -> Segment:
    """The segment as an engine without word timestamps gives it."""
    return dataclasses.replace(segment, words=())


def transcript_of(*segments: Segment) -> Transcript:
    end_s = max((s.end_s for s in segments), default=0.0)
    return Transcript(" ".join(s.text for s in segments), "en", end_s, "test", tuple(segments))


def renamed(transcript: Transcript, names: dict[str, str]) -> Transcript:
    """What the UI's rename does: the new name on every segment and word."""
    def name(speaker: str | None) -> str | None:
        return names.get(speaker, speaker) if speaker else speaker

    return dataclasses.replace(transcript, segments=tuple(
        dataclasses.replace(s, speaker=name(s.speaker),
                            words=tuple(dataclasses.replace(w, speaker=name(w.speaker))
                                        for w in s.words))
        for s in transcript.segments))


def interview() -> Transcript:
    """Three speakers; SPEAKER_1 talks twice, once with a long pause inside the turn."""
    return transcript_of(
        said("SPEAKER_1", 0.0, "Good morning and welcome to the show."),
        said("SPEAKER_1", 2.6, "Today we talk about printing."),
        said("SPEAKER_2", 5.0, "Thanks for having me."),
        said("SPEAKER_3", 6.5, "Glad to be here too."),
        said("SPEAKER_1", 8.4, "Let us begin with the history of type.",
             pauses={4: 3.0}),  # 3 s of silence inside the turn, before "the"
        said("SPEAKER_2", 14.5, "Sure."),
    )


def stripped(segments: tuple[Segment, ...]) -> tuple[Segment, ...]:
    return tuple(dataclasses.replace(s, speaker=None, words=tuple(
        dataclasses.replace(w, speaker=None) for w in s.words)) for s in segments)


def plain_fixed() -> Transcript:
    """No speakers: awkward text and times (blank lines, arrows, unspaced script, hours)."""
    segments = (
        Segment(0.0, 1.9995, "Hello there, world.",
                (Word(0.0, 0.5, "Hello"), Word(0.6, 1.0, "there,"), Word(1.1, 1.9995, "world."))),
        Segment(2.25, 4.0, '  She said "yes", then left.  ',
                (Word(2.25, 2.5, "She"), Word(2.5, 2.8, "said"), Word(2.9, 3.2, '"yes",'),
                 Word(3.3, 3.6, "then"), Word(3.6, 4.0, "left."))),
        Segment(59.9995, 61.0, "Über café naïve — 你好"),
        Segment(3599.9996, 3661.0427, "Past the first hour."),
        Segment(4000.0, 4000.0, "Zero-length cue."),
        Segment(4001.0, 4002.0, "   "),
        Segment(5000.123, 5001.456, "a --> b & <i>c</i>"),
        Segment(5002.0, 5003.0, "first line\n\nsecond line"),
        *(dataclasses.replace(s, start_s=s.start_s + 5010.0, end_s=s.end_s + 5010.0, words=tuple(
            dataclasses.replace(w, start_s=w.start_s + 5010.0, end_s=w.end_s + 5010.0)
            for w in s.words)) for s in stripped(interview().segments)),
    )
    return Transcript("Hello there, world. …", "en", 5003.5, "tiny.en", segments)


def awkward(seed: int, speakers: int = 0, count: int = 40) -> Transcript:
    """Words with punctuation, gaps, overlaps, zero lengths, long words; some segments untimed.

    With ``speakers``, each word gets one of that many speakers (one turn runs
    on for a few words, then changes), so turns change inside segments too; a
    segment without words has the speaker of its first word.
    """
    rng = random.Random(seed)
    names = [f"SPEAKER_{n + 1}" for n in range(speakers)] or [None]
    speaker = names[0]
    segments, at = [], 0.0
    for _ in range(count):
        words = []
        for _ in range(rng.randint(1, 25)):
            at += rng.choice((0.0, 0.05, 0.3, 0.6, 1.2, 2.5, -0.1))
            at = max(at, 0.0)
            length = rng.choice((0.0, 0.2, 0.4, 1.0, 9.0))
            if rng.random() < 0.15:
                speaker = rng.choice(names)
            words.append(Word(at, at + length, rng.choice(VOCAB), speaker))
            at += length
        text = " ".join(w.text for w in words)
        start, end = words[0].start_s, max(w.end_s for w in words)
        keep = rng.random() < 0.7
        segments.append(Segment(start, end, text, tuple(words) if keep else (),
                                words[0].speaker))
    return transcript_of(*segments)


PLAIN = {"fixed": plain_fixed, "awkward": lambda: awkward(11, count=15)}


def plain_outputs() -> dict[str, str]:
    """Every format of every plain transcript, under the default and the narrow layout."""
    out = {}
    for name, make in PLAIN.items():
        transcript = make()
        for fmt in FORMATS:
            for layout in ("default", "narrow") if fmt in ("txt", "srt", "vtt") else ("default",):
                out[f"{name}/{fmt}/{layout}"] = render(transcript, fmt, LAYOUTS[layout])
    return out



# -- an independent check of the speaker marks ---------------------------------------------

TAG = re.compile(r"\[([^\]\n]+)\](?: |\n|$)")


def split_tag(text: str) -> tuple[str | None, str]:
    """An SRT cue's ``[Speaker 1]`` tag (None when it has none) and the rest of its text."""
    match = TAG.match(text)
    return (match.group(1), text[match.end():]) if match else (None, text)


def speaker_of_each_word(transcript: Transcript) -> list[str | None]:
    """Who says each word the cues must carry, in order (a word-less segment: its speaker)."""
    out: list[str | None] = []
    for seg in transcript.segments:
        words = [w for w in seg.words if w.text.strip()]
        if words:
            for word in words:
                out += [word.speaker or seg.speaker] * len(word.text.split())
        else:
            out += [seg.speaker] * len(seg.text.split())
    return out


def speaker_problems(marked: list[tuple[str | None, str]], transcript: Transcript, *,
                     every_cue: bool) -> list[str]:
    """Where (mark, text) cues break the speaker rules, in words (empty: they are fine).

    No cue holds words of two speakers; a cue is marked with its speaker's
    display name on every cue (``every_cue``: VTT voices) or on the first cue
    of each turn only (SRT tags), and never otherwise.
    """
    speakers = speaker_of_each_word(transcript)
    problems = []
    position = 0
    for number, (mark, text) in enumerate(marked, start=1):
        mine = speakers[position:position + len(text.split())]
        if not mine:
            return [*problems, f"cue {number} is blank or beyond the words: {text!r}"]
        if len(set(mine)) != 1:
            problems.append(f"cue {number} mixes speakers {sorted(set(map(str, mine)))}: {text!r}")
        opens = position == 0 or speakers[position - 1] != mine[0]
        want = display_name(mine[0]) if mine[0] and (every_cue or opens) else None
        if mark != want:
            problems.append(f"cue {number} is marked {mark!r}, not {want!r}: {text!r}")
        position += len(mine)
    if position != len(speakers):
        problems.append(f"the cues carry {position} words, the transcript {len(speakers)}")
    return problems


def line_problems(cues: list[ParsedCue], layout: SubtitleLayout) -> list[str]:
    """Lines over the layout, the tag counted; only a tag and one long word may run over."""
    problems = []
    for number, cue in enumerate(cues, start=1):
        lines = cue.text.split("\n")
        if len(lines) > layout.max_lines:
            problems.append(f"cue {number} has {len(lines)} lines: {cue.text!r}")
        for line in lines:
            if len(line) > layout.max_line_chars and len(split_tag(line)[1].split()) > 1:
                problems.append(f"cue {number} has a line of {len(line)} characters: {line!r}")
    return problems


def srt_problems(text: str, transcript: Transcript, layout: SubtitleLayout) -> list[str]:
    cues = parse_srt(text)  # raises on a file that is not SRT
    marked = [split_tag(c.text) for c in cues]
    bare = [ParsedCue(c.start_ms, c.end_ms, rest) for c, (_, rest) in zip(cues, marked)]
    return (cue_problems(bare, transcript, max_line_chars=layout.max_line_chars,
                         max_lines=layout.max_lines, max_cue_s=layout.max_cue_s)
            + speaker_problems(marked, transcript, every_cue=False)
            + line_problems(cues, layout))


def vtt_captions(text: str) -> list[webvtt.Caption]:
    return list(webvtt.from_buffer(io.StringIO(text), strict=True))


def vtt_problems(text: str, transcript: Transcript, layout: SubtitleLayout) -> list[str]:
    captions = vtt_captions(text)
    # a player shows references as the characters they stand for, and the voice as a name
    bare = [ParsedCue(c.start_time.in_milliseconds(), c.end_time.in_milliseconds(),
                      html.unescape(c.text)) for c in captions]
    marked = [(html.unescape(c.voice) if c.voice is not None else None, cue.text)
              for c, cue in zip(captions, bare)]
    problems = [f"cue {n} holds a tag after its start: {c.raw_text!r}"
                for n, c in enumerate(captions, start=1) if "<" in c.raw_text[1:]]
    return (problems
            + cue_problems(bare, transcript, max_line_chars=layout.max_line_chars,
                           max_lines=layout.max_lines, max_cue_s=layout.max_cue_s)
            + speaker_problems(marked, transcript, every_cue=True))


def srt_tags(transcript: Transcript, layout: SubtitleLayout = LAYOUTS["default"]
             ) -> list[tuple[str | None, str]]:
    return [split_tag(c.text) for c in parse_srt(to_srt(transcript, layout))]


def vtt_voices(transcript: Transcript) -> list[tuple[str | None, str]]:
    return [(c.voice, c.text) for c in vtt_captions(to_vtt(transcript))]


INTERVIEW = renamed(interview(), {"SPEAKER_1": "Alice"})


# -- without speakers: as before -----------------------------------------------------------

def recorded() -> dict[str, str]:
    outputs: dict[str, str] = json.loads(PLAIN_OUTPUTS.read_text("utf-8"))
    return outputs


@pytest.mark.parametrize("key", list(recorded()))
def test_a_transcript_without_speakers_is_written_byte_for_byte_as_before(key):
    name, fmt, layout = key.split("/")
    assert render(PLAIN[name](), fmt, LAYOUTS[layout]) == recorded()[key]


def test_the_recorded_outputs_cover_every_format_and_show_no_speaker():
    outputs = recorded()
    assert {key.split("/")[1] for key in outputs} == set(FORMATS)
    assert not any(re.search(r"speaker", text, re.IGNORECASE) for text in outputs.values())
    assert not any("<v" in text for text in outputs.values())


# -- TXT -----------------------------------------------------------------------------------

def test_txt_is_written_as_turns_with_the_names_people_read():
    assert to_txt(INTERVIEW) == "\n\n".join([
        "Alice: Good morning and welcome to the show. Today we talk about printing.",
        "Speaker 2: Thanks for having me.",
        "Speaker 3: Glad to be here too.",
        "Alice: Let us begin with",
        "the history of type.",  # a 3 s pause inside Alice's turn: a paragraph, no name again
        "Speaker 2: Sure.",
    ]) + "\n"
    # the same words without speakers: paragraphs at long pauses only, no names
    assert to_txt(dataclasses.replace(INTERVIEW, segments=stripped(INTERVIEW.segments))) == (
        "Good morning and welcome to the show. Today we talk about printing. Thanks for "
        "having me. Glad to be here too. Let us begin with\n\nthe history of type. Sure.\n")


def test_txt_turns_follow_words_and_word_less_segments_alike():
    transcript = transcript_of(
        said("SPEAKER_1", 0.0, "yes I agree completely"),  # the turn changes inside it
        untimed(said("SPEAKER_2", 1.5, "but not with you")),
        untimed(said("SPEAKER_2", 3.0, "nor with him.")),
    )
    words = list(transcript.segments[0].words)
    words[2:] = [dataclasses.replace(w, speaker="SPEAKER_2") for w in words[2:]]
    transcript = dataclasses.replace(transcript, segments=(
        dataclasses.replace(transcript.segments[0], words=tuple(words)),
        *transcript.segments[1:]))
    assert paragraphs(transcript) == (
        "Speaker 1: yes I", "Speaker 2: agree completely but not with you nor with him.")
    layout = SubtitleLayout(paragraph_pause_s=0.1)  # every gap between segments a pause
    assert paragraphs(transcript, layout) == (
        "Speaker 1: yes I", "Speaker 2: agree completely", "but not with you", "nor with him.")


# -- SRT -----------------------------------------------------------------------------------

def test_srt_tags_the_first_cue_of_each_turn():
    assert srt_tags(INTERVIEW) == [
        ("Alice", "Good morning\nand welcome to the show."),  # 45 characters: two lines
        (None, "Today we talk about printing."),
        ("Speaker 2", "Thanks for having me."),
        ("Speaker 3", "Glad to be here too."),
        ("Alice", "Let us begin with"),
        (None, "the history of type."),  # after the pause, the same turn goes on
        ("Speaker 2", "Sure."),
    ]
    assert srt_problems(to_srt(INTERVIEW), INTERVIEW, LAYOUTS["default"]) == []


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_tag_counts_in_the_line_length(layout):
    shape = LAYOUTS[layout]
    # without the tag "Glad to be here too, very glad." fills exactly one line of 31
    transcript = transcript_of(said("SPEAKER_1", 0.0, "Hello."),
                               said("SPEAKER_2", 1.0, "Glad to be here too, very glad."))
    text = to_srt(transcript, dataclasses.replace(shape, max_line_chars=31))
    assert srt_problems(text, transcript, dataclasses.replace(shape, max_line_chars=31)) == []
    second = parse_srt(text)[1]
    assert second.text.startswith("[Speaker 2]")
    assert all(len(line) <= 31 for c in parse_srt(text) for line in c.text.split("\n"))


def test_a_long_name_takes_a_line_of_its_own_and_every_line_fits():
    name = "Professor Alexandra Montgomery-Smith"  # 38 characters as a tag
    transcript = renamed(transcript_of(
        said("SPEAKER_1", 0.0, "Welcome, professor."),
        said("SPEAKER_2", 1.5, "Thank you, it is a pleasure to be here at last.")),
        {"SPEAKER_2": name})
    cues = parse_srt(to_srt(transcript))
    assert srt_problems(to_srt(transcript), transcript, LAYOUTS["default"]) == []
    assert cues[1].text.split("\n")[0] == f"[{name}]"
    assert all(len(line) <= 42 for c in cues for line in c.text.split("\n"))


def test_a_tag_never_stands_alone_in_a_cue():
    """One line of 16 characters cannot hold "[Speaker 2] typography;": they share it."""
    transcript = transcript_of(said("SPEAKER_1", 0.0, "Yes."),
                               said("SPEAKER_2", 1.0, "typography; is an art"))
    narrow = LAYOUTS["narrow"]
    cues = parse_srt(to_srt(transcript, narrow))
    assert [c.text for c in cues] == [
        "[Speaker 1] Yes.", "[Speaker 2] typography;", "is an art"]
    assert srt_problems(to_srt(transcript, narrow), transcript, narrow) == []
    two_lines = dataclasses.replace(narrow, max_lines=2)
    # with two lines a cue, the tag takes the first
    assert parse_srt(to_srt(transcript, two_lines))[1].text == "[Speaker 2]\ntypography;"


# -- VTT -----------------------------------------------------------------------------------

def test_every_vtt_cue_of_a_speaker_carries_its_voice():
    text = to_vtt(INTERVIEW)
    assert "\n<v Alice>Good morning and welcome to the show.\n" in text
    assert vtt_voices(INTERVIEW) == [
        ("Alice", "Good morning and welcome to the show."),
        ("Alice", "Today we talk about printing."),
        ("Speaker 2", "Thanks for having me."),
        ("Speaker 3", "Glad to be here too."),
        ("Alice", "Let us begin with"),
        ("Alice", "the history of type."),
        ("Speaker 2", "Sure."),
    ]
    assert vtt_problems(text, INTERVIEW, LAYOUTS["default"]) == []


def test_names_are_escaped_in_the_voice_and_defused_in_the_tag():
    names = {"SPEAKER_1": "R&D <lead>", "SPEAKER_2": "Tom > Jerry", "SPEAKER_3": "A --> B"}
    transcript = renamed(interview(), names)
    text = to_vtt(transcript)
    assert "<v R&amp;D &lt;lead&gt;>Good morning" in text
    assert "<v Tom &gt; Jerry>Thanks" in text
    assert "<v A --&gt; B>Glad" in text
    assert text.count("-->") == len(vtt_captions(text))  # only the timing lines' arrows
    assert [html.unescape(voice or "") for voice, _ in vtt_voices(transcript)] == [
        "R&D <lead>", "R&D <lead>", "Tom > Jerry", "A --> B", "R&D <lead>", "R&D <lead>",
        "Tom > Jerry"]
    assert vtt_problems(text, transcript, LAYOUTS["default"]) == []
    srt_text = to_srt(transcript)
    assert srt_text.count("-->") == len(parse_srt(srt_text))
    assert [tag for tag, _ in srt_tags(transcript)] == [
        "R&D <lead>", None, "Tom > Jerry", "A -> B", "R&D <lead>", None, "Tom > Jerry"]


# -- cues never mix speakers ---------------------------------------------------------------

def test_a_speaker_change_inside_one_segment_splits_the_cue():
    segment = said("SPEAKER_1", 0.0, "yes I agree with that completely")
    words = tuple(dataclasses.replace(w, speaker="SPEAKER_2" if n >= 2 else "SPEAKER_1")
                  for n, w in enumerate(segment.words))
    transcript = transcript_of(dataclasses.replace(segment, words=words))
    assert [(c.speaker, c.text) for c in build_cues(transcript)] == [
        ("SPEAKER_1", "yes I"), ("SPEAKER_2", "agree with that completely")]
    assert srt_tags(transcript) == [("Speaker 1", "yes I"),
                                    ("Speaker 2", "agree with that completely")]
    assert vtt_voices(transcript) == [("Speaker 1", "yes I"),
                                      ("Speaker 2", "agree with that completely")]
    # the same words from one speaker make one cue
    one = transcript_of(segment)
    assert [c.text for c in build_cues(one)] == ["yes I agree with that completely"]


def test_word_less_segments_of_two_speakers_are_two_cues():
    yes, no = untimed(said("SPEAKER_1", 0.0, "Yes.")), untimed(said("SPEAKER_2", 0.4, "No."))
    assert [c.text for c in build_cues(transcript_of(*stripped((yes, no))))] == ["Yes. No."]
    transcript = transcript_of(yes, no)
    assert srt_tags(transcript) == [("Speaker 1", "Yes."), ("Speaker 2", "No.")]
    assert vtt_voices(transcript) == [("Speaker 1", "Yes."), ("Speaker 2", "No.")]


def test_a_segment_without_a_speaker_among_speakers_is_unmarked_and_apart():
    transcript = transcript_of(said("SPEAKER_1", 0.0, "First words."),
                               said(None, 1.0, "Nobody knows who."),
                               said("SPEAKER_1", 2.0, "Back again."))
    assert srt_tags(transcript) == [("Speaker 1", "First words."), (None, "Nobody knows who."),
                                    ("Speaker 1", "Back again.")]
    assert vtt_voices(transcript) == [("Speaker 1", "First words."), (None, "Nobody knows who."),
                                      ("Speaker 1", "Back again.")]
    assert paragraphs(transcript) == ("Speaker 1: First words.", "Nobody knows who.",
                                      "Speaker 1: Back again.")


@pytest.mark.parametrize("speakers", [2, 3])
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_awkward_conversations_keep_every_rule(seed, speakers, layout):
    transcript = awkward(seed, speakers)
    if seed == 1:
        transcript = renamed(transcript, {"SPEAKER_1": "Alice"})
    shape = LAYOUTS[layout]
    assert len(set(speaker_of_each_word(transcript))) == speakers
    assert srt_problems(to_srt(transcript, shape), transcript, shape) == []
    assert vtt_problems(to_vtt(transcript, shape), transcript, shape) == []
    turns = paragraphs(transcript, shape)
    named = [p for p in turns if re.match(r"(Speaker \d|Alice): ", p)]
    changes = sum(a != b for a, b in zip(speaker_of_each_word(transcript),
                                         speaker_of_each_word(transcript)[1:]))
    assert len(named) == changes + 1


# -- the check itself bites ----------------------------------------------------------------

# each corruption is one a broken writer could make, with what the check must say about it
SRT_BREAKS = {
    "tag-dropped": (lambda t: t.replace("[Speaker 2] Thanks", "Thanks", 1),
                    "is marked None, not 'Speaker 2'"),
    "tag-on-a-later-cue": (lambda t: t.replace("Today we", "[Alice] Today we", 1),
                           "is marked 'Alice', not None"),
    "wrong-name": (lambda t: t.replace("[Speaker 3]", "[Speaker 2]", 1),
                   "is marked 'Speaker 2', not 'Speaker 3'"),
    "speakers-mixed": (lambda t: t.replace(
        "too.\n\n5\n00:00:08,400 --> 00:00:09,750\n[Alice] Let",
        "too. Let\n\n5\n00:00:08,400 --> 00:00:09,750\n[Alice]", 1), "mixes speakers"),
    "line-too-long": (lambda t: t.replace("Good morning\nand", "Good morning and", 1),
                      "has a line of 45 characters"),
}
VTT_BREAKS = {
    "voice-dropped": (lambda t: t.replace("<v Speaker 3>", "", 1),
                      "is marked None, not 'Speaker 3'"),
    "wrong-voice": (lambda t: t.replace("<v Speaker 3>", "<v Speaker 2>", 1),
                    "is marked 'Speaker 2', not 'Speaker 3'"),
    "voice-late": (lambda t: t.replace("<v Speaker 3>Glad to", "Glad <v Speaker 3>to", 1),
                   "holds a tag after its start"),
}


@pytest.mark.parametrize("corruption", list(SRT_BREAKS) + list(VTT_BREAKS))
def test_the_speaker_check_refuses_a_corrupted_copy(corruption):
    fmt = "srt" if corruption in SRT_BREAKS else "vtt"
    check = srt_problems if fmt == "srt" else vtt_problems
    corrupt, complaint = {**SRT_BREAKS, **VTT_BREAKS}[corruption]
    good = render(INTERVIEW, fmt)
    bad = corrupt(good)
    assert bad != good, "the corruption must change our output"
    assert check(good, INTERVIEW, LAYOUTS["default"]) == []
    problems = check(bad, INTERVIEW, LAYOUTS["default"])
    assert any(complaint in problem for problem in problems), problems


# -- JSON and CSV --------------------------------------------------------------------------

def test_json_has_the_speaker_on_each_segment_and_word():
    data = json.loads(render(INTERVIEW, "json"))
    assert [seg["speaker"] for seg in data["segments"]] == [
        "Alice", "Alice", "SPEAKER_2", "SPEAKER_3", "Alice", "SPEAKER_2"]
    for seg in data["segments"]:
        assert list(seg) == ["start", "end", "text", "speaker", "words"]
        assert {w["speaker"] for w in seg["words"]} == {seg["speaker"]}
        assert all(list(w) == ["start", "end", "word", "speaker"] for w in seg["words"])
    plain = to_dict(dataclasses.replace(INTERVIEW, segments=stripped(INTERVIEW.segments)))
    assert "speaker" not in json.dumps(plain)


def test_csv_has_a_speaker_column_only_when_diarized():
    rows = list(csv.reader(io.StringIO(to_csv(INTERVIEW))))
    assert rows[0] == ["start", "end", "text", "speaker"]
    assert rows[1] == ["0.000", "2.400", "Good morning and welcome to the show.", "Alice"]
    assert [row[3] for row in rows[1:]] == [
        "Alice", "Alice", "SPEAKER_2", "SPEAKER_3", "Alice", "SPEAKER_2"]
    mixed = transcript_of(said("SPEAKER_1", 0.0, "Hello, you."), said(None, 1.0, "Who, me?"))
    assert list(csv.reader(io.StringIO(to_csv(mixed)))) == [
        ["start", "end", "text", "speaker"], ["0.000", "0.650", "Hello, you.", "SPEAKER_1"],
        ["1.000", "1.650", "Who, me?", ""]]
    plain = dataclasses.replace(INTERVIEW, segments=stripped(INTERVIEW.segments))
    assert next(csv.reader(io.StringIO(to_csv(plain)))) == ["start", "end", "text"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_of_a_conversation_parses_and_names_the_speakers(fmt):
    text = render(INTERVIEW, fmt)
    if fmt == "srt":
        assert len(list(srt.parse(text))) == 7
    elif fmt == "vtt":
        assert len(vtt_captions(text)) == 7
    elif fmt == "json":
        json.loads(text)
    elif fmt == "csv":
        assert len(list(csv.reader(io.StringIO(text)))) == 7
    for name in ("Alice", "Speaker 2", "Speaker 3") if fmt in ("txt", "srt", "vtt") \
            else ("Alice", "SPEAKER_2", "SPEAKER_3"):
        assert name in text


if __name__ == "__main__":
    # recorded once with the writers as they were before speakers existed (python -m
    # tests.formats.test_speakers); rerun only to accept a deliberate change of plain output
    PLAIN_OUTPUTS.write_text(json.dumps(plain_outputs(), ensure_ascii=False, indent=1) + "\n",
                             "utf-8")
