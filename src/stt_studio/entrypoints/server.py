"""`stt-studio serve`: one process, the web UI at ``/`` and the OpenAI-compatible API at ``/v1``.

FastAPI hosts the Gradio app, so both share one :class:`Studio` (one model
manager, one queue of turns per model). Around them, from the outside in:
CORS (no origin but those of ``--cors-origin``), the access gate (:mod:`api.access`)
and the upload limit (:mod:`api.limits`). uvicorn serves it all from a socket
bound here first, so a port in use is a readable error, not an exit.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stt_studio import system
from stt_studio.cache import CacheLayout
from stt_studio.domain import ProgressEvent
from stt_studio.entrypoints.api.access import Access, is_loopback
from stt_studio.entrypoints.console import report
from stt_studio.entrypoints.ui import (
    CSS,
    STALE_AFTER_S,
    UPLOAD_LIMIT_JS,
    WATCHDOG_JS,
    build_app,
    offline_environment,
    startup_warning,
    ui_scratch,
)
from stt_studio.entrypoints.ui_view import duration as view_duration
from stt_studio.errors import ServerError
from stt_studio.hazards import Hazard, log_hazards, path_hazards
from stt_studio.settings import DEFAULT_MAX_UPLOAD_MB, Settings

if TYPE_CHECKING:
    from stt_studio.service import Studio

log = logging.getLogger("stt_studio.server")

#: how long start() waits for uvicorn to be listening
START_TIMEOUT_S = 60.0
#: how long close() waits for open requests to end
CLOSE_TIMEOUT_S = 10.0
#: how long uvicorn lets open connections finish when the server stops (an idle
#: keep-alive connection of a browser or client would otherwise hold every stop)
GRACE_S = 1
#: how often Gradio's queue looks for UI work when idle, and for progress to send (its
#: Windows pace; elsewhere it polls every 1 ms and 10 ms, which costs a transcription
#: running in this process ~7 % of its CPU: bench/api_bench.py)
QUEUE_POLL_S = 0.05
PROGRESS_POLL_S = 0.1
#: how often the main thread wakes while it serves: an untimed wait is one that Ctrl+C
#: cannot interrupt on Windows (CPython #80116), so `serve` would never stop there
WAKE_S = 0.5


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """How the server is opened: who may use it, how much they may upload, from where."""

    access: Access = field(default_factory=Access)
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    cors_origins: tuple[str, ...] = ()
    max_live_sessions: int = 4
    max_live_minutes: float = 240.0


@dataclass(frozen=True, slots=True)
class Served:
    """A running server.

    url: what to open in a browser (with ``?token=`` when the page needs one).
    base_url: the server's root, for API clients (``base_url + "v1"``).
    """

    url: str
    base_url: str
    access: Access
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _blocks: Any = field(repr=False)

    @property
    def port(self) -> int:
        return int(self.base_url.rstrip("/").rsplit(":", 1)[1])

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(CLOSE_TIMEOUT_S)
        queue = getattr(self._blocks, "_queue", None)
        if queue is not None:
            queue.close()


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on host:port; OSError when the port is taken."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        if not system.is_windows():  # on Windows this would let two servers share a port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def build_server_app(studio: Studio, blocks: Any, ui_outputs: Any, host: str, port: int,
                     options: ServeOptions, page_js: str) -> Any:
    """The FastAPI app: the API routes, then Gradio at ``/``, inside the middlewares."""
    import gradio as gr
    from fastapi import FastAPI

    from stt_studio.entrypoints.api.access import AccessGate
    from stt_studio.entrypoints.api.limits import UploadLimit
    from stt_studio.entrypoints.api.routes import ApiContext, router

    app = FastAPI(title="stt-studio", docs_url=None, redoc_url=None,
                  openapi_url="/v1/openapi.json")
    from stt_studio.entrypoints.api.realtime import RealtimeLimits

    context = ApiContext(studio, studio.layout.tmp_dir / "api", options.max_upload_mb,
                         int(time.time()),
                         RealtimeLimits(max_sessions=options.max_live_sessions,
                                        max_session_s=options.max_live_minutes * 60.0))
    app.include_router(router(context))
    access = options.access
    app.add_middleware(UploadLimit, limit_mb=options.max_upload_mb)
    app.add_middleware(AccessGate, access=access, port=port)
    from fastapi.middleware.cors import CORSMiddleware

    # always present, so Gradio's own CORS stands down: reached at a LAN address, it
    # lets any origin read the page's routes with credentials; no origins = CORS off
    app.add_middleware(CORSMiddleware, allow_origins=list(options.cors_origins),
                       allow_methods=["*"], allow_headers=["*"])
    gr.mount_gradio_app(
        app, blocks, path="/", server_name=host, server_port=port,
        auth=list(access.logins) or None,
        auth_message="stt-studio: sign in with a login given to `stt-studio serve --auth`.",
        max_file_size=f"{options.max_upload_mb}mb", allowed_paths=[str(ui_outputs)],
        footer_links=["api", "settings"], theme=gr.themes.Default(), css=CSS, js=page_js,
        pwa=False, mcp_server=False, ssr_mode=False, show_error=True, run_history=False,
    )
    return app


def start(studio: Studio, host: str, port: int, *, heartbeat_s: float = 1.0,
          stale_after_s: float = STALE_AFTER_S, hazards: Sequence[Hazard] | None = None,
          options: ServeOptions | None = None) -> Served:
    """Build the app and serve it in a background thread (returns once it listens).

    hazards: the cache path's hazards, if the caller found them already.
    """
    options = options or ServeOptions()
    scratch, warning = ui_scratch(studio.layout)
    offline_environment(scratch)
    from stt_studio.entrypoints.ui_handlers import StudioUI

    if hazards is None:
        hazards = path_hazards(studio.layout, (studio.settings.default_model,))
    ui_outputs = scratch / "outputs"
    blocks = build_app(StudioUI(studio, outputs_root=ui_outputs,
                                startup_warning=startup_warning(warning, hazards),
                                heartbeat_s=heartbeat_s, max_upload_mb=options.max_upload_mb))
    blocks.queue(default_concurrency_limit=4)
    queue = getattr(blocks, "_queue", None)
    if queue is not None:
        queue.sleep_when_free = QUEUE_POLL_S
        queue.progress_update_sleep_when_free = PROGRESS_POLL_S
    sock = _bind(host, port)
    real_port = int(sock.getsockname()[1])
    watchdog = WATCHDOG_JS % int(stale_after_s * 1000)
    page_js = f"() => {{\n  ({watchdog})();\n  ({UPLOAD_LIMIT_JS})({options.max_upload_mb});\n}}"
    try:
        app = build_server_app(studio, blocks, ui_outputs, host, real_port, options, page_js)
        server, thread = _run(app, sock)
    except BaseException:
        sock.close()
        raise
    base = f"http://{_url_host(host)}:{real_port}/"
    token = options.access.page_token
    return Served(f"{base}?token={token}" if token else base, base, options.access, server,
                  thread, blocks)


def _run(app: Any, sock: socket.socket) -> tuple[Any, threading.Thread]:
    import uvicorn

    from stt_studio.entrypoints.api.realtime import WS_MAX_SIZE_BYTES

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=GRACE_S, ws="websockets-sansio",
                            ws_max_size=WS_MAX_SIZE_BYTES)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise ServerError("the web server did not start",
                              remedies=("Run again with --debug and look at the console",))
        time.sleep(0.02)
    return server, thread


def _log_stage(event: ProgressEvent) -> None:
    if event.stage is not None:
        log.info("preload: %s", event.text)


def _preload(studio: Studio) -> None:
    name = studio.settings.default_model
    try:
        loaded = studio.load(name, progress=_log_stage)
        log.info("default model %s is ready on %s", name, loaded.device)
    except Exception as exc:  # noqa: BLE001 - the UI shows it again on first use
        report(exc, subject=f"preloading {name}", show_traceback=True)


def _announce(served: Served, host: str, settings: Settings, layout: CacheLayout) -> None:
    access = served.access
    print(f"stt-studio is running: open {served.url} in your browser (Ctrl+C stops it)",
          flush=True)
    print(f"  OpenAI-compatible API: {served.base_url}v1", flush=True)
    if not is_loopback(host):
        print(f"  listening on {host}: other machines use this machine's address instead of "
              f"{_url_host(host)}", flush=True)
    if access.generated:
        print(f"  access token (the page and the API need it): {access.api_key}\n"
              f"  API clients send `Authorization: Bearer {access.api_key}` "
              "(set --api-key or STT_STUDIO_API_KEY to choose it)", flush=True)
    elif access.api_key:
        print("  the API needs the key given with --api-key / STT_STUDIO_API_KEY"
              + ("; so does the page" if access.page_token else ""), flush=True)
    if access.logins:
        print(f"  the page asks for a login ({len(access.logins)} user(s) from --auth)",
              flush=True)
    print(f"  default model: {settings.default_model} · cache: {layout.root} · uploads up to "
          f"{settings.max_upload_mb} MB", flush=True)


def wait_until_interrupted(stop: threading.Event) -> None:
    """Block until ``stop`` is set or Ctrl+C, waking every :data:`WAKE_S` so the
    KeyboardInterrupt is raised on Windows too."""
    while not stop.wait(WAKE_S):
        pass


def serve(settings: Settings, layout: CacheLayout, host: str, port: int, *,
          preload: bool = True, options: ServeOptions | None = None) -> int:
    """Run the studio until Ctrl+C; return the exit code."""
    hazards = path_hazards(layout, (settings.default_model,))
    log_hazards(hazards)  # at once, before the slow imports
    from stt_studio.service import Studio

    studio = Studio(settings, layout)
    options = options or ServeOptions(max_upload_mb=settings.max_upload_mb)
    try:
        served = start(studio, host, port, hazards=hazards, options=options)
    except OSError as exc:
        raise ServerError(
            f"cannot listen on {host}:{port}", detail=str(exc),
            remedies=(f"Pass another port: stt-studio serve --port {port + 1}",
                      "Or stop the program using the port"),
        ) from exc
    _announce(served, host, settings, layout)
    if settings.model_ttl_s is not None:
        studio.models.start_reaper(settings.model_ttl_s)
        print(f"  idle models unload after {view_duration(settings.model_ttl_s)} "
              "(STT_STUDIO_MODEL_TTL_S; 0 keeps them loaded)", flush=True)
    if preload:
        threading.Thread(target=_preload, args=(studio,), name="preload", daemon=True).start()
    try:
        wait_until_interrupted(threading.Event())
    except KeyboardInterrupt:
        print("stopping…", flush=True)
    finally:
        studio.models.stop_reaper()
        served.close()
    return 0
