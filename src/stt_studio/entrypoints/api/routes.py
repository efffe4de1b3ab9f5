"""The ``/v1`` routes (OpenAI's audio and model endpoints) and ``/health``, ``/ready``.

Thin: a request is parsed (:mod:`form`), its model checked (:mod:`models`),
the upload saved, and the work handed to :class:`~stt_studio.service.Studio`
in a worker thread (:mod:`jobs`); errors become OpenAI error objects here,
once. ``/health`` and ``/ready`` never wait for a model or a job. Only the
server imports this module (FastAPI is imported with it).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response  # this module is only imported to serve

from stt_studio.domain import Task
from stt_studio.entrypoints.api import form, models, shapes
from stt_studio.entrypoints.api.jobs import ApiJob, save_upload
from stt_studio.entrypoints.api.limits import UploadTooLarge, too_large_message
from stt_studio.entrypoints.api.realtime import RealtimeLimits, register
from stt_studio.errors import InvalidOptionError, StudioError
from stt_studio.formats import render

if TYPE_CHECKING:
    from stt_studio.service import Studio

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ApiContext:
    """What the routes share: the one studio, the upload folder and limit."""

    studio: Studio
    uploads_dir: Path
    max_upload_mb: int
    started_s: int
    realtime: RealtimeLimits = RealtimeLimits()


def router(context: ApiContext) -> APIRouter:
    api = APIRouter()

    @api.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/ready")
    async def ready() -> Response:
        default = context.studio.settings.default_model
        loaded = {entry.name for entry in context.studio.loaded()}
        ok = default in loaded
        return _json(200 if ok else 503,
                     {"status": "ready" if ok else "loading", "model": default,
                      "loading": sorted(context.studio.loading())})

    @api.get("/v1/models")
    async def list_models() -> Response:
        rows = await _threaded(models.listing, context.studio, context.started_s)
        return _json(200, shapes.model_list(rows))

    @api.get("/v1/models/{model_id:path}")
    async def one_model(model_id: str) -> Response:
        rows = await _threaded(models.listing, context.studio, context.started_s)
        for row in rows:
            if row["id"] == model_id:
                return _json(200, row)
        try:
            models.resolve(context.studio, model_id)
        except StudioError as exc:
            return _error(exc, "model")
        return _json(200, rows[0])  # an OpenAI name: the default model, listed first

    @api.post("/v1/audio/transcriptions")
    async def transcriptions(request: Request) -> Response:
        return await _audio(context, request, Task.TRANSCRIBE)

    @api.post("/v1/audio/translations")
    async def translations(request: Request) -> Response:
        return await _audio(context, request, Task.TRANSLATE)

    register(api, context.studio, context.realtime)  # /v1/realtime, a WebSocket
    return api


async def _threaded(fn: Any, *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    from fastapi.responses import JSONResponse

    return JSONResponse(body, status_code=status, headers=headers)


def _error(error: StudioError, param: str | None = None) -> Response:
    if param is None and isinstance(error, InvalidOptionError):
        param = error.option  # a field the work found wrong (compute_type for this GPU)
    status, body = shapes.studio_error_body(error, param)
    log.log(logging.WARNING if status < 500 else logging.ERROR, "API request failed (%d): %s",
            status, error.summary)
    return _json(status, body)


async def _audio(context: ApiContext, request: Request, task: Task) -> Response:
    from starlette.formparsers import MultiPartException
    from starlette.requests import ClientDisconnect

    try:
        kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if kind != "multipart/form-data":  # Starlette reads any other body as an empty form
            raise MultiPartException(f"its Content-Type is {kind or 'missing'}")
        async with request.form(max_files=1, max_fields=64) as fields:
            parsed = form.parse(_values(fields), task)
            spec = models.resolve(context.studio, parsed.model)
            upload = fields.get("file")
            if upload is None or isinstance(upload, str):
                raise form.field_error("file", "no audio file was sent",
                                      "Send the recording as the multipart field `file`")
            path = await save_upload(upload, context.uploads_dir)
            client_name = Path(upload.filename or "").name
    except UploadTooLarge:
        return _json(413, shapes.error_body(too_large_message(context.max_upload_mb),
                                            param="file", code="file_too_large"))
    except (MultiPartException, ClientDisconnect, AssertionError) as exc:
        return _json(400, shapes.error_body(
            f"The request is not a readable multipart form ({exc}). Send the recording as "
            "multipart/form-data with the field `file`, as OpenAI's clients and "
            "`curl -F file=@recording.wav` do.", code="bad_form"))
    except InvalidOptionError as exc:
        return _error(exc, exc.option)
    except StudioError as exc:
        return _error(exc, "model")
    job = ApiJob(context.studio, path, spec.name, parsed, client_name)
    if parsed.stream:
        return await _streamed(job)
    try:
        outcome = await job.run(request.is_disconnected)
    finally:
        job.discard()
    if isinstance(outcome, StudioError):
        return _error(outcome)
    transcript = outcome.transcript
    headers = job.headers(outcome)
    fmt = parsed.response_format
    if fmt is form.ResponseFormat.JSON:
        return _json(200, shapes.transcription_json(transcript), headers)
    if fmt is form.ResponseFormat.VERBOSE_JSON:
        return _json(200, shapes.verbose_json(transcript, task, segments=parsed.segments,
                                              words=parsed.words), headers)
    from fastapi.responses import PlainTextResponse

    text = transcript.text if fmt is form.ResponseFormat.TEXT else render(
        transcript, fmt.value, parsed.layout)
    media = "text/vtt" if fmt is form.ResponseFormat.VTT else "text/plain"
    return PlainTextResponse(text, media_type=media, headers=headers)


def _values(fields: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in fields.multi_items():
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return out


async def _streamed(job: ApiJob) -> Response:
    """Server-sent events: a delta per stretch of text as it is final, then ``done``.

    The job runs until the model is loaded and the audio opens, so a missing
    model or an unreadable file still gets its status code; later failures
    arrive as an error event, which OpenAI's clients raise.
    """
    from fastapi.responses import StreamingResponse

    started = await job.start_streaming()
    if isinstance(started, StudioError):
        job.discard()
        return _error(started)

    async def events() -> AsyncIterator[bytes]:
        first = True
        try:
            async for item in job.stream():
                if isinstance(item, StudioError):
                    _, body = shapes.studio_error_body(item)
                    yield shapes.sse(body)
                    return
                if isinstance(item, list):
                    text = shapes.deltas(item, first)
                    if text:
                        first = False
                        yield shapes.delta_event(text)
                else:
                    yield shapes.done_event(item.transcript)
        finally:
            job.discard()

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-cache", **job.headers(None)})

