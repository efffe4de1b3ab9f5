"""Faults at the realtime API (``/v1/realtime?intent=transcription``): bad client events,
a client that never commits, a dropped connection; each over a real server and the
official ``openai`` SDK, and the session (or the server) goes on transcribing."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest

from tests.entrypoints.api.conftest import api_server
from tests.entrypoints.api.test_realtime import (
    chunks,
    client,
    events_until,
    leases,
    pcm24,
    run_async,
)

A = base64.b64encode(b"\x00\x00" * 2400).decode()  # 100 ms of 24 kHz silence
BAD_EVENTS = {
    "garbage text": ("not json", "invalid_json"),
    "bad base64 audio": (json.dumps({"type": "input_audio_buffer.append", "audio": "@@@"}),
                         "invalid_audio"),
    "an odd number of audio bytes": (json.dumps({
        "type": "input_audio_buffer.append", "audio": base64.b64encode(b"abc").decode()}),
        "invalid_audio"),
    "an event type it does not take": (json.dumps({"type": "response.create"}),
                                       "unknown_event"),
    "a sample rate of 44100 Hz": (json.dumps({"type": "session.update", "session": {
        "type": "transcription", "audio": {"input": {
            "format": {"type": "audio/pcm", "rate": 44100}}}}}), "invalid_value"),
    "a VAD threshold of 7": (json.dumps({"type": "session.update", "session": {
        "type": "transcription", "audio": {"input": {
            "turn_detection": {"type": "server_vad", "threshold": 7}}}}}), "invalid_option"),
    "an unknown model": (json.dumps({"type": "session.update", "session": {
        "type": "transcription", "audio": {"input": {
            "transcription": {"model": "no-such-model"}}}}}), "model_not_found"),
    "a 20 MB event": (json.dumps({"type": "input_audio_buffer.append",
                                  "audio": "A" * (20 * 1024 * 1024)}), "event_too_large"),
}


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    from tests.support.conversations import spoken

    return spoken(1, target_s=5.0).samples


@pytest.fixture(scope="module")
def served(session_studio) -> Any:
    session_studio.load("tiny.en")
    with api_server(session_studio) as running:
        yield running


@pytest.mark.parametrize("fault", list(BAD_EVENTS))
@pytest.mark.fault("bad input", "a realtime client sends {fault}",
                   "an `error` event with its code and a readable message; the session goes "
                   "on and transcribes the speech sent next")
def test_a_bad_client_event(fault, served, session_studio, speech):
    raw, code = BAD_EVENTS[fault]

    async def run() -> list[Any]:
        async with client(served).realtime.connect(
                extra_query={"intent": "transcription", "model": "tiny.en"}) as connection:
            await connection.recv()
            await connection.send_raw(raw)
            await connection.session.update(session={"type": "transcription", "audio": {
                "input": {"turn_detection": None}}})
            for piece in chunks(pcm24(speech)):
                await connection.input_audio_buffer.append(audio=piece)
            await connection.input_audio_buffer.commit()
            return await events_until(connection, lambda seen: any(
                e.type.endswith("transcription.completed") for e in seen))

    seen = run_async(run())
    errors = [e.error for e in seen if e.type == "error"]
    assert [e.code for e in errors] == [code], errors
    assert errors[0].type == "invalid_request_error" and len(errors[0].message) > 20
    done = [e for e in seen if e.type.endswith("transcription.completed")]
    assert done and len(done[0].transcript.split()) >= 5, done
    assert leases(session_studio) == 0


@pytest.mark.fault("bad input", "a realtime client with turn detection off never commits "
                   "and sends over 2 minutes of audio",
                   "a `live_limit` error event says so; a commit then transcribes what was "
                   "taken and the session goes on")
def test_a_client_that_never_commits(served, session_studio, speech):
    async def run() -> list[Any]:
        async with client(served).realtime.connect(
                extra_query={"intent": "transcription", "model": "tiny.en"}) as connection:
            await connection.recv()
            await connection.session.update(session={"type": "transcription", "audio": {
                "input": {"turn_detection": None}}})
            for piece in chunks(pcm24(speech)):
                await connection.input_audio_buffer.append(audio=piece)
            for _ in range(1250):  # 125 s of quiet, never committed
                await connection.input_audio_buffer.append(audio=A)
            await connection.input_audio_buffer.commit()
            return await events_until(connection, lambda seen: any(
                e.type.endswith("transcription.completed") for e in seen), 180)

    seen = run_async(run())
    codes = {e.error.code for e in seen if e.type == "error"}
    assert codes == {"live_limit"}, codes
    done = [e for e in seen if e.type.endswith("transcription.completed")]
    assert done and len(done[0].transcript.split()) >= 5, done
    assert leases(session_studio) == 0


@pytest.mark.fault("bad input", "a realtime client's connection drops in the middle of a turn",
                   "the session is aborted, its model lease and thread are freed, and the "
                   "next connection transcribes as usual")
def test_a_connection_dropped_mid_turn(served, session_studio, speech):
    async def drop() -> None:
        async with client(served).realtime.connect(
                extra_query={"intent": "transcription"}) as connection:
            await connection.recv()
            for piece in chunks(pcm24(speech))[:25]:  # 2.5 s: mid-turn
                await connection.input_audio_buffer.append(audio=piece)
            await events_until(connection, lambda seen: any(
                e.type == "input_audio_buffer.speech_started" for e in seen), 30)

    async def again() -> list[Any]:
        async with client(served).realtime.connect(
                extra_query={"intent": "transcription"}) as connection:
            await connection.recv()
            for piece in chunks(pcm24(np.concatenate([speech, np.zeros(16_000, "f4")]))):
                await connection.input_audio_buffer.append(audio=piece)
            return await events_until(connection, lambda seen: any(
                e.type.endswith("transcription.completed") for e in seen))

    run_async(drop())
    assert leases(session_studio) == 0
    done = [e for e in run_async(again()) if e.type.endswith("transcription.completed")]
    assert done and done[0].transcript.strip()
