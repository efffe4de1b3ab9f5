"""The device and compute type, through each shell: the page, the CLI, the API.

A GPU that CTranslate2 counts but cannot use (faked: see tests/support/cuda.py)
gives the CPU and a note in the page's status box, the API's notes header and
the console log; ``--device cuda`` on it is a readable error. The compute type
chosen in each shell reaches faster-whisper's ``WhisperModel(compute_type=...)``
(a spy around the real model), and one the CPU cannot do is a readable error.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from stt_studio.engines import device
from stt_studio.entrypoints.ui_handlers import StudioUI
from tests.conftest import make_studio
from tests.entrypoints.api.conftest import api_server
from tests.support.cuda import (
    CUBLAS_MESSAGE,
    ModelSpy,
    child_env,
    fake_gpu,
    not_on_this_cpu,
    offered_on_cpu,
    without_a_gpu,
)
from tests.support.longaudio import JFK

pytestmark = pytest.mark.slow

NOTE_START = "CTranslate2 sees 1 CUDA device, but a test on it failed (RuntimeError: " \
             f"{CUBLAS_MESSAGE}), so Whisper runs on the CPU. To use the GPU: install NVIDIA's"
SCRIPT = Path(sys.executable).parent / "stt-studio"


@pytest.fixture(autouse=True)
def fresh_probes():
    device.forget()
    yield
    device.forget()


@pytest.fixture()
def spy(monkeypatch) -> ModelSpy:
    return ModelSpy().install(monkeypatch)


@pytest.fixture()
def studio(fresh_layout):
    return make_studio(fresh_layout, device="auto")


def final_status(ui: StudioUI, **controls) -> str:
    outputs = list(ui.transcribe(audio=[str(JFK)], model="tiny.en", **controls))
    return str(outputs[-1][0])


def device_notes(caplog) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records
            if r.name == "stt_studio.models.manager" and "CUDA" in r.getMessage()]


# -- the page -------------------------------------------------------------------------
def test_the_status_box_says_why_the_cpu_and_the_log_warns(monkeypatch, studio, tmp_path,
                                                           caplog):
    fake_gpu(monkeypatch, "cublas")
    ui = StudioUI(studio, heartbeat_s=0.01, outputs_root=tmp_path / "outputs")
    caplog.set_level(logging.INFO, logger="stt_studio")
    for _ in range(2):  # loaded, then from the cache: the box says it each time
        status = final_status(ui)
        assert status.startswith("✓ Transcribed jfk.flac"), status
        assert "model: tiny.en (whisper) on cpu" in status
        notes = status[status.index("\nNotes:\n"):]
        assert f"  - {NOTE_START}" in notes, status
        assert 'pip install nvidia-cublas-cu12 "nvidia-cudnn-cu12==9.*"' in notes
    logged = device_notes(caplog)
    assert [level for level, _ in logged] == [logging.WARNING, logging.INFO]
    assert all(text.startswith(NOTE_START) for _, text in logged)


def test_a_gpu_whose_test_works_is_used(monkeypatch, spy, studio, tmp_path):
    fake_gpu(monkeypatch, "works")
    ui = StudioUI(studio, heartbeat_s=0.01, outputs_root=tmp_path / "outputs")
    status = final_status(ui)
    assert "model: tiny.en (whisper) on cuda" in status and "Notes:" not in status, status
    assert [(c["device"], c["compute_type"]) for c in spy.calls] == [("cuda", "float16")]
    assert final_status(ui, compute_type="int8_float16").startswith("✓ Transcribed")
    assert spy.calls[-1]["compute_type"] == "int8_float16"


@without_a_gpu
def test_the_page_compute_type_reaches_faster_whisper(spy, studio, tmp_path):
    ui = StudioUI(studio, heartbeat_s=0.01, outputs_root=tmp_path / "outputs")
    assert final_status(ui, compute_type="float32").startswith("✓ Transcribed")
    assert final_status(ui).startswith("✓ Transcribed")  # the studio's: auto
    assert spy.compute_types == ["float32", "int8"]
    assert sorted((e.name, e.device, e.compute_type) for e in studio.loaded()) == [
        ("tiny.en", "cpu", "float32"), ("tiny.en", "cpu", "int8")]  # one model per type
    assert final_status(ui, compute_type="float32").startswith("✓ Transcribed")
    assert len(spy.calls) == 2  # float32 again: the loaded one


@without_a_gpu
def test_the_page_says_which_compute_types_the_cpu_can_do(spy, studio, tmp_path):
    ui = StudioUI(studio, heartbeat_s=0.01, outputs_root=tmp_path / "outputs")
    cannot = not_on_this_cpu()
    status = final_status(ui, compute_type=cannot)
    assert status.startswith("✗ Failed while loading model"), status
    assert f"Invalid option: the Whisper engine cannot compute in {cannot} on the CPU" in status
    assert f"Use one of: {offered_on_cpu()} (" in status
    assert spy.calls == []


def test_the_advanced_section_offers_the_compute_types(studio):
    import gradio as gr

    from stt_studio.entrypoints.ui import build_app

    with build_app(StudioUI(studio)) as app:
        [control] = [b for b in app.blocks.values() if getattr(b, "elem_id", None)
                     == "compute-type"]
    assert isinstance(control, gr.Dropdown)
    assert [c[0] for c in control.choices] == ["auto", "int8", "int8_float16", "float16",
                                               "float32"]
    assert control.value == "auto"


# -- the CLI --------------------------------------------------------------------------
def run_cli(*args: str | Path, env: dict[str, str],
            cache: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in env.items() if not k.startswith("STT_STUDIO_")}
    env.update(STT_STUDIO_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1",
               HF_ENDPOINT="http://127.0.0.1:9", PYTHONIOENCODING="utf-8")
    return subprocess.run([str(SCRIPT), *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=300, check=False, cwd=cache.parent)


def test_the_cli_on_a_gpu_that_fails(tmp_path):
    env = child_env("cublas")
    out = tmp_path / "out"
    auto = run_cli("transcribe", JFK, "--output-dir", out, env=env, cache=tmp_path / "cache")
    assert auto.returncode == 0, auto.stderr
    assert "fellow americans" in auto.stdout.lower()
    assert f"WARNING stt_studio.models.manager: {NOTE_START}" in auto.stderr
    cuda = run_cli("transcribe", JFK, "--output-dir", out, "--overwrite", "--device", "cuda",
                   env=env, cache=tmp_path / "cache")
    assert cuda.returncode == 1
    assert "Invalid option: --device cuda was asked for, but the Whisper engine cannot use " \
           "the GPU CTranslate2 sees" in cuda.stderr
    assert f"Details: RuntimeError: {CUBLAS_MESSAGE}" in cuda.stderr
    assert "Traceback" not in cuda.stderr


def _cli(monkeypatch, argv: list[str]) -> int:
    from stt_studio.entrypoints import cli
    from tests.support.inprocess import keep_process_state

    keep_process_state(monkeypatch)  # its cache's TMPDIR, HF_HOME... and logging
    return cli.main(argv)


@without_a_gpu
def test_the_cli_flag_and_its_variable_reach_faster_whisper(monkeypatch, spy, tmp_path,
                                                            capsys):
    common = ["transcribe", str(JFK), "--output-dir", str(tmp_path / "out"), "--overwrite",
              "--cache-dir", str(tmp_path / "cache")]
    assert _cli(monkeypatch, [*common, "--compute-type", "float32"]) == 0
    monkeypatch.setenv("STT_STUDIO_COMPUTE_TYPE", "float32")
    assert _cli(monkeypatch, common) == 0
    assert _cli(monkeypatch, [*common, "--compute-type", "int8"]) == 0  # the flag wins
    assert spy.compute_types == ["float32", "float32", "int8"]
    cannot = not_on_this_cpu()
    assert _cli(monkeypatch, [*common, "--compute-type", cannot]) == 1
    assert f"cannot compute in {cannot} on the CPU" in capsys.readouterr().err
    monkeypatch.setenv("STT_STUDIO_COMPUTE_TYPE", "half")
    with pytest.raises(SystemExit):
        _cli(monkeypatch, common)
    assert "must be one of auto, int8, int8_float16, float16, float32, not 'half'" \
        in capsys.readouterr().err


def test_serve_takes_the_compute_type(monkeypatch, tmp_path):
    from stt_studio.entrypoints import server

    seen = []
    monkeypatch.setattr(server, "serve", lambda settings, *a, **k: seen.append(settings) or 0)
    assert _cli(monkeypatch, ["serve", "--compute-type", "int8_float16", "--no-preload",
                              "--cache-dir", str(tmp_path / "cache")]) == 0
    assert [s.compute_type.value for s in seen] == ["int8_float16"]


# -- the API --------------------------------------------------------------------------
def post(served, **fields: str):
    import httpx

    with JFK.open("rb") as audio:
        return httpx.post(served.base_url + "v1/audio/transcriptions",
                          files={"file": ("jfk.flac", audio)},
                          data={"model": "tiny.en", **fields}, timeout=300)


@without_a_gpu
def test_the_api_compute_type_field(spy, studio):
    with api_server(studio) as served:
        chosen = post(served, compute_type="float32")
        assert chosen.status_code == 200, chosen.text
        assert "fellow americans" in chosen.json()["text"].lower()
        assert spy.compute_types == ["float32"]
        cannot = not_on_this_cpu()
        refused = post(served, compute_type=cannot)
        bogus = post(served, compute_type="half")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["param"] == "compute_type" and error["code"] == "invalid_option"
    assert f"the Whisper engine cannot compute in {cannot} on the CPU" in error["message"]
    assert f"Use one of: {offered_on_cpu()} (" in error["message"]
    assert bogus.status_code == 400 and bogus.json()["error"]["param"] == "compute_type"
    assert "Use one of: auto, int8, int8_float16, float16, float32" \
        in bogus.json()["error"]["message"]
    assert spy.compute_types == ["float32"]


def test_the_api_says_why_the_cpu(monkeypatch, studio):
    fake_gpu(monkeypatch, "cublas")
    with api_server(studio) as served:
        answer = post(served)
    assert answer.status_code == 200, answer.text
    assert NOTE_START in answer.headers["x-stt-studio-notes"]
