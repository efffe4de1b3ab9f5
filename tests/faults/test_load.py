"""The "load" rows of the fault matrix: many requests at once, long loads, clients that go away,
Unload pressed mid-job, idle models.

Everything runs the real service on the bundled tiny.en and real recordings. A
model load is held open by making faster-whisper's model constructor wait; a
transcription by holding Whisper's segment generator before its first segment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stt_studio import progress as job_progress
from stt_studio.audio.decode import decode_file
from stt_studio.domain import SAMPLE_RATE_HZ, TranscriptionOptions
from stt_studio.entrypoints import ui_handlers
from stt_studio.entrypoints.ui_handlers import StudioUI
from stt_studio.errors import ModelInUseError
from stt_studio.models import catalog
from stt_studio.models.store import bundled_whisper_dir
from tests.conftest import SHARED_AUDIO, make_studio
from tests.support.browser import serving

pytestmark = pytest.mark.slow

HEARTBEAT_S = 0.05
#: a bound for waits that end in well under a second when things work (busy 2-core machine)
PATIENCE_S = 30.0
LONG_S = 60.0


def wait_until(condition: Callable[[], bool], timeout_s: float = PATIENCE_S) -> float:
    """Poll ``condition`` until true; returns when (monotonic); fails after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"still not true after {timeout_s} s"
        time.sleep(0.01)
    return time.monotonic()


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory, jfk) -> Path:
    """JFK's first 4.5 s: "And so my fellow Americans, ask not"."""
    audio = decode_file(jfk)
    path = tmp_path_factory.mktemp("load") / "short.wav"
    ui_handlers._write_wav(path, audio, 0.0, 4.5)
    return path


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory) -> Path:
    """A minute of real speech: the first 60 s of 32 LJ Speech sentences joined end to end.

    (JFK repeated would do too, but Whisper meets the same words again and
    again, falls back to sampling and takes 4x longer per window.)
    """
    source = SHARED_AUDIO / "B_long" / "CONSTRUCTED_ljspeech_LJ001-0001_to_0032_concatenated.wav"
    if not source.is_file():
        pytest.skip(f"{source} not found")
    path = tmp_path_factory.mktemp("load") / "long.wav"
    ui_handlers._write_wav(path, decode_file(source), 0.0, LONG_S)
    return path


@dataclass
class HeldLoad:
    """faster-whisper's model constructor, held until ``release`` is set."""

    release: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)
    model_dirs: list[str] = field(default_factory=list)


@pytest.fixture()
def held_load(monkeypatch) -> Iterator[HeldLoad]:
    import faster_whisper

    held = HeldLoad()
    original = faster_whisper.WhisperModel

    def held_loader(model_dir: str, *args: Any, **kwargs: Any) -> Any:
        held.model_dirs.append(str(model_dir))
        held.entered.set()
        held.release.wait(PATIENCE_S)
        return original(model_dir, *args, **kwargs)

    monkeypatch.setattr(faster_whisper, "WhisperModel", held_loader)
    yield held
    held.release.set()


@dataclass
class HeldSegments:
    """Whisper's segment generator, held before its first segment."""

    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    cancel_seen_at: float | None = None  # when the job's cancel event was seen set
    segment_ends_s: list[float] = field(default_factory=list)


def hold_segments(monkeypatch, until_cancelled: bool = False,
                  longer_than_s: float = 0.0) -> HeldSegments:
    """Hold recordings longer than ``longer_than_s`` until ``release`` (or their job's cancel)."""
    import faster_whisper

    held = HeldSegments()
    originals = {cls: cls.transcribe for cls in (faster_whisper.WhisperModel,
                                                 faster_whisper.BatchedInferencePipeline)}

    def transcribe(self: Any, audio: np.ndarray, **kwargs: Any) -> Any:
        # the sequential decoder and the batched pipeline (the default) alike
        segments, info = originals[type(self)](self, audio, **kwargs)
        if len(audio) <= longer_than_s * SAMPLE_RATE_HZ:
            return segments, info
        control = job_progress.current()  # the worker thread's job

        def held_segments() -> Iterator[Any]:
            held.entered.set()
            if until_cancelled:
                assert control is not None
                if control.cancel.wait(PATIENCE_S):
                    held.cancel_seen_at = time.monotonic()
            else:
                held.release.wait(PATIENCE_S)
            for segment in segments:
                held.segment_ends_s.append(segment.end)
                yield segment

        return held_segments(), info

    for cls in originals:
        monkeypatch.setattr(cls, "transcribe", transcribe)
    return held


def transcribe_in_thread(ui: StudioUI, audio: Path, sink: list[tuple[float, tuple[Any, ...]]],
                         ) -> threading.Thread:
    def run() -> None:
        for output in ui.transcribe(str(audio), "tiny.en", formats=[]):
            sink.append((time.monotonic(), output))

    thread = threading.Thread(target=run, name="test-request", daemon=True)
    thread.start()
    return thread


def leases(studio: Any) -> list[tuple[str, int]]:
    return [(entry.name, entry.in_use) for entry in studio.loaded()]


# -- many requests while a model loads ------------------------------------------------------------

@pytest.mark.fault("load", "8 transcriptions are asked for at once while their model is still "
                   "loading",
                   "all 8 finish with the transcript; the model is loaded once; every status box "
                   "keeps ticking while it waits")
def test_eight_requests_while_the_model_loads(fresh_layout, held_load, short_wav, tmp_path):
    studio = make_studio(fresh_layout)
    ui = StudioUI(studio, heartbeat_s=HEARTBEAT_S, outputs_root=tmp_path / "outputs")
    seen: list[list[tuple[float, tuple[Any, ...]]]] = [[] for _ in range(8)]
    threads = [transcribe_in_thread(ui, short_wav, sink) for sink in seen]
    assert held_load.entered.wait(PATIENCE_S)

    def ticking(sink: list[tuple[float, tuple[Any, ...]]]) -> bool:
        return len({output[0] for _t, output in sink}) >= 4  # the elapsed time moves on

    wait_until(lambda: all(ticking(list(sink)) for sink in seen))
    assert "tiny.en" in studio.loading() and studio.loaded() == []  # still loading
    released_at = time.monotonic()
    held_load.release.set()
    for thread in threads:
        thread.join(PATIENCE_S * 2)
        assert not thread.is_alive()

    assert held_load.model_dirs == [str(bundled_whisper_dir())]  # one load for all 8
    texts = set()
    for sink in seen:
        waiting = [output[0].split("\n")[0] for t, output in sink if t < released_at]
        assert all(s.startswith(("⏳ starting…", "⏳ loading model…"))
                   and s.endswith(" — short.wav") for s in waiting), waiting
        assert waiting[-1].startswith("⏳ loading model…")
        status, text = sink[-1][1][:2]
        assert status.startswith("✓ Transcribed short.wav\n"), status
        texts.add(text)
    (text,) = texts  # the same recording, the same words for all 8
    assert "fellow americans" in text.lower()
    assert leases(studio) == [("tiny.en", 0)]


@pytest.mark.fault("load", "a transcription asks for a loaded model while another model is "
                   "still loading",
                   "it runs at once: a cache hit never waits behind another model's load")
def test_a_cache_hit_never_waits_behind_another_models_load(fresh_layout, held_load, short_wav,
                                                            tmp_path):
    studio = make_studio(fresh_layout)
    held_load.release.set()
    studio.load("tiny.en")  # model B, loaded before the hold
    held_load.release.clear()
    held_load.entered.clear()
    other = str(bundled_whisper_dir())  # model A: the same files by path, another model
    other_name = catalog.resolve(other).name
    assert other_name != "tiny.en"
    loading = threading.Thread(target=studio.load, args=(other,), daemon=True)
    loading.start()
    assert held_load.entered.wait(PATIENCE_S)
    assert other_name in studio.loading()

    ui = StudioUI(studio, heartbeat_s=HEARTBEAT_S, outputs_root=tmp_path / "outputs")
    outputs: list[tuple[float, tuple[Any, ...]]] = []
    started = time.monotonic()
    request = transcribe_in_thread(ui, short_wav, outputs)
    request.join(PATIENCE_S)  # (if it waited behind the load, it would wait for the hold)
    assert not request.is_alive(), "the cache hit waited behind the other model's load"
    took_s = outputs[-1][0] - started
    assert outputs[-1][1][0].startswith("✓ Transcribed short.wav"), outputs[-1][1][0]
    assert "fellow americans" in outputs[-1][1][1].lower()
    assert other_name in studio.loading(), "the other load must still be held"
    assert took_s < PATIENCE_S / 2

    held_load.release.set()
    loading.join(PATIENCE_S)
    assert sorted(name for name, _ in leases(studio)) == sorted(["tiny.en", other_name])


# -- a client that goes away ------------------------------------------------------------------------

def _file_data(server_path: str) -> dict[str, Any]:
    return {"path": server_path, "meta": {"_type": "gradio.FileData"}}


def _call(client: Any, audio: Path) -> str:
    """Upload ``audio`` and start the transcribe event over Gradio's HTTP API; its event id."""
    upload = client.post("gradio_api/upload",
                         files=[("files", (audio.name, audio.read_bytes(), "audio/wav"))])
    upload.raise_for_status()
    body = {"data": [_file_data(upload.json()[0]), "tiny.en", "auto", "transcribe", "en", True,
                     [], 5, 8, True, "auto", "", 0.0, "Off", 0, 0, "auto"]}
    # ..., beam, batch size, VAD, long audio, prompt, temperature, speakers, fewest, most,
    # compute type
    started = client.post("gradio_api/call/transcribe", json=body)
    started.raise_for_status()
    return str(started.json()["event_id"])


@pytest.mark.fault("load", "the browser or API client disconnects in the middle of a "
                   "transcription",
                   "the transcription stops at its next step and lets go of the model; the next "
                   "request runs at once")
def test_a_client_disconnecting_mid_request_stops_the_work(fresh_layout, long_wav, short_wav,
                                                           monkeypatch):
    import httpx

    studio = make_studio(fresh_layout)
    studio.load("tiny.en")
    held = hold_segments(monkeypatch, until_cancelled=True, longer_than_s=30.0)
    with serving(studio, heartbeat_s=0.1) as url, \
            httpx.Client(base_url=url, trust_env=False, timeout=PATIENCE_S) as client:
        event = _call(client, long_wav)
        with client.stream("GET", f"gradio_api/call/transcribe/{event}") as stream:
            for line in stream.iter_lines():
                if "transcribing" in line and held.entered.is_set():
                    break  # Whisper is at work on the minute of speech: hang up
        disconnected_at = time.monotonic()
        assert held.entered.wait(PATIENCE_S)
        released_at = wait_until(lambda: leases(studio) == [("tiny.en", 0)])

        # cancellation reached the work: the job's cancel event was set after the hang-up,
        # and the first segment's checkpoint stopped Whisper there
        assert held.cancel_seen_at is not None, "closing the connection never cancelled the job"
        assert held.cancel_seen_at - disconnected_at < 10.0
        assert len(held.segment_ends_s) == 1 and held.segment_ends_s[0] < LONG_S / 2
        time.sleep(0.3)
        assert len(held.segment_ends_s) == 1, "Whisper went on after the job was cancelled"
        assert released_at - disconnected_at < PATIENCE_S

        # the worker slot is free: the next request runs at once and completes
        event = _call(client, short_wav)
        lines = client.get(f"gradio_api/call/transcribe/{event}").text.splitlines()
    complete = lines[lines.index("event: complete") + 1]
    assert "Transcribed short.wav" in complete and "fellow Americans" in complete


# -- Unload pressed while a transcription uses the model -------------------------------------------

@pytest.mark.fault("load", "Unload is pressed while a transcription uses the model",
                   "Unload waits a moment, then says the model is in use; the transcription "
                   "finishes with its transcript; Unload works once it has")
def test_unload_pressed_during_a_transcription(fresh_layout, short_wav, monkeypatch, tmp_path):
    studio = make_studio(fresh_layout)
    held = hold_segments(monkeypatch)
    ui = StudioUI(studio, heartbeat_s=HEARTBEAT_S, outputs_root=tmp_path / "outputs")
    outputs: list[tuple[float, tuple[Any, ...]]] = []
    request = transcribe_in_thread(ui, short_wav, outputs)
    assert held.entered.wait(PATIENCE_S)

    started = time.monotonic()
    refused = ui.unload_model("tiny.en")
    waited_s = time.monotonic() - started
    assert refused.startswith("The model is in use: tiny.en is being used by a transcription "
                              "right now, so it was not unloaded"), refused
    assert "Wait for the transcription to finish" in refused
    assert ui_handlers.UNLOAD_WAIT_S <= waited_s < ui_handlers.UNLOAD_WAIT_S + 5.0
    assert leases(studio) == [("tiny.en", 1)]  # still there, still in use

    held.release.set()
    request.join(PATIENCE_S)
    assert not request.is_alive()
    status, text = outputs[-1][1][:2]
    assert status.startswith("✓ Transcribed short.wav\n"), status
    assert "fellow americans" in text.lower()
    assert ui.unload_model("tiny.en") == "✓ tiny.en is unloaded."
    assert studio.loaded() == []


@pytest.mark.fault("load", "a model is unloaded while a transcription holds it",
                   "the unload waits for the transcription to end (and says it is waiting), "
                   "then unloads; with too short a wait it says the model is in use")
def test_unload_waits_for_the_lease_then_unloads(fresh_layout, short_wav):
    studio = make_studio(fresh_layout)
    manager = studio.models
    spec = catalog.resolve("tiny.en")
    audio = decode_file(short_wav)
    leased = threading.Event()
    job: dict[str, Any] = {}

    def transcription() -> None:
        with manager.lease(spec, "cpu") as model:
            job["model"] = model
            leased.set()
            time.sleep(0.5)
            job["output"] = model.transcribe(audio, TranscriptionOptions())
            job["ended_at"] = time.monotonic()

    worker = threading.Thread(target=transcription, daemon=True)
    worker.start()
    assert leased.wait(PATIENCE_S)
    started = time.monotonic()
    with pytest.raises(ModelInUseError, match="tiny.en is being used by a transcription"):
        manager.unload("tiny.en", wait_s=0.2)
    assert time.monotonic() - started >= 0.2

    events: list[Any] = []
    with job_progress.job(events.append):
        assert manager.unload("tiny.en", wait_s=PATIENCE_S) is True
    unloaded_at = time.monotonic()
    worker.join(PATIENCE_S)
    assert "fellow americans" in " ".join(s.text for s in job["output"].segments).lower()
    assert unloaded_at >= job["ended_at"]  # it waited for the transcription
    assert job["model"].model is None  # and then closed the model
    assert manager.loaded() == []
    assert [e.note.text for e in events if e.note is not None] == [
        "waiting for the transcription using tiny.en to finish"]


# -- idle models ------------------------------------------------------------------------------------

@pytest.mark.fault("load", "the studio runs with an idle-model TTL (0.2 s) and a transcription "
                   "outlasts it",
                   "the model stays loaded while the transcription holds it and is unloaded "
                   "once it has been idle for the TTL")
def test_the_reaper_unloads_idle_models_but_never_one_in_use(fresh_layout):
    studio = make_studio(fresh_layout)
    manager = studio.models
    spec = catalog.resolve("tiny.en")
    manager.start_reaper(ttl_s=0.2)
    try:
        with manager.lease(spec, "cpu") as model:
            time.sleep(1.0)  # five TTLs under a lease
            assert leases(studio) == [("tiny.en", 1)]
            assert model.model is not None
        idle_from = time.monotonic()
        reaped_at = wait_until(lambda: manager.loaded() == [], timeout_s=10.0)
        assert reaped_at - idle_from >= 0.2  # not before the TTL
        assert model.model is None
    finally:
        manager.stop_reaper()
