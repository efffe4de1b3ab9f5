"""The fields of a transcription request -> typed values, or a 400 that names the field.

OpenAI's fields (``model``, ``language``, ``prompt``, ``response_format``,
``timestamp_granularities[]``, ``temperature``, ``stream``) plus the studio's
own (``beam_size``, ``batch_size``, ``vad``, ``long_audio``, ``target_language``,
``max_line_chars``, ``max_lines``, ``max_cue_s``, ``compute_type``), all as form fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from stt_studio.domain import ComputeType, LongAudio, Task, TranscriptionOptions
from stt_studio.errors import InvalidOptionError
from stt_studio.formats import SubtitleLayout

T = TypeVar("T")

_DEFAULTS = TranscriptionOptions()
_LAYOUT = SubtitleLayout()


class ResponseFormat(str, Enum):
    JSON = "json"
    TEXT = "text"
    SRT = "srt"
    VTT = "vtt"
    VERBOSE_JSON = "verbose_json"


GRANULARITIES = ("segment", "word")
#: the studio's own fields, beyond OpenAI's (documented in the README)
EXTRA_FIELDS = ("beam_size", "batch_size", "vad", "long_audio", "target_language",
                "word_timestamps", "max_line_chars", "max_lines", "max_cue_s", "diarize",
                "speakers", "min_speakers", "max_speakers", "compute_type")


def field_error(param: str, summary: str, remedy: str) -> InvalidOptionError:
    """A form field holds something this API cannot take; ``option`` names the field."""
    return InvalidOptionError(summary, option=param, remedies=(remedy,))


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """A transcription or translation request, checked."""

    model: str | None
    options: TranscriptionOptions
    response_format: ResponseFormat
    segments: bool  # verbose_json: segments wanted
    words: bool  # verbose_json: words wanted
    stream: bool
    layout: SubtitleLayout


def parse(fields: Mapping[str, Sequence[str]], task: Task) -> ApiRequest:
    """Form fields (each name -> its values) -> :class:`ApiRequest`; InvalidOptionError (``.option``) when wrong."""
    def one(name: str) -> str | None:
        values = [v for v in fields.get(name, ()) if v != ""]
        return values[-1].strip() if values else None

    response_format = _choice(one("response_format") or "json", ResponseFormat,
                              "response_format")
    granularities = [g.strip() for key in ("timestamp_granularities[]", "timestamp_granularities")
                     for value in fields.get(key, ()) for g in value.split(",") if g.strip()]
    for g in granularities:
        if g not in GRANULARITIES:
            raise field_error("timestamp_granularities[]", f"unknown timestamp granularity {g!r}",
                             "Send segment and/or word")
    if granularities and response_format is not ResponseFormat.VERBOSE_JSON:
        raise field_error("timestamp_granularities[]",
                         "timestamp_granularities needs response_format=verbose_json",
                         "Ask for verbose_json, or leave timestamp_granularities out")
    wants_words = "word" in granularities
    subtitles = response_format in (ResponseFormat.SRT, ResponseFormat.VTT)
    word_timestamps = _flag(one("word_timestamps"), "word_timestamps",
                            default=wants_words or subtitles)
    if wants_words and not word_timestamps:
        raise field_error("word_timestamps", "word_timestamps=false contradicts "
                         "timestamp_granularities[]=word", "Leave one of the two out")
    language = one("language")
    counts = {name: _count(one(name), name) for name in ("speakers", "min_speakers",
                                                         "max_speakers")}
    diarize = _flag(one("diarize"), "diarize",
                    default=any(n is not None for n in counts.values()))
    compute_type = one("compute_type")  # none: the server's (--compute-type)
    try:
        options = TranscriptionOptions(
            language=language.lower() if language else None,
            task=task,
            target_language=one("target_language") or ("en" if task is Task.TRANSLATE else None),
            word_timestamps=word_timestamps,
            beam_size=_number(one("beam_size"), int, "beam_size", _DEFAULTS.beam_size),
            batch_size=_number(one("batch_size"), int, "batch_size", _DEFAULTS.batch_size),
            vad=_flag(one("vad"), "vad", default=_DEFAULTS.vad),
            long_audio=_choice(one("long_audio") or _DEFAULTS.long_audio.value, LongAudio,
                               "long_audio"),
            initial_prompt=one("prompt"),
            temperature=_number(one("temperature"), float, "temperature", _DEFAULTS.temperature),
            diarize=diarize,
            speakers=counts["speakers"],
            min_speakers=counts["min_speakers"],
            max_speakers=counts["max_speakers"],
            compute_type=(_choice(compute_type, ComputeType, "compute_type")
                          if compute_type else None),
        )
    except ValueError as exc:
        raise field_error(_field_named(str(exc)), str(exc), "Correct the field and send again",
                         ) from exc
    try:
        layout = SubtitleLayout(
            max_line_chars=_number(one("max_line_chars"), int, "max_line_chars",
                                   _LAYOUT.max_line_chars),
            max_lines=_number(one("max_lines"), int, "max_lines", _LAYOUT.max_lines),
            max_cue_s=_number(one("max_cue_s"), float, "max_cue_s", _LAYOUT.max_cue_s),
        )
    except ValueError as exc:
        raise field_error(_field_named(str(exc)), str(exc), "Correct the field and send again",
                         ) from exc
    return ApiRequest(
        model=one("model"), options=options, response_format=response_format,
        segments=not granularities or "segment" in granularities, words=wants_words,
        stream=_flag(one("stream"), "stream", default=False), layout=layout,
    )


def _field_named(message: str) -> str:
    """The field a domain validation message is about (its first word)."""
    first = message.split(" ", 1)[0]
    return {"initial_prompt": "prompt"}.get(first, first)


E = TypeVar("E", bound=Enum)


def _choice(text: str, kind: type[E], name: str) -> E:
    try:
        return kind(text.lower())
    except ValueError:
        allowed = ", ".join(str(member.value) for member in kind)
        raise field_error(name, f"{name} cannot be {text!r}", f"Use one of: {allowed}") from None


def _number(text: str | None, kind: Callable[[str], T], name: str, default: T) -> T:
    if text is None:
        return default
    try:
        return kind(text)
    except ValueError:
        raise field_error(name, f"{name} must be a number, not {text!r}",
                         f"Send {name} as a number, e.g. {default}") from None


def _count(text: str | None, name: str) -> int | None:
    return None if text is None else _number(text, int, name, 0)


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def _flag(text: str | None, name: str, *, default: bool) -> bool:
    if text is None:
        return default
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise field_error(name, f"{name} must be true or false, not {text!r}",
                     f"Send {name}=true or {name}=false")
