"""`stt-studio serve` beyond loopback, as a real process: the token it prints, keys, bad flags."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.browser import free_port

pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).parent / "stt-studio"
START_TIMEOUT_S = 90.0
TOKEN_LINE = re.compile(r"^  access token \(the page and the API need it\): (\S+)$")


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STT_STUDIO_")}
    env.update(STT_STUDIO_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1",
               HF_ENDPOINT="http://127.0.0.1:9", PYTHONIOENCODING="utf-8",
               PYTHONUNBUFFERED="1", **extra)
    return env


@dataclass
class Server:
    """A running `stt-studio serve`; its output lines arrive in ``lines`` as it prints them."""

    proc: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def read_until(self, text: str, timeout_s: float = START_TIMEOUT_S) -> list[str]:
        """Lines up to the one holding ``text`` (fails with all output when it ends first)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {text!r} in {timeout_s} s:\n"
                                     + "\n".join(self.lines)) from None
            if line is None:
                raise AssertionError(f"exited {self.proc.wait()} before {text!r}:\n"
                                     + "\n".join(self.lines))
            self.lines.append(line)
            if text in line:
                return self.lines

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers=headers,
                            timeout=30, follow_redirects=False)


@pytest.fixture()
def start_serve(session_layout) -> Iterator[object]:
    started: list[subprocess.Popen[str]] = []

    def start(*flags: str, **env: str) -> Server:
        assert SCRIPT.is_file(), f"console script not installed at {SCRIPT}"
        port = free_port()
        proc = subprocess.Popen(
            [str(SCRIPT), "serve", "--host", "0.0.0.0", "--port", str(port), "--no-preload",
             "--cache-dir", str(session_layout.root), *flags],
            env=_env(session_layout.root, **env), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, encoding="utf-8")
        started.append(proc)
        return Server(proc, port)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_serve_on_every_interface_prints_a_token_that_opens_it(start_serve):
    server = start_serve()
    lines = server.read_until("default model:")
    text = "\n".join(lines)
    tokens = [m.group(1) for m in map(TOKEN_LINE.match, lines) if m]
    assert len(tokens) == 1, text
    token = tokens[0]
    assert f"open http://127.0.0.1:{server.port}/?token={token} in your browser" in text
    assert f"Authorization: Bearer {token}" in text
    assert "listening on 0.0.0.0" in text
    with server.http() as anonymous:
        refused = anonymous.get("/v1/models")
        page = anonymous.get("/config")
        assert anonymous.get("/health").status_code == 200
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    assert page.status_code == 401
    with server.http("not-" + token) as wrong:
        assert wrong.get("/v1/models").status_code == 401
    with server.http(token) as client:
        models = client.get("/v1/models")
        assert client.get("/config").status_code == 200
    assert models.status_code == 200 and models.json()["object"] == "list"
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(30) == 0
    server.read_until("stopping")


def test_an_api_key_from_the_environment_replaces_the_token(start_serve):
    server = start_serve(STT_STUDIO_API_KEY="k-123")
    text = "\n".join(server.read_until("default model:"))
    assert not [line for line in server.lines if TOKEN_LINE.match(line)], text
    assert "access token" not in text and "Bearer" not in text
    assert "the API needs the key given with --api-key / STT_STUDIO_API_KEY; so does the page" \
        in text
    assert f"open http://127.0.0.1:{server.port}/?token=k-123 in your browser" in text
    with server.http() as anonymous:
        assert anonymous.get("/v1/models").status_code == 401
    with server.http("k-12") as wrong:
        assert wrong.get("/v1/models").status_code == 401
    with server.http("k-123") as client:
        assert client.get("/v1/models").status_code == 200
        assert client.get("/config").status_code == 200
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(30) == 0


def _run_serve(cache: Path, *flags: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A serve that should stop at once: its exit code and output."""
    return subprocess.run(
        [str(SCRIPT), "serve", "--host", "0.0.0.0", "--port", str(free_port()),
         "--no-preload", "--cache-dir", str(cache), *flags],
        env=_env(cache, **env), capture_output=True, text=True, encoding="utf-8",
        timeout=120, check=False)


def test_a_bad_line_in_the_auth_file_stops_before_serving(session_layout, tmp_path):
    logins = tmp_path / "logins.txt"
    logins.write_text("ann:pw\nbob-without-password\n", "utf-8")
    proc = _run_serve(session_layout.root, "--auth-file", str(logins))
    assert proc.returncode == 2, proc.stderr
    assert f"Invalid option: a login in {logins} is not USER:PASSWORD" in proc.stderr
    assert "Write each login as USER:PASSWORD" in proc.stderr
    assert "Traceback" not in proc.stderr and "stt-studio is running" not in proc.stdout


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_zero_upload_limit_is_a_readable_error(session_layout, how):
    flags, env = ((("--max-upload-mb", "0"), {}) if how == "flag"
                  else ((), {"STT_STUDIO_MAX_UPLOAD_MB": "0"}))
    proc = _run_serve(session_layout.root, *flags, **env)
    assert proc.returncode == 2, proc.stderr
    assert ("stt-studio: error: the upload limit (--max-upload-mb, "
            "STT_STUDIO_MAX_UPLOAD_MB) must be at least 1 MB, not 0") in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_zero_live_session_limit_is_a_readable_error(session_layout):
    proc = _run_serve(session_layout.root, "--max-live-sessions", "0")
    assert proc.returncode == 2, proc.stderr
    assert "argument --max-live-sessions: must be at least 1, not 0" in proc.stderr
    assert "Traceback" not in proc.stderr
