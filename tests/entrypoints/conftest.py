"""Fixtures for the web UI tests: one Chromium per session, one app per module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM, OFFLINE_ARGS, StudioPage, mic_args, serving


@pytest.fixture(scope="session")
def mic_wav(tmp_path_factory, jfk) -> Path:
    """JFK as 16-bit PCM WAV: what Chromium's fake microphone plays."""
    from stt_studio.audio.decode import decode_file
    from stt_studio.entrypoints.ui_handlers import _write_wav

    audio = decode_file(jfk)
    target = tmp_path_factory.mktemp("mic") / "jfk.wav"
    _write_wav(target, audio, 0.0, audio.duration_s)
    return target


@pytest.fixture(scope="session")
def browser(mic_wav):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: `make test` installs it "
                    "(scripts/ensure_chromium.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=OFFLINE_ARGS + mic_args(mic_wav))
        yield chromium
        chromium.close()


@pytest.fixture()
def studio_url(session_studio):
    """The real app over the session's studio (tiny.en stays loaded).

    One app per test: in one process, closing a Gradio app (as the lock tests
    do with their own) can leave an app launched before it with a stalled
    queue, so no app outlives the test that started it. Ask for it before
    ``open_page``: the page then closes first, and the server need not wait
    (5 s) for the page's open connection.
    """
    with serving(session_studio) as url:
        yield url


@pytest.fixture()
def open_page(browser):
    """``open_page(url)`` -> StudioPage; asserts at teardown that nothing left 127.0.0.1."""
    pages: list[StudioPage] = []
    contexts = []

    def opener(url: str) -> StudioPage:
        context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                      accept_downloads=True)
        contexts.append(context)
        context.set_default_timeout(30_000)
        studio_page = StudioPage(context.new_page(), url).open()
        pages.append(studio_page)
        return studio_page

    yield opener
    for context in contexts:
        context.close()
    for studio_page in pages:
        assert studio_page.outside_requests() == [], "the page reached beyond 127.0.0.1"
