"""Hub downloads, for real, against a hub on 127.0.0.1 (HF_ENDPOINT), never the network.

The fake hub answers the two requests huggingface_hub makes for one file —
HEAD for the metadata (commit, ETag, size), GET for the bytes — so the whole
user path runs: `models pull` -> HF cache layout -> one-time extraction ->
offline load by name.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STT = Path(sys.executable).with_name("stt-studio")
COMMIT = "1234567890abcdef1234567890abcdef12345678"


class FakeHub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files: dict[str, bytes], mode: str = "ok") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = files
        self.mode = mode
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeHub

    def log_message(self, *args: object) -> None:
        pass

    def _lookup(self) -> bytes | None:
        self.server.requests.append(f"{self.command} {self.path}")
        # /{org}/{name}/resolve/{revision}/{filename}
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.server.files.get("/".join(parts[:2]) + ":" + "/".join(parts[4:]))
        return None

    def _head(self, body: bytes | None) -> None:
        if body is None or self.server.mode == "404":
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802 - http.server API
        self._head(self._lookup())

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        body = self._lookup()
        self._head(body)
        if body is None or self.server.mode == "404":
            return
        if self.server.mode == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture()
def hub(tiny_nemo):
    files = {"acme/tiny-parakeet:tiny-parakeet.nemo": tiny_nemo["tdt"].read_bytes()}
    server = FakeHub(files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run(args: list[str], cache: Path, hub_url: str, offline: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "STT_STUDIO_"))}
    env.update(STT_STUDIO_CACHE_DIR=str(cache), HF_ENDPOINT=hub_url,
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_ETAG_TIMEOUT="5",
               HF_HUB_DOWNLOAD_TIMEOUT="5")
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run([str(STT), *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_pull_then_use_offline_by_name(hub, tmp_path, jfk):
    cache = tmp_path / "cache"
    pulled = run(["models", "pull", "acme/tiny-parakeet"], cache, hub.url, offline=False)
    assert pulled.returncode == 0, pulled.stderr
    assert "is ready" in pulled.stdout
    assert any(r.startswith("GET /acme/tiny-parakeet/resolve/main/tiny-parakeet.nemo")
               for r in hub.requests)
    snapshot = cache / "huggingface" / "hub" / "models--acme--tiny-parakeet" / "snapshots"
    assert (snapshot / COMMIT / "tiny-parakeet.nemo").is_file()
    hub.requests.clear()
    used = run(["transcribe", str(jfk), "--model", "acme/tiny-parakeet", "--output-dir",
                str(tmp_path / "out")], cache, hub.url, offline=True)
    assert used.returncode == 0, used.stderr
    assert hub.requests == []  # served from the cache
    assert (tmp_path / "out" / "jfk.txt").is_file()


def test_interrupted_download_is_an_error_and_not_a_model(hub, tmp_path):
    hub.mode = "truncate"
    cache = tmp_path / "cache"
    pulled = run(["models", "pull", "acme/tiny-parakeet"], cache, hub.url, offline=False)
    assert pulled.returncode == 1
    assert "Network or download error" in pulled.stderr
    assert "acme/tiny-parakeet" in pulled.stderr and "Traceback" not in pulled.stderr
    repo = cache / "huggingface" / "hub" / "models--acme--tiny-parakeet"
    assert not list(repo.glob("snapshots/*/*.nemo"))  # nothing passed off as complete
    assert not [p for p in (cache / "extracted").iterdir() if not p.name.startswith(".")]


def test_missing_repository_is_model_not_found(hub, tmp_path):
    hub.mode = "404"
    pulled = run(["models", "pull", "acme/tiny-parakeet"], tmp_path / "cache", hub.url,
                 offline=False)
    assert pulled.returncode == 1
    assert "Model not found" in pulled.stderr and "acme/tiny-parakeet" in pulled.stderr


def test_unreachable_hub_is_a_network_error(tmp_path):
    pulled = run(["models", "pull", "acme/tiny-parakeet"], tmp_path / "cache",
                 "http://127.0.0.1:9", offline=False)
    assert pulled.returncode == 1
    assert "Network or download error" in pulled.stderr
    assert "Check the connection" in pulled.stderr
