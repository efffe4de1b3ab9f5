"""What the API answers, in OpenAI's shapes: pure functions of our values.

Transcripts as ``json`` / ``verbose_json``, models as OpenAI's list, errors as
OpenAI's error object with the studio's readable text as the message, and the
server-sent events of a streamed transcription.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from stt_studio.domain import ModelSpec, Segment, Task, Transcript, Word
from stt_studio.errors import (
    AudioError,
    InvalidOptionError,
    JobCancelled,
    LiveLimitError,
    ModelNotFoundError,
    StudioError,
    UnexpectedError,
)

#: the error classes whose fault is the request's (4xx), with their status and code
_CLIENT_ERRORS: tuple[tuple[type[StudioError], int, str], ...] = (
    (InvalidOptionError, 400, "invalid_option"),
    (AudioError, 400, "unreadable_audio"),
    (ModelNotFoundError, 404, "model_not_found"),
    (JobCancelled, 499, "cancelled"),
    (LiveLimitError, 429, "live_limit"),
)
#: every other StudioError means the model or its files cannot be used now
UNAVAILABLE = 503
#: who "owns" a model in OpenAI's listing, when its id has no organisation
OWNER = "stt-studio"


def status_of(error: StudioError) -> tuple[int, str, str]:
    """HTTP status, OpenAI error type and code for one of our errors."""
    for cls, status, code in _CLIENT_ERRORS:
        if isinstance(error, cls):
            return status, "invalid_request_error", code
    if isinstance(error, UnexpectedError):
        return 500, "server_error", "unexpected"
    return UNAVAILABLE, "server_error", "model_unavailable"


def error_body(message: str, *, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    """OpenAI's error object."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def studio_error_body(error: StudioError, param: str | None = None) -> tuple[int, dict[str, Any]]:
    """Status and body for one of our errors; the message is what the UI shows."""
    status, type_, code = status_of(error)
    return status, error_body(error.render(), type_=type_, param=param, code=code)


def transcription_json(transcript: Transcript) -> dict[str, Any]:
    """``response_format=json``: the text, and the audio's length as OpenAI bills it."""
    return {"text": transcript.text,
            "usage": {"type": "duration", "seconds": round(transcript.duration_s, 3)},
            **_notes(transcript)}


def _notes(transcript: Transcript) -> dict[str, Any]:
    """The studio's own ``notes`` (speech that gave no text), only when there are any."""
    return {"notes": list(transcript.notes)} if transcript.notes else {}


def verbose_json(transcript: Transcript, task: Task, *, segments: bool,
                 words: bool) -> dict[str, Any]:
    """``response_format=verbose_json``: OpenAI's fields, ``segments`` and ``words`` as asked."""
    body: dict[str, Any] = {
        "task": task.value,
        "language": transcript.language or "",
        "duration": round(transcript.duration_s, 3),
        "text": transcript.text,
    }
    if segments:
        body["segments"] = [_segment(i, s) for i, s in enumerate(transcript.segments)]
    if words:
        body["words"] = [_word(w) for s in transcript.segments for w in s.words]
    body.update(_notes(transcript))
    return body


def _word(word: Word) -> dict[str, Any]:
    out: dict[str, Any] = {"word": word.text, "start": round(word.start_s, 3),
                           "end": round(word.end_s, 3)}
    if word.speaker is not None:
        out["speaker"] = word.speaker
    return out


def _segment(index: int, segment: Segment) -> dict[str, Any]:
    return {
        "id": index,
        "seek": int(round(segment.start_s * 100)),  # Whisper counts in 10 ms frames
        "start": round(segment.start_s, 3),
        "end": round(segment.end_s, 3),
        "text": segment.text,
        "tokens": [],  # our engines' token ids are not comparable across models
        "words": [_word(w) for w in segment.words],
        **({"speaker": segment.speaker} if segment.speaker is not None else {}),
    }


def model_object(spec: ModelSpec, created_s: int, *, cached: bool, loaded: bool) -> dict[str, Any]:
    """One model as OpenAI lists it, plus what a client of this studio wants to know."""
    owner = spec.source.split("/")[0] if "/" in spec.name and not spec.local else OWNER
    return {
        "id": spec.name,
        "object": "model",
        "created": created_s,
        "owned_by": owner,
        "engine": spec.engine.value,
        "description": spec.description,
        "languages": list(spec.languages),
        "translates": spec.translates or (spec.engine.value == "whisper" and spec.multilingual),
        "cached": cached,
        "loaded": loaded,
    }


def model_list(models: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": list(models)}


def sse(data: dict[str, Any] | str) -> bytes:
    """One server-sent event (``data:`` only: OpenAI's clients read the type from the data)."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


def delta_event(text: str) -> bytes:
    return sse({"type": "transcript.text.delta", "delta": text})


def done_event(transcript: Transcript) -> bytes:
    return sse({"type": "transcript.text.done", "text": transcript.text,
                "usage": {"type": "duration", "seconds": round(transcript.duration_s, 3)},
                **_notes(transcript)})


def deltas(segments: Sequence[Segment], first: bool) -> str:
    """The text of newly final segments, joined as the transcript joins them."""
    texts = [s.text.strip() for s in segments if s.text.strip()]
    joined = " ".join(texts)
    return joined if first or not joined else " " + joined
