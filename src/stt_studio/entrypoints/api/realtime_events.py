"""The realtime protocol's pure parts: a session's configuration, ``session.update``
parsed into it, and server events built in OpenAI's shape (no I/O, no FastAPI)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from stt_studio.domain import TranscriptionOptions
from stt_studio.live.detector import TurnRules

#: the input rates taken (OpenAI's ``audio/pcm`` is 24 kHz; 16 kHz is the models' own)
RATES_HZ = (24_000, 16_000)


class ProtocolError(Exception):
    """A client event this server cannot take: an ``error`` event, the session goes on."""

    def __init__(self, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param


@dataclass(frozen=True, slots=True)
class Config:
    """A transcription session as the client set it (None model: the studio's default)."""

    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    rate_hz: int = 24_000
    turns: TurnRules | None = field(default_factory=TurnRules)

    def options(self) -> TranscriptionOptions:
        return TranscriptionOptions(language=self.language)


def server_event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": "event_" + uuid.uuid4().hex[:20], **fields}


def session_object(session_id: str, config: Config) -> dict[str, Any]:
    """The session as ``session.created`` / ``.updated`` carry it."""
    turns = config.turns
    return {
        "type": "transcription",
        "id": session_id,
        "object": "realtime.transcription_session",
        "audio": {"input": {
            "format": {"type": "audio/pcm", "rate": config.rate_hz},
            "transcription": {"model": config.model, "language": config.language,
                              "prompt": config.prompt},
            "turn_detection": None if turns is None else {
                "type": "server_vad", "threshold": turns.threshold,
                "prefix_padding_ms": turns.prefix_padding_ms,
                "silence_duration_ms": turns.silence_duration_ms},
            "noise_reduction": None,
        }},
        "include": None,
    }


def parse_update(event: dict[str, Any], current: Config) -> Config:
    """``session.update`` applied to ``current``: only the fields it names change."""
    session = event.get("session")
    if not isinstance(session, dict):
        raise ProtocolError("session.update needs a `session` object.", "invalid_event",
                            "session")
    kind = session.get("type", "transcription")
    if kind != "transcription":
        raise ProtocolError(f"This server transcribes: `session.type` must be "
                            f"\"transcription\", not {kind!r}.", "invalid_value",
                            "session.type")
    audio = _object(session, "audio", "session")
    given = _object(audio, "input", "session.audio")
    config = current
    if "format" in given:
        config = replace(config, rate_hz=_rate(given["format"]))
    if "transcription" in given:
        config = _transcription(config, given["transcription"])
    if "turn_detection" in given:
        config = replace(config, turns=_turns(given["turn_detection"], current.turns))
    return config


def _object(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"`{where}.{key}` must be an object.", "invalid_type",
                            f"{where}.{key}")
    return value


def _rate(value: Any) -> int:
    param = "session.audio.input.format"
    if not isinstance(value, dict):
        raise ProtocolError(f"`{param}` must be an object such as "
                            "{\"type\": \"audio/pcm\", \"rate\": 24000}.", "invalid_type", param)
    kind = value.get("type", "audio/pcm")
    if kind != "audio/pcm":
        raise ProtocolError(f"The audio format {kind!r} is not taken: send \"audio/pcm\" "
                            "(16-bit little-endian mono).", "invalid_value", param + ".type")
    rate = value.get("rate", 24_000)
    if rate not in RATES_HZ or isinstance(rate, bool):
        raise ProtocolError(f"The rate {rate!r} is not taken: send 24000 or 16000 Hz.",
                            "invalid_value", param + ".rate")
    return int(rate)


def _text(value: Any, param: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"`{param}` must be a string.", "invalid_type", param)
    return value.strip() or None


def _transcription(config: Config, value: Any) -> Config:
    param = "session.audio.input.transcription"
    if value is None:
        return replace(config, model=None, language=None, prompt=None)
    if not isinstance(value, dict):
        raise ProtocolError(f"`{param}` must be an object.", "invalid_type", param)
    changes: dict[str, Any] = {}
    for key in ("model", "language", "prompt"):
        if key in value:
            changes[key] = _text(value[key], f"{param}.{key}")
    return replace(config, **changes)


def _turns(value: Any, current: TurnRules | None) -> TurnRules | None:
    param = "session.audio.input.turn_detection"
    if value is None:
        return None  # the client commits each turn
    if not isinstance(value, dict):
        raise ProtocolError(f"`{param}` must be an object or null.", "invalid_type", param)
    kind = value.get("type", "server_vad")
    if kind != "server_vad":
        raise ProtocolError(f"The turn detection {kind!r} is not offered: use \"server_vad\" "
                            "or null (the client commits).", "invalid_value", param + ".type")
    base = current or TurnRules()
    numbers: dict[str, Any] = {}
    for key, kinds in (("threshold", (int, float)), ("prefix_padding_ms", (int,)),
                       ("silence_duration_ms", (int,))):
        if value.get(key) is None:
            continue
        number = value[key]
        if isinstance(number, bool) or not isinstance(number, kinds):
            raise ProtocolError(f"`{param}.{key}` must be a number.", "invalid_type",
                                f"{param}.{key}")
        numbers[key] = number
    return replace(base, **numbers)  # TurnRules checks the ranges (InvalidOptionError)
