"""One API request's transcription: saved upload in, worker thread, news out.

The work runs in its own thread (never the event loop's, never the shared
thread pool that ``/health`` and Gradio use), takes its turn for the model
through the studio, and is cancelled when the client goes away. The worker
owns the uploaded file and deletes it when it is done with it: on Windows a
file cannot be deleted while it is being read.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stt_studio import progress as job_progress
from stt_studio.domain import NoteKind, ProgressEvent, Segment, Stage
from stt_studio.errors import FileOp, StudioError, UnexpectedError, translate_os_error

if TYPE_CHECKING:
    from starlette.datastructures import UploadFile

    from stt_studio.entrypoints.api.form import ApiRequest
    from stt_studio.service import Result, Studio

log = logging.getLogger(__name__)

#: how often a waiting request looks whether its client is still there
DISCONNECT_POLL_S = 0.5
#: the notes a client hears about in the response headers
_TOLD = (NoteKind.IGNORED, NoteKind.SKIPPED_AUDIO, NoteKind.LOCK_RETRY, NoteKind.NO_TEXT,
         NoteKind.DEVICE)
_STARTED = object()  # the job reached its transcribing stage
_SAFE_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,10}$")

Item = Any  # list[Segment] | Result | StudioError | _STARTED


async def save_upload(upload: UploadFile, folder: Path) -> Path:
    """The uploaded file under ``folder`` with a random name (its suffix kept for the decoder)."""
    from starlette.concurrency import run_in_threadpool

    suffix = Path(upload.filename or "").suffix
    target = folder / f"{uuid.uuid4().hex}{suffix if _SAFE_SUFFIX.match(suffix) else ''}"

    def copy() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        upload.file.seek(0)
        with open(target, "wb") as out:
            shutil.copyfileobj(upload.file, out, 1024 * 1024)

    try:
        await run_in_threadpool(copy)
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise translate_os_error(exc, action="save the upload", path=target,
                                 cache_dir=folder) from exc
    return target


class ApiJob:
    """A transcription for one request (not thread-safe itself: used from the event loop)."""

    def __init__(self, studio: Studio, path: Path, model: str, request: ApiRequest,
                 client_name: str = "") -> None:
        self.studio = studio
        self.path = path
        self.client_name = client_name or "the uploaded file"
        self.model = model
        self.request = request
        self.cancel = threading.Event()
        self.notes: list[str] = []
        self._items: asyncio.Queue[Item] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pending: list[Item] = []

    # -- the worker thread ---------------------------------------------------------
    def _put(self, item: Item) -> None:
        assert self._loop is not None and self._items is not None
        self._loop.call_soon_threadsafe(self._items.put_nowait, item)

    def _progress(self, event: ProgressEvent) -> None:
        if event.note is not None and event.note.kind in _TOLD:
            self.notes.append(event.note.text)
        if event.stage is Stage.TRANSCRIBING:
            self._put(_STARTED)

    def _heard(self, segments: Sequence[Segment]) -> None:
        self._put(list(segments))

    def _work(self) -> None:
        outcome: Item
        try:
            with job_progress.job(self._progress, self.cancel):
                outcome = self.studio.transcribe_file(
                    self.path, self.model, self.request.options,
                    on_segments=self._heard if self.request.stream else None)
        except StudioError as exc:
            outcome = as_client_sees(exc, self.path, self.client_name)
        except Exception as exc:  # noqa: BLE001 - the worker's outermost frame
            log.exception("the API's transcription failed unexpectedly")
            outcome = UnexpectedError(f"{type(exc).__name__}: {exc}", detail=repr(exc))
        finally:
            self._delete()
        self._put(outcome)

    def _delete(self) -> None:
        try:
            self.studio.retrier.run(lambda: self.path.unlink(missing_ok=True),
                                    f"delete the upload {self.path.name}", FileOp.REMOVE)
        except OSError:
            log.warning("could not delete the upload %s", self.path, exc_info=True)

    # -- the event loop ------------------------------------------------------------
    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._items = asyncio.Queue()
        self._thread = threading.Thread(target=self._work, name=f"api-{self.path.stem[:8]}",
                                        daemon=True)
        self._thread.start()

    async def _next(self) -> Item:
        if self._pending:
            return self._pending.pop(0)
        assert self._items is not None
        try:
            return await self._items.get()
        except asyncio.CancelledError:
            self.cancel.set()  # the client went away
            raise

    async def run(self, gone: Callable[[], Awaitable[bool]] | None = None,
                  ) -> Result | StudioError:
        """The whole transcription; ``gone()`` says the client left (the job is then cancelled)."""
        self._start()
        while True:
            waiter = asyncio.ensure_future(self._next())
            while not waiter.done():
                await asyncio.wait({waiter}, timeout=DISCONNECT_POLL_S)
                if not waiter.done() and gone is not None and await gone():
                    log.info("the client went away: cancelling its transcription")
                    self.cancel.set()
            item = waiter.result()
            if item is not _STARTED and not isinstance(item, list):
                return item  # type: ignore[no-any-return]

    async def start_streaming(self) -> StudioError | None:
        """Run until the audio is being transcribed; an error before that is returned."""
        self._start()
        item = await self._next()
        if isinstance(item, StudioError):
            return item
        if item is not _STARTED:
            self._pending.append(item)
        return None

    async def stream(self) -> AsyncIterator[Item]:
        """Lists of final segments, then the Result or a StudioError."""
        while True:
            item = await self._next()
            if item is _STARTED:
                continue
            yield item
            if not isinstance(item, list):
                return

    def discard(self) -> None:
        """The request is over: stop the work if it still runs; the upload goes with it."""
        if self._thread is None:
            self._delete()
        elif self._thread.is_alive():
            self.cancel.set()

    def headers(self, result: Result | None) -> dict[str, str]:
        """What the response says about the work beyond OpenAI's fields."""
        out = {"x-stt-studio-model": _latin1(self.model)}
        if self.notes:
            out["x-stt-studio-notes"] = _latin1(" | ".join(dict.fromkeys(self.notes)))
        if result is not None:
            out["x-stt-studio-audio-s"] = f"{result.transcript.duration_s:.3f}"
            out["x-stt-studio-elapsed-s"] = f"{result.elapsed_s:.3f}"
        return out


def as_client_sees(error: StudioError, path: Path, name: str) -> StudioError:
    """The same error with the server's copy of the upload called by the client's name.

    The copy's path means nothing to the client and tells a network peer where
    the server keeps its files.
    """
    local = str(path)

    def named(text: str) -> str:
        return text.replace(local, name)

    fixed = copy.copy(error)
    fixed.summary = named(error.summary)
    fixed.detail = named(error.detail) if error.detail else error.detail
    fixed.causes = tuple(named(c) for c in error.causes)
    fixed.remedies = tuple(named(r) for r in error.remedies)
    fixed.paths = tuple(named(p) for p in error.paths)
    fixed.args = (fixed.summary,)
    return fixed


#: punctuation the notes use that Latin-1 lacks, as a header spells it
_PLAIN = str.maketrans({"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"',
                        "…": "...", "\n": " "})


def _latin1(text: str) -> str:
    """Header values are Latin-1: dashes and quotes made plain, anything else '?'."""
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")
