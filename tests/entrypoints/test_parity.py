"""One set of transcription options: the CLI, the UI/API and the domain agree."""

from __future__ import annotations

import dataclasses
import inspect

from stt_studio.domain import TranscriptionOptions
from stt_studio.entrypoints import ui_view as view
from stt_studio.entrypoints.cli import build_parser
from stt_studio.entrypoints.ui_handlers import StudioUI, _options

# how each shell spells an option it cannot name after the field
CLI_SPELLING = {"word_timestamps": "no_word_timestamps"}
# the page's one Speakers control (Off / Automatic / a number) says diarize and the count
UI_SPELLING = {"diarize": "speakers"}


def _transcribe_parser():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices["transcribe"]


def test_every_option_is_a_cli_flag():
    dests = {a.dest for a in _transcribe_parser()._actions}
    for field in dataclasses.fields(TranscriptionOptions):
        assert CLI_SPELLING.get(field.name, field.name) in dests, field.name


def test_every_option_is_a_ui_control_and_api_parameter():
    for handler in (StudioUI.transcribe, StudioUI.transcribe_one):
        params = inspect.signature(handler).parameters
        for field in dataclasses.fields(TranscriptionOptions):
            assert UI_SPELLING.get(field.name, field.name) in params, (handler, field.name)
    # nothing else is spelled differently: every other option keeps its field's name
    assert set(UI_SPELLING) == {"diarize"}


def _ui_options(**controls) -> TranscriptionOptions:
    """The options the handler makes from its own defaults and ``controls``."""
    params = inspect.signature(_options).parameters
    values = {name: p.default for name, p in params.items() if p.default is not p.empty}
    values.update(language=None, task="transcribe", target_language=None,
                  word_timestamps=True, formats=None, beam_size=5, batch_size=8, vad=True,
                  long_audio="auto")
    values.update(controls)
    return _options(**values)[0]


def test_the_speakers_control_spells_diarize_and_the_count():
    defaults = TranscriptionOptions()
    params = inspect.signature(StudioUI.transcribe).parameters
    assert params["speakers"].default == view.SPEAKERS_OFF
    assert params["min_speakers"].default == params["max_speakers"].default == 0
    off = _ui_options(speakers=params["speakers"].default,
                      min_speakers=params["min_speakers"].default,
                      max_speakers=params["max_speakers"].default)
    assert (off.diarize, off.speakers, off.min_speakers, off.max_speakers) == (
        defaults.diarize, defaults.speakers, defaults.min_speakers, defaults.max_speakers)
    auto = _ui_options(speakers="Automatic", min_speakers=2, max_speakers=4)
    assert (auto.diarize, auto.speakers, auto.min_speakers, auto.max_speakers) == (
        True, None, 2, 4)
    exact = _ui_options(speakers="3")
    assert (exact.diarize, exact.speakers, exact.min_speakers, exact.max_speakers) == (
        True, 3, None, None)
    # every choice the page offers is understood
    for choice in view.SPEAKER_CHOICES:
        _ui_options(speakers=choice)


def test_defaults_agree():
    defaults = TranscriptionOptions()
    params = inspect.signature(StudioUI.transcribe).parameters
    cli = {a.dest: a.default for a in _transcribe_parser()._actions}
    assert params["word_timestamps"].default is defaults.word_timestamps
    assert cli["no_word_timestamps"] is (not defaults.word_timestamps)
    assert params["beam_size"].default == cli["beam_size"] == defaults.beam_size
    assert params["task"].default == cli["task"] == defaults.task.value
    assert cli["language"] is defaults.language and cli["target_language"] is None
    assert params["temperature"].default == cli["temperature"] == defaults.temperature
    assert params["initial_prompt"].default is cli["initial_prompt"] is defaults.initial_prompt


# a form value for each option that differs from its default, as an HTTP client sends it
API_FIELDS = {
    "language": ("language", "de"), "target_language": ("target_language", "fr"),
    "word_timestamps": ("word_timestamps", "true"), "beam_size": ("beam_size", "2"),
    "batch_size": ("batch_size", "3"), "vad": ("vad", "false"),
    "long_audio": ("long_audio", "windows"), "initial_prompt": ("prompt", "Kennedy"),
    "temperature": ("temperature", "0.5"), "diarize": ("diarize", "true"),
    "speakers": ("speakers", "2"), "min_speakers": ("min_speakers", "2"),
    "max_speakers": ("max_speakers", "3"), "compute_type": ("compute_type", "float32"),
}


def test_every_option_is_an_api_field():
    from stt_studio.domain import Task
    from stt_studio.entrypoints.api.form import EXTRA_FIELDS, parse

    defaults = parse({}, Task.TRANSCRIBE).options
    for field in dataclasses.fields(TranscriptionOptions):
        if field.name == "task":  # the endpoint says it: /transcriptions or /translations
            assert parse({}, Task.TRANSLATE).options.task is Task.TRANSLATE
            continue
        name, value = API_FIELDS[field.name]
        options = parse({name: [value]}, Task.TRANSCRIBE).options
        assert getattr(options, field.name) != getattr(defaults, field.name), field.name
        assert name in EXTRA_FIELDS or name in ("language", "prompt", "temperature"), name
