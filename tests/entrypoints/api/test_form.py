"""The request's form fields -> options: OpenAI's spellings and the studio's extras."""

from __future__ import annotations

import pytest

from stt_studio.domain import LongAudio, Task, TranscriptionOptions
from stt_studio.entrypoints.api.form import ResponseFormat, parse
from stt_studio.errors import InvalidOptionError


def fields(**values):
    return {k: v if isinstance(v, list) else [v] for k, v in values.items()}


def test_defaults_are_openais():
    request = parse({}, Task.TRANSCRIBE)
    assert request.response_format is ResponseFormat.JSON
    assert request.model is None and request.stream is False
    assert request.options.word_timestamps is False  # json needs no word times: faster
    assert request.options.vad is TranscriptionOptions().vad
    assert request.segments and not request.words


@pytest.mark.parametrize("key", ["timestamp_granularities[]", "timestamp_granularities"])
def test_both_spellings_of_granularities(key):
    request = parse(fields(**{key: ["word", "segment"], "response_format": "verbose_json"}),
                    Task.TRANSCRIBE)
    assert request.words and request.segments and request.options.word_timestamps


def test_word_only_leaves_segments_out():
    request = parse(fields(**{"timestamp_granularities[]": "word",
                              "response_format": "verbose_json"}), Task.TRANSCRIBE)
    assert request.words and not request.segments


def test_subtitles_ask_for_word_times():
    assert parse(fields(response_format="srt"), Task.TRANSCRIBE).options.word_timestamps


def test_extras_reach_the_options():
    request = parse(fields(model="tiny.en", language="EN", prompt="Kennedy", temperature="0.4",
                           beam_size="2", batch_size="1", vad="false", long_audio="windows",
                           max_line_chars="30", max_lines="1", max_cue_s="4", stream="true"),
                    Task.TRANSCRIBE)
    options = request.options
    assert (options.language, options.initial_prompt, options.temperature) == ("en", "Kennedy",
                                                                                0.4)
    assert (options.beam_size, options.batch_size, options.vad) == (2, 1, False)
    assert options.long_audio is LongAudio.WINDOWS
    assert (request.layout.max_line_chars, request.layout.max_lines) == (30, 1)
    assert request.stream and request.model == "tiny.en"


def test_translation_targets_english():
    options = parse({}, Task.TRANSLATE).options
    assert options.task is Task.TRANSLATE and options.target_language == "en"


@pytest.mark.parametrize(("values", "param"), [
    ({"response_format": "xml"}, "response_format"),
    ({"temperature": "hot"}, "temperature"),
    ({"temperature": "3"}, "temperature"),
    ({"batch_size": "0"}, "batch_size"),
    ({"beam_size": "1.5"}, "beam_size"),
    ({"language": "e n"}, "language"),
    ({"vad": "maybe"}, "vad"),
    ({"long_audio": "forever"}, "long_audio"),
    ({"max_lines": "9"}, "max_lines"),
    ({"timestamp_granularities[]": "word"}, "timestamp_granularities[]"),
    ({"timestamp_granularities[]": "char", "response_format": "verbose_json"},
     "timestamp_granularities[]"),
    ({"timestamp_granularities[]": "word", "response_format": "verbose_json",
      "word_timestamps": "false"}, "word_timestamps"),
])
def test_a_bad_field_is_named(values, param):
    with pytest.raises(InvalidOptionError) as caught:
        parse(fields(**values), Task.TRANSCRIBE)
    assert caught.value.option == param
    assert "What to do" in caught.value.render()


def test_empty_values_count_as_absent():
    request = parse(fields(language="", prompt="", model=""), Task.TRANSCRIBE)
    assert request.model is None and request.options.language is None
    assert request.options.initial_prompt is None
