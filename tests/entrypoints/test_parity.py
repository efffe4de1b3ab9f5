"""One set of transcription options: the CLI, the UI/API and the domain agree."""

from __future__ import annotations

import dataclasses
import inspect

from stt_studio.domain import TranscriptionOptions
from stt_studio.entrypoints.cli import build_parser
from stt_studio.entrypoints.ui_handlers import StudioUI

# how each shell spells an option it cannot name after the field
CLI_SPELLING = {"word_timestamps": "no_word_timestamps"}


def _transcribe_parser():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices["transcribe"]


def test_every_option_is_a_cli_flag():
    dests = {a.dest for a in _transcribe_parser()._actions}
    for field in dataclasses.fields(TranscriptionOptions):
        assert CLI_SPELLING.get(field.name, field.name) in dests, field.name


def test_every_option_is_a_ui_control_and_api_parameter():
    params = inspect.signature(StudioUI.transcribe).parameters
    for field in dataclasses.fields(TranscriptionOptions):
        assert field.name in params, field.name


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
    "temperature": ("temperature", "0.5"),
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
