"""A live studio server on 127.0.0.1 for the API tests (real uvicorn, real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.support.browser import free_port


@contextmanager
def api_server(studio: Any, *, api_key: str | None = None, host: str = "127.0.0.1",
               max_upload_mb: int = 2048, cors_origins: tuple[str, ...] = (),
               logins: tuple[tuple[str, str], ...] = ()) -> Iterator[Any]:
    """``stt-studio serve`` in this process, over ``studio``; yields the Served."""
    from stt_studio.entrypoints.api.access import decide
    from stt_studio.entrypoints.server import ServeOptions, start

    options = ServeOptions(access=decide(host, api_key, logins), max_upload_mb=max_upload_mb,
                           cors_origins=cors_origins)
    served = start(studio, host, free_port(), heartbeat_s=0.2, options=options)
    try:
        yield served
    finally:
        served.close()


@pytest.fixture(scope="module")
def served(session_studio) -> Iterator[Any]:
    """The studio's server with no key, the session's tiny.en loaded (module-wide)."""
    session_studio.load("tiny.en")
    with api_server(session_studio) as running:
        yield running


@pytest.fixture(scope="module")
def base_url(served) -> str:
    """``http://127.0.0.1:PORT/v1``: what OpenAI's clients take as base_url."""
    return served.base_url + "v1"
