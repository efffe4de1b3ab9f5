"""A model hub on 127.0.0.1 for download tests, and the HF cache layout it leaves.

The fake hub answers the two requests huggingface_hub makes for one file —
HEAD for the metadata (commit, ETag, size), GET for the bytes — so the whole
user path runs against real huggingface_hub code, never the network.

huggingface_hub reads ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` once, at import,
so the CLI talks to this hub from a subprocess started with :func:`cli_env`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

STT = Path(sys.executable).with_name("stt-studio")
COMMIT = "1234567890abcdef1234567890abcdef12345678"


class FakeHub(ThreadingHTTPServer):
    """Serves ``files`` keyed ``"org/name:filename"``; ``mode``: ok, 404 or truncate."""

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


@contextlib.contextmanager
def serving(files: dict[str, bytes], mode: str = "ok") -> Iterator[FakeHub]:
    """A running :class:`FakeHub` for the duration of the block."""
    server = FakeHub(files, mode)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def cli_env(cache: Path, hub_url: str, *, offline: bool,
            extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI subprocess that uses ``cache`` and the hub at ``hub_url``.

    Every inherited ``HF_*`` and ``STT_STUDIO_*`` variable is dropped first, so
    the test session's ``HF_HUB_OFFLINE=1`` applies only when ``offline``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "STT_STUDIO_"))}
    env.update(STT_STUDIO_CACHE_DIR=str(cache), HF_ENDPOINT=hub_url,
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_ETAG_TIMEOUT="5",
               HF_HUB_DOWNLOAD_TIMEOUT="5")
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    env.update(extra or {})
    return env


def prefill_hf_cache(hub_cache: Path, repo_id: str, source: Path) -> Path:
    """The on-disk layout huggingface_hub leaves after downloading one file.

    ``source`` becomes the blob; the snapshot entry ``<repo name>.nemo`` links to it.
    """
    org, name = repo_id.split("/")
    repo = hub_cache / f"models--{org}--{name}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    blob = repo / "blobs" / "deadbeef"
    blob.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, blob)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True, exist_ok=True)
    (snapshot / f"{name}.nemo").symlink_to(Path("..") / ".." / "blobs" / "deadbeef")
    return snapshot / f"{name}.nemo"
