"""OpenAI's shapes, from our values: errors, transcripts, models, events."""

from __future__ import annotations

import json

import pytest

from stt_studio import errors
from stt_studio.domain import Segment, Task, Transcript, Word
from stt_studio.entrypoints.api import shapes
from stt_studio.models import catalog

TRANSCRIPT = Transcript(
    text="Hello there. General Kenobi.", language="en", duration_s=4.25, model="tiny.en",
    segments=(
        Segment(0.0, 1.5, "Hello there.", (Word(0.0, 0.6, "Hello"), Word(0.7, 1.5, "there."))),
        Segment(2.0, 4.0, "General Kenobi.", (Word(2.0, 3.0, "General"),
                                              Word(3.1, 4.0, "Kenobi."))),
    ),
)


@pytest.mark.parametrize(("error", "status", "code"), [
    (errors.InvalidOptionError("x"), 400, "invalid_option"),
    (errors.AudioError("x"), 400, "unreadable_audio"),
    (errors.ModelNotFoundError("x"), 404, "model_not_found"),
    (errors.FileLockedError("x"), 503, "model_unavailable"),
    (errors.NetworkError("x"), 503, "model_unavailable"),
    (errors.EngineMissingError("x"), 503, "model_unavailable"),
    (errors.PermissionDeniedError("x"), 503, "model_unavailable"),
    (errors.FileSystemError("x"), 503, "model_unavailable"),
    (errors.UnexpectedError("x"), 500, "unexpected"),
])
def test_every_error_has_a_status(error, status, code):
    got, body = shapes.studio_error_body(error, "model")
    assert got == status
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == code and body["error"]["param"] == "model"
    assert body["error"]["message"] == error.render()  # the UI's text, word for word


def test_every_error_class_is_mapped_on_purpose():
    """A new error class must be placed: client fault (4xx) or unavailable (503)."""
    classes = {cls for cls in vars(errors).values()
               if isinstance(cls, type) and issubclass(cls, errors.StudioError)
               and cls is not errors.StudioError}
    mapped_4xx = {cls for cls, _, _ in shapes._CLIENT_ERRORS}
    unavailable = {errors.FileLockedError, errors.PermissionDeniedError, errors.NetworkError,
                   errors.FileSystemError, errors.EngineMissingError, errors.ModelInUseError,
                   errors.ServerError, errors.UnexpectedError}
    assert classes - mapped_4xx - unavailable == set()


def test_json_is_text_and_duration():
    assert shapes.transcription_json(TRANSCRIPT) == {
        "text": TRANSCRIPT.text, "usage": {"type": "duration", "seconds": 4.25}}


def test_verbose_json_has_openais_fields():
    body = shapes.verbose_json(TRANSCRIPT, Task.TRANSCRIBE, segments=True, words=True)
    assert (body["task"], body["language"], body["duration"]) == ("transcribe", "en", 4.25)
    assert [s["id"] for s in body["segments"]] == [0, 1]
    assert body["segments"][1]["start"] == 2.0 and body["segments"][1]["seek"] == 200
    assert [w["word"] for w in body["words"]] == ["Hello", "there.", "General", "Kenobi."]
    assert body["words"][3] == {"word": "Kenobi.", "start": 3.1, "end": 4.0}


def test_verbose_json_leaves_out_what_was_not_asked():
    body = shapes.verbose_json(TRANSCRIPT, Task.TRANSLATE, segments=False, words=False)
    assert "segments" not in body and "words" not in body and body["task"] == "translate"


def test_models_in_openais_list():
    spec = catalog.resolve("nvidia/parakeet-tdt-0.6b-v2")
    row = shapes.model_object(spec, 1700000000, cached=False, loaded=False)
    assert (row["id"], row["object"], row["owned_by"]) == (spec.name, "model", "nvidia")
    bundled = shapes.model_object(catalog.resolve("tiny.en"), 1, cached=True, loaded=True)
    assert bundled["owned_by"] == shapes.OWNER and bundled["translates"] is False
    small = shapes.model_object(catalog.resolve("small"), 1, cached=False, loaded=False)
    assert small["translates"] is True  # multilingual Whisper translates into English
    assert shapes.model_list([row]) == {"object": "list", "data": [row]}


def test_stream_events():
    raw = shapes.delta_event("Hello")
    assert raw.startswith(b"data: ") and raw.endswith(b"\n\n")
    assert json.loads(raw[6:]) == {"type": "transcript.text.delta", "delta": "Hello"}
    done = json.loads(shapes.done_event(TRANSCRIPT)[6:])
    assert done["type"] == "transcript.text.done" and done["text"] == TRANSCRIPT.text


def test_deltas_join_like_the_transcript():
    first = shapes.deltas(TRANSCRIPT.segments[:1], first=True)
    rest = shapes.deltas(TRANSCRIPT.segments[1:], first=False)
    assert first + rest == TRANSCRIPT.text
    assert shapes.deltas([Segment(0, 1, "  ")], first=False) == ""
