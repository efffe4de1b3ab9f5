"""The server under load: probes never wait, one model serves its requests in order.

A model load that hangs must not hold up ``/health`` or ``/ready``; requests
for one model run one at a time in the order they came; a client that goes
away (while it waits for its turn, or while its audio is being transcribed)
gets its job cancelled, and the request behind it runs.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from stt_studio import progress as job_progress
from stt_studio.domain import Transcript, TranscriptionOptions
from stt_studio.errors import JobCancelled
from stt_studio.models.manager import ModelManager
from tests.conftest import SHARED_AUDIO, make_studio
from tests.entrypoints.api.conftest import api_server

pytestmark = pytest.mark.slow  # tiny.en, live servers

MODEL = "tiny.en"
#: what "at once" means for a probe on two shared cores
PROBE_S = 1.5
#: bound on anything that should happen "soon" (generous: the cores are shared)
SETTLE_S = 30.0
REQUEST_TIMEOUT_S = 120.0


def wait_until(condition: Callable[[], bool], what: str, limit_s: float = SETTLE_S) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {limit_s:.0f} s: {what}")
        time.sleep(0.01)


class Requests:
    """Transcription requests sent from threads; their answers by tag."""

    def __init__(self, served: Any, audio: Path) -> None:
        self.url = f"{served.base_url}v1/audio/transcriptions"
        self.audio = audio
        self.answers: dict[str, httpx.Response | BaseException] = {}
        self.threads: list[threading.Thread] = []

    def send(self, tag: str) -> None:
        def post() -> None:
            try:
                with self.audio.open("rb") as audio:
                    self.answers[tag] = httpx.post(
                        self.url, files={"file": (self.audio.name, audio)},
                        data={"model": MODEL, "prompt": tag, "beam_size": "1"},
                        timeout=REQUEST_TIMEOUT_S)
            except BaseException as exc:  # noqa: BLE001 - looked at by the test
                self.answers[tag] = exc

        thread = threading.Thread(target=post, daemon=True, name=f"client-{tag}")
        thread.start()
        self.threads.append(thread)

    def wait(self) -> None:
        for thread in self.threads:
            thread.join(REQUEST_TIMEOUT_S)
            assert not thread.is_alive(), f"{thread.name} got no answer"

    def text(self, tag: str) -> str:
        answer = self.answers[tag]
        assert isinstance(answer, httpx.Response), answer
        assert answer.status_code == 200, answer.text
        return str(answer.json()["text"])


def open_request(served: Any, audio: Path, tag: str, **fields: str) -> socket.socket:
    """A transcription request sent over a raw socket that the test closes when it likes."""
    built = httpx.Request("POST", f"{served.base_url}v1/audio/transcriptions",
                          files={"file": (audio.name, audio.read_bytes())},
                          data={"model": MODEL, "prompt": tag, **fields})
    body = built.read()
    head = (f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n"
            f"Content-Type: {built.headers['content-type']}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    sock.sendall(head.encode() + body)
    return sock


def hang_up(sock: socket.socket) -> None:
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class Recorded:
    """Stands in for the decoding: notes each job (by its prompt) and holds some on demand."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []  # ("start" | "end" | "cancelled", tag)
        self.running = 0
        self.most_at_once = 0
        self.hold: dict[str, threading.Event] = {}  # tag -> released when set
        self._lock = threading.Lock()

    def started(self) -> list[str]:
        with self._lock:
            return [tag for kind, tag in self.events if kind == "start"]

    def __call__(self, chunks: Iterable[np.ndarray], total_s: float | None, loaded: Any,
                 options: TranscriptionOptions, on_segments: Any = None) -> Transcript:
        tag = options.initial_prompt or ""
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.events.append(("start", tag))
        try:
            gate = self.hold.get(tag)
            if gate is not None:
                while not gate.is_set():
                    job_progress.sleep(0.05)  # the job's cancel wakes this and raises
            time.sleep(0.05)
        except JobCancelled:
            with self._lock:
                self.events.append(("cancelled", tag))
            raise
        finally:
            with self._lock:
                self.running -= 1
        with self._lock:
            self.events.append(("end", tag))
        return Transcript(text=tag, language="en", duration_s=total_s or 0.0,
                          model=loaded.spec.name, segments=())


@pytest.fixture()
def studio(fresh_layout: Any) -> Any:
    return make_studio(fresh_layout)


@pytest.fixture()
def recorded(studio: Any, monkeypatch: pytest.MonkeyPatch) -> Recorded:
    fake = Recorded()
    monkeypatch.setattr(studio, "_transcribe_stream", fake)
    return fake


@pytest.fixture()
def served(studio: Any) -> Iterator[Any]:
    with api_server(studio) as running:
        yield running


def uploads(studio: Any) -> list[Path]:
    folder = studio.layout.tmp_dir / "api"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def probe(url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = httpx.get(url, timeout=10)
    return answer, time.monotonic() - started


@pytest.mark.fault("concurrency", "a model load hangs while a transcription request waits for it",
                   "/health answers at once, /ready says 503 loading; the request is served "
                   "once the load ends")
def test_probes_answer_while_a_model_load_is_stuck(studio: Any, served: Any, jfk: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    entered = threading.Event()
    release = threading.Event()
    real_load = ModelManager._load

    def stuck(self: ModelManager, engine: Any, spec: Any, device: str) -> Any:
        entered.set()
        assert release.wait(REQUEST_TIMEOUT_S)
        return real_load(self, engine, spec, device)

    monkeypatch.setattr(ModelManager, "_load", stuck)
    requests = Requests(served, jfk)
    try:
        requests.send("loading")
        assert entered.wait(SETTLE_S), "the request never started loading the model"
        for _ in range(3):
            health, took_s = probe(f"{served.base_url}health")
            assert (health.status_code, health.json()) == (200, {"status": "ok"})
            assert took_s < PROBE_S, f"/health took {took_s:.2f} s during a load"
        ready, took_s = probe(f"{served.base_url}ready")
        assert took_s < PROBE_S, f"/ready took {took_s:.2f} s during a load"
        assert ready.status_code == 503
        assert ready.json()["status"] == "loading"
        assert MODEL in ready.json()["loading"]
        listing = httpx.get(f"{served.base_url}v1/models", timeout=SETTLE_S)
        assert listing.status_code == 200  # the model list does not wait for the load either
        assert "loading" not in requests.answers  # the request itself is still waiting
    finally:
        release.set()
    requests.wait()
    assert "ask not what your country" in requests.text("loading").lower()
    ready, _ = probe(f"{served.base_url}ready")
    assert (ready.status_code, ready.json()["status"]) == (200, "ready")


@pytest.mark.fault("concurrency", "five clients send requests for one model at once",
                   "they are served one at a time, first come first served")
def test_requests_for_one_model_run_one_at_a_time_in_arrival_order(
        studio: Any, served: Any, recorded: Recorded, jfk: Path) -> None:
    tags = [f"r{i}" for i in range(5)]
    recorded.hold["r0"] = threading.Event()  # r0 holds the model until all have queued
    requests = Requests(served, jfk)
    try:
        for count, tag in enumerate(tags, start=1):
            requests.send(tag)
            wait_until(lambda c=count: studio.turns.waiting(MODEL) == c, f"{tag} queued")
        wait_until(lambda: recorded.started() == ["r0"], "r0 running")
    finally:
        recorded.hold["r0"].set()
    requests.wait()
    assert [requests.text(tag) for tag in tags] == tags  # each got its own transcript
    assert recorded.started() == tags
    assert recorded.most_at_once == 1
    assert recorded.events == [(kind, tag) for tag in tags for kind in ("start", "end")]
    assert studio.turns.waiting(MODEL) == 0
    assert uploads(studio) == []


@pytest.mark.fault("concurrency", "a client hangs up while its request waits for the model",
                   "its job leaves the queue and its upload is deleted; the requests behind "
                   "it run")
def test_a_client_that_hangs_up_while_waiting_leaves_the_queue(
        studio: Any, served: Any, recorded: Recorded, jfk: Path) -> None:
    recorded.hold["first"] = threading.Event()
    requests = Requests(served, jfk)
    try:
        requests.send("first")
        wait_until(lambda: recorded.started() == ["first"], "the first request running")
        gone = open_request(served, jfk, "gone")
        wait_until(lambda: studio.turns.waiting(MODEL) == 2, "the second request queued")
        requests.send("last")
        wait_until(lambda: studio.turns.waiting(MODEL) == 3, "the third request queued")
        assert len(uploads(studio)) == 3
        hang_up(gone)
        wait_until(lambda: studio.turns.waiting(MODEL) == 2,
                   "the request whose client left is still queued")
        wait_until(lambda: len(uploads(studio)) == 2, "the upload of the one gone is still there")
    finally:
        recorded.hold["first"].set()
    requests.wait()
    assert requests.text("first") == "first" and requests.text("last") == "last"
    assert recorded.started() == ["first", "last"]  # "gone" never reached the model
    assert uploads(studio) == []


@pytest.mark.fault("concurrency", "a client hangs up while its audio is being transcribed",
                   "the job is cancelled and the next request runs")
def test_a_client_that_hangs_up_while_working_cancels_its_job(
        studio: Any, served: Any, recorded: Recorded, jfk: Path) -> None:
    recorded.hold["gone"] = threading.Event()  # never released: only a cancel ends it
    gone = open_request(served, jfk, "gone")
    try:
        wait_until(lambda: recorded.started() == ["gone"], "the request running")
        requests = Requests(served, jfk)
        requests.send("next")
        wait_until(lambda: studio.turns.waiting(MODEL) == 2, "the next request queued")
        hang_up(gone)
        wait_until(lambda: ("cancelled", "gone") in recorded.events,
                   "the job of the client who hung up was not cancelled")
    finally:
        recorded.hold["gone"].set()
    requests.wait()
    assert ("end", "gone") not in recorded.events
    assert requests.text("next") == "next"
    assert recorded.most_at_once == 1
    wait_until(lambda: uploads(studio) == [], "an upload was left behind", limit_s=5)


#: 3.7 minutes of real speech (32 LJ Speech sentences end to end): at least seven 30 s
#: windows (faster-whisper, seeking to each window's last segment, decodes 14 to the end)
B_LONG = SHARED_AUDIO / "B_long" / "CONSTRUCTED_ljspeech_LJ001-0001_to_0032_concatenated.wav"
B_LONG_S = 221.7
WHISPER_WINDOW_S = 30.0


class Windows:
    """faster-whisper's real decoder, wrapped: when each 30 s window was decoded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from faster_whisper.transcribe import WhisperModel

        self.at: list[float] = []
        self.first = threading.Event()
        decode = WhisperModel.generate_with_fallback

        def watched(model: Any, *args: Any, **kwargs: Any) -> Any:
            result = decode(model, *args, **kwargs)
            self.at.append(time.monotonic())
            self.first.set()
            return result

        monkeypatch.setattr(WhisperModel, "generate_with_fallback", watched)


@pytest.mark.fault("concurrency", "a client hangs up while Whisper (tiny.en, the real engine) "
                   "transcribes 3.7 minutes of speech",
                   "Whisper stops within a window of the hang-up: under half of the "
                   "recording's 30 s windows are decoded, the model and its turn are free "
                   "and the upload is deleted")
def test_a_hang_up_stops_the_real_whisper_engine_early(
        studio: Any, served: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    if not B_LONG.is_file():
        pytest.skip(f"{B_LONG} not found")
    windows = Windows(monkeypatch)
    # batch size 1: faster-whisper's own long-form decoder, one window after another;
    # no VAD (half the test's time): the whole recording is that decoder's to walk
    gone = open_request(served, B_LONG, "gone", batch_size="1", beam_size="1", vad="false")
    try:
        assert windows.first.wait(SETTLE_S), "Whisper never decoded a window"
    finally:
        hang_up(gone)
    hung_up = time.monotonic()
    wait_until(lambda: studio.turns.waiting(MODEL) == 0
               and [e.in_use for e in studio.loaded()] == [0],
               "the job of the client who hung up still holds the model", limit_s=15)
    freed_s = time.monotonic() - hung_up
    decoded = len(windows.at)
    time.sleep(0.5)
    assert len(windows.at) == decoded, "Whisper went on decoding after the job ended"
    assert decoded < B_LONG_S / WHISPER_WINDOW_S / 2, f"{decoded} windows: it ran to the end"
    assert freed_s < 15.0
    wait_until(lambda: uploads(studio) == [], "an upload was left behind", limit_s=5)
