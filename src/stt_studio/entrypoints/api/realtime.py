"""OpenAI's realtime transcription protocol at ``/v1/realtime?intent=transcription``.

A thin shell over :meth:`stt_studio.service.Studio.live`: client events are
parsed here (:mod:`realtime_events` holds the pure parts), audio is decoded
from base64 PCM16 and resampled to 16 kHz, and the session's typed events go
back as OpenAI's server events. Access control is :class:`~access.AccessGate`'s,
as for the rest of ``/v1`` (the path is under it). A bad event gets an
``error`` event and the session goes on; a dropped connection aborts the
session and frees the model's lease.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import APIRouter, WebSocket  # this module is only imported to serve

from stt_studio.entrypoints.api import models, shapes
from stt_studio.entrypoints.api.realtime_events import (
    Config,
    ProtocolError,
    parse_update,
    server_event,
    session_object,
)
from stt_studio.errors import StudioError, UnexpectedError
from stt_studio.live.session import (
    Cleared,
    Committed,
    Completed,
    Delta,
    Event,
    Failed,
    LiveOptions,
    LiveSession,
    Problem,
    SpeechStarted,
    SpeechStopped,
)

if TYPE_CHECKING:
    from stt_studio.service import Studio

log = logging.getLogger(__name__)

PATH = "/v1/realtime"
#: the largest client event taken (OpenAI's limit); larger ones get an ``error`` event
MAX_EVENT_BYTES = 15 * 1024 * 1024
#: the WebSocket frame limit uvicorn enforces, above MAX_EVENT_BYTES so we can answer
WS_MAX_SIZE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RealtimeLimits:
    max_sessions: int = 4
    max_session_s: float = 4 * 3600.0


class _Slots:
    """How many realtime sessions run now (one server, one event loop)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0


class _Hosted:
    """One :meth:`Studio.live` block, held open on its own thread until stopped."""

    def __init__(self, studio: Studio, model: str, config: Config, limits: RealtimeLimits,
                 emit: Callable[[Event], None]) -> None:
        self._stop = threading.Event()
        self._abort = False
        self._ready = threading.Event()
        self.session: LiveSession | None = None
        self.error: StudioError | None = None
        self._thread = threading.Thread(
            target=self._run, args=(studio, model, config, limits, emit), name="realtime-session",
            daemon=True)
        self._thread.start()

    def _run(self, studio: Studio, model: str, config: Config, limits: RealtimeLimits,
             emit: Callable[[Event], None]) -> None:
        live = LiveOptions(turns=config.turns, prompt=config.prompt,
                           max_session_s=limits.max_session_s)
        try:
            with studio.live(emit, model, config.options(), live) as session:
                self.session = session
                self._ready.set()
                self._stop.wait()
                if self._abort:
                    raise _Aborted
        except _Aborted:
            pass
        except StudioError as exc:
            self.error = exc
        except Exception as exc:  # noqa: BLE001 - said to the client, logged with its trace
            log.exception("the realtime session failed")
            self.error = UnexpectedError(f"the live session failed: {exc}")
        finally:
            self._ready.set()

    def wait_ready(self) -> LiveSession | StudioError:
        self._ready.wait()
        if self.session is not None and self.error is None:
            return self.session
        return self.error or UnexpectedError("the live session did not start")

    def stop(self, *, abort: bool) -> None:
        self._abort = abort
        self._stop.set()
        self._thread.join()


class _Aborted(Exception):
    pass


def register(api: APIRouter, studio: Studio, limits: RealtimeLimits) -> None:
    """Add the WebSocket route to the API router."""
    slots = _Slots(limits.max_sessions)

    @api.websocket(PATH)
    async def realtime(websocket: WebSocket) -> None:
        await _serve(websocket, studio, limits, slots)


async def _serve(websocket: WebSocket, studio: Studio, limits: RealtimeLimits,
                 slots: _Slots) -> None:
    await websocket.accept()
    intent = websocket.query_params.get("intent")
    if intent != "transcription":
        await _refuse(websocket, "This server speaks the realtime API in transcription mode "
                      "only: connect to /v1/realtime?intent=transcription.", "invalid_intent")
        return
    if slots.used >= slots.limit:
        await _refuse(websocket, f"This studio already runs {slots.limit} live sessions, its "
                      "limit (stt-studio serve --max-live-sessions). Try again when one ends.",
                      "session_limit", close_code=1013)
        return
    slots.used += 1
    try:
        await _Connection(websocket, studio, limits).run()
    finally:
        slots.used -= 1


async def _refuse(websocket: WebSocket, message: str, code: str, *,
                  close_code: int = 1008) -> None:
    await websocket.send_text(json.dumps(server_event(
        "error", error=shapes.error_body(message, code=code)["error"])))
    await websocket.close(close_code)


class _Connection:
    def __init__(self, websocket: WebSocket, studio: Studio, limits: RealtimeLimits) -> None:
        self.ws = websocket
        self.studio = studio
        self.limits = limits
        self.loop = asyncio.get_running_loop()
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.config = Config(model=websocket.query_params.get("model") or None)
        self.hosted: _Hosted | None = None
        self.session: LiveSession | None = None
        self.resampler: _Resampler | None = None
        self.session_id = "sess_" + uuid.uuid4().hex[:20]

    async def run(self) -> None:
        from starlette.websockets import WebSocketDisconnect

        sender = asyncio.create_task(self._send_all())
        clean = False
        try:
            self._put(server_event("session.created",
                                   session=session_object(self.session_id, self.config)))
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode("utf-8", errors="replace")
                await self._handle(text or "")
            clean = True
        except WebSocketDisconnect:
            pass
        finally:
            await self._end(abort=not clean)
            self.outbox.put_nowait(None)
            with contextlib.suppress(Exception):
                await sender

    # -- client events --------------------------------------------------------------
    async def _handle(self, text: str) -> None:
        if len(text) > MAX_EVENT_BYTES:
            self._error(f"The event is {len(text) / 2**20:.1f} MB; the limit is "
                        f"{MAX_EVENT_BYTES / 2**20:.0f} MB. Send audio in smaller appends "
                        "(OpenAI's clients send about 100 ms each).", "event_too_large")
            return
        try:
            event = json.loads(text)
        except (ValueError, RecursionError):
            self._error("The event is not JSON. Each WebSocket message is one JSON object "
                        "with a `type`, e.g. {\"type\": \"input_audio_buffer.append\", "
                        "\"audio\": \"<base64 PCM16>\"}.", "invalid_json")
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self._error("The event has no `type`.", "invalid_event")
            return
        kind = event["type"]
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        try:
            if kind == "session.update":
                await self._update(event)
            elif kind == "input_audio_buffer.append":
                await self._append(event)
            elif kind == "input_audio_buffer.commit":
                session = await self._session()
                if session is not None:
                    session.commit()
            elif kind == "input_audio_buffer.clear":
                if self.session is not None:
                    self.session.clear()
                else:
                    self._put(server_event("input_audio_buffer.cleared"))
            else:
                raise ProtocolError(
                    f"The event type {kind!r} is not one this server takes. A transcription "
                    "session takes session.update and input_audio_buffer.append, .commit and "
                    ".clear.", "unknown_event", "type")
        except ProtocolError as exc:
            self._error(exc.message, exc.code, exc.param, event_id)
        except StudioError as exc:
            _, body = shapes.studio_error_body(exc)
            self._put(server_event("error", error={**body["error"], "event_id": event_id}))

    async def _update(self, event: dict[str, Any]) -> None:
        config = parse_update(event, self.config)
        if config.model is not None:
            models.resolve(self.studio, config.model)  # an unknown model: said now
        if config != self.config and self.hosted is not None:
            await self._end(abort=False)  # the turns so far are completed first
        self.config = config
        self._put(server_event("session.updated",
                               session=session_object(self.session_id, self.config)))

    async def _append(self, event: dict[str, Any]) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise ProtocolError("input_audio_buffer.append needs `audio`: base64 of "
                                "little-endian 16-bit PCM, mono.", "invalid_audio", "audio")
        try:
            raw = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError("The `audio` is not valid base64.", "invalid_audio",
                                "audio") from None
        if len(raw) % 2:
            raise ProtocolError("The audio is not whole 16-bit samples (an odd number of "
                                "bytes).", "invalid_audio", "audio")
        session = await self._session()
        if session is None or not raw:
            return
        assert self.resampler is not None
        samples = self.resampler.feed(np.frombuffer(raw, dtype="<i2"))
        if samples.size:
            session.append(samples)  # LiveLimitError: an error event; the session goes on

    async def _session(self) -> LiveSession | None:
        """The running live session, started (the model loaded) on first need."""
        if self.session is not None:
            return self.session
        model = models.resolve(self.studio, self.config.model).name
        hosted = _Hosted(self.studio, model, self.config, self.limits, self._from_worker)
        started = await asyncio.to_thread(hosted.wait_ready)
        if isinstance(started, StudioError):
            await asyncio.to_thread(hosted.stop, abort=True)
            raise started
        self.hosted, self.session = hosted, started
        self.resampler = _Resampler(self.config.rate_hz)
        return started

    async def _end(self, *, abort: bool) -> None:
        hosted, self.hosted, self.session = self.hosted, None, None
        if hosted is not None:
            await asyncio.to_thread(hosted.stop, abort=abort)
        if hosted is not None and hosted.error is not None and not abort:
            _, body = shapes.studio_error_body(hosted.error)
            self._put(server_event("error", error={**body["error"], "event_id": None}))

    # -- server events --------------------------------------------------------------
    def _from_worker(self, event: Event) -> None:
        out = translate(event)
        if out is not None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody listens
                self.loop.call_soon_threadsafe(self.outbox.put_nowait, out)

    def _put(self, event: dict[str, Any]) -> None:
        self.outbox.put_nowait(event)

    def _error(self, message: str, code: str, param: str | None = None,
               event_id: str | None = None) -> None:
        body = shapes.error_body(message, param=param, code=code)["error"]
        self._put(server_event("error", error={**body, "event_id": event_id}))

    async def _send_all(self) -> None:
        while True:
            event = await self.outbox.get()
            if event is None:
                return
            try:
                await self.ws.send_text(json.dumps(event))
            except Exception:  # noqa: BLE001 - the client went away; the reader ends too
                return


def translate(event: Event) -> dict[str, Any] | None:
    """A session event as OpenAI's server event (None: nothing the protocol carries)."""
    if isinstance(event, SpeechStarted):
        return server_event("input_audio_buffer.speech_started", item_id=event.item_id,
                            audio_start_ms=event.audio_start_ms)
    if isinstance(event, SpeechStopped):
        return server_event("input_audio_buffer.speech_stopped", item_id=event.item_id,
                            audio_end_ms=event.audio_end_ms)
    if isinstance(event, Committed):
        return server_event("input_audio_buffer.committed", item_id=event.item_id,
                            previous_item_id=event.previous_item_id)
    if isinstance(event, Delta):
        return server_event("conversation.item.input_audio_transcription.delta",
                            item_id=event.item_id, content_index=0, delta=event.text)
    if isinstance(event, Completed):
        return server_event("conversation.item.input_audio_transcription.completed",
                            item_id=event.item_id, content_index=0, transcript=event.transcript,
                            usage={"type": "duration", "seconds": round(event.audio_s, 3)})
    if isinstance(event, Failed):
        _, body = shapes.studio_error_body(event.error)
        return server_event("conversation.item.input_audio_transcription.failed",
                            item_id=event.item_id, content_index=0, error=body["error"])
    if isinstance(event, Problem):
        _, body = shapes.studio_error_body(event.error)
        return server_event("error", error={**body["error"], "code": event.code,
                                            "event_id": None})
    if isinstance(event, Cleared):
        return server_event("input_audio_buffer.cleared")
    return None  # Pending and Lag: the page's and the terminal's, not the protocol's


class _Resampler:
    """PCM16 at the client's rate -> float32 at 16 kHz, continuous across appends."""

    def __init__(self, rate_hz: int) -> None:
        self.rate_hz = rate_hz
        self._resampler: Any = None
        if rate_hz != 16_000:
            import av

            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=16_000)

    def feed(self, pcm: np.ndarray) -> np.ndarray:
        if self._resampler is None:
            return pcm.astype(np.float32) / 32768.0
        import av

        frame = av.AudioFrame.from_ndarray(pcm.astype(np.int16).reshape(1, -1), format="s16",
                                           layout="mono")
        frame.sample_rate = self.rate_hz
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)
