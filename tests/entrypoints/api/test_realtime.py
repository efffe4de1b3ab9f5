"""``/v1/realtime?intent=transcription`` against the official ``openai`` SDK, unchanged,
over a real uvicorn server and real WebSockets; tiny.en and Silero on real speech.
Bad events and dropped connections: tests/faults/test_realtime.py."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from typing import Any

import numpy as np
import pytest

from stt_studio.domain import SAMPLE_RATE_HZ

CHUNK_S = 0.1


def run_async(coro: Any) -> Any:
    """``asyncio.run`` on a thread of its own: a browser test before may have left this
    thread's event loop running (Playwright's sync API)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def pcm24(samples_16k: np.ndarray) -> bytes:
    """16 kHz float -> 24 kHz PCM16, as a browser or OpenAI's clients send it."""
    n = int(len(samples_16k) * 1.5)
    at = np.arange(n) / 24_000.0
    up = np.interp(at, np.arange(len(samples_16k)) / SAMPLE_RATE_HZ, samples_16k)
    return (np.clip(up, -1, 1) * 32767).astype("<i2").tobytes()


def chunks(pcm: bytes, rate_hz: int = 24_000) -> list[str]:
    step = int(rate_hz * CHUNK_S) * 2
    return [base64.b64encode(pcm[i:i + step]).decode() for i in range(0, len(pcm), step)]


async def events_until(connection: Any, done: Any, timeout_s: float = 120.0) -> list[Any]:
    """Server events until ``done(events)`` holds (or the time is up)."""
    seen: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while not done(seen) and time.monotonic() < deadline:
        try:
            seen.append(await asyncio.wait_for(connection.recv(), 1.0))
        except TimeoutError:
            continue
    return seen


def completed_all(seen: list[Any]) -> bool:
    committed = {e.item_id for e in seen if e.type == "input_audio_buffer.committed"}
    done = {e.item_id for e in seen
            if e.type == "conversation.item.input_audio_transcription.completed"}
    return bool(committed) and committed <= done and any(
        e.type == "error" and e.error.code == "input_audio_buffer_commit_empty" for e in seen)


def client(served: Any, key: str = "unused") -> Any:
    from openai import AsyncOpenAI

    return AsyncOpenAI(base_url=served.base_url + "v1", api_key=key, max_retries=0)


def test_the_openai_sdk_transcribes_speech_turn_by_turn(served, session_studio):
    """server_vad turns over 24 kHz PCM: speech_started/stopped with times, committed,
    append-only deltas that join to each completed transcript, usage in seconds, and the
    words of the references."""
    from openai.types.realtime import ConversationItemInputAudioTranscriptionCompletedEvent

    from stt_studio.evaluation import normalize_text, word_error_rate
    from tests.support.conversations import spoken

    talk = spoken(2, target_s=25.0)
    audio = np.concatenate([talk.samples, np.zeros(SAMPLE_RATE_HZ, np.float32)])

    async def run() -> list[Any]:
        async with client(served).realtime.connect(
                extra_query={"intent": "transcription"}) as connection:
            created = await connection.recv()
            assert created.type == "session.created"
            assert created.session.type == "transcription"
            await connection.session.update(session={
                "type": "transcription",
                "audio": {"input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "tiny.en", "language": "en"},
                    "turn_detection": {"type": "server_vad", "threshold": 0.5,
                                       "prefix_padding_ms": 300, "silence_duration_ms": 500},
                }}})
            for piece in chunks(pcm24(audio)):  # at twice real time, as a fast client would
                await connection.input_audio_buffer.append(audio=piece)
                await asyncio.sleep(CHUNK_S / 2)
            await connection.input_audio_buffer.commit()  # nothing left open: an empty commit
            return await events_until(connection, completed_all)

    seen = run_async(run())
    kinds = [e.type for e in seen]
    assert "session.updated" in kinds
    assert kinds.count("input_audio_buffer.speech_started") >= 2
    completed = [e for e in seen if isinstance(
        e, ConversationItemInputAudioTranscriptionCompletedEvent)]
    assert len(completed) == kinds.count("input_audio_buffer.committed")
    starts = [e.audio_start_ms for e in seen if e.type == "input_audio_buffer.speech_started"]
    assert starts == sorted(starts) and starts[0] < 2000
    several = 0
    for item in completed:
        deltas = [e.delta for e in seen if e.type.endswith("transcription.delta")
                  and e.item_id == item.item_id]
        assert "".join(deltas) == item.transcript
        several += len(deltas) > 1
        assert item.usage.type == "duration" and item.usage.seconds > 0
    assert several, "no turn's text settled while it was still being spoken"
    heard = " ".join(e.transcript for e in completed)
    reference = " ".join(t.text for t in talk.turns)
    wer = word_error_rate([(reference, heard)]).wer
    assert wer < 0.25, (wer, normalize_text(heard), normalize_text(reference))
    assert leases(session_studio) == 0


def leases(studio: Any) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        held = sum(slot.leases for slot in studio.models._slots.values())
        if held == 0 and not any(t.name == "realtime-session" for t in threading.enumerate()):
            return 0
        time.sleep(0.1)
    return held


def test_access_intent_and_session_limit(session_studio):
    """A wrong key is refused at the handshake (1008), a connection without the
    transcription intent and one past --max-live-sessions get an error event and close."""
    import websockets
    from openai import AsyncOpenAI

    from stt_studio.entrypoints.api.access import decide
    from stt_studio.entrypoints.server import ServeOptions, start
    from tests.support.browser import free_port

    async def refused_key(base: str) -> Any:
        bad = AsyncOpenAI(base_url=base + "v1", api_key="wrong", max_retries=0)
        with pytest.raises(Exception) as caught:
            async with bad.realtime.connect(extra_query={"intent": "transcription"}) as conn:
                await conn.recv()
        return caught.value

    async def first_event(url: str, key: str) -> tuple[dict[str, Any], int | None]:
        async with websockets.connect(url, additional_headers={
                "Authorization": f"Bearer {key}"}) as ws:
            event = json.loads(await ws.recv())
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            return event, closed.value.rcvd.code if closed.value.rcvd else None

    async def over_limit(base: str, key: str) -> tuple[dict[str, Any], int | None]:
        url = base.replace("http", "ws") + "v1/realtime?intent=transcription"
        async with websockets.connect(url, additional_headers={
                "Authorization": f"Bearer {key}"}) as first:
            json.loads(await first.recv())  # session.created: the one slot is taken
            return await first_event(url, key)

    options = ServeOptions(access=decide("127.0.0.1", "sekret"), max_live_sessions=1)
    served = start(session_studio, "127.0.0.1", free_port(), heartbeat_s=0.2, options=options)
    try:
        error = run_async(refused_key(served.base_url))
        assert "1008" in str(error) or "403" in str(error) or "401" in str(error), error
        url = served.base_url.replace("http", "ws") + "v1/realtime"
        event, code = run_async(first_event(url, "sekret"))
        assert event["type"] == "error" and event["error"]["code"] == "invalid_intent"
        assert code == 1008
        event, code = run_async(over_limit(served.base_url, "sekret"))
        assert event["type"] == "error" and event["error"]["code"] == "session_limit"
        assert code == 1013
    finally:
        served.close()
