"""The studio opened to a network, in Chromium: the token form, the printed URL, the upload limit."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.entrypoints.api.conftest import api_server
from tests.support.browser import StudioPage

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def open_server(session_studio) -> Iterator[Any]:
    """Bound to every interface, no key: the page needs the token the server made."""
    session_studio.load("tiny.en")
    with api_server(session_studio, host="0.0.0.0") as served:
        yield served


@pytest.fixture()
def bare_page(browser) -> Iterator[Any]:
    """A page in a fresh context (no cookie), not yet on the studio; checked for outside requests."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    studio_page = StudioPage(context.new_page(), "")
    studio_page.page.on("request", lambda request: studio_page.requests.append(request.url))
    yield studio_page
    context.close()
    assert studio_page.outside_requests() == [], "the page reached beyond 127.0.0.1"


def test_the_page_asks_for_the_token_and_then_opens(open_server, bare_page):
    page = bare_page.page
    token = open_server.access.page_token
    response = page.goto(open_server.base_url)
    assert response is not None and response.status == 401
    assert page.locator("h1").inner_text() == "stt-studio"
    assert page.locator("#transcribe").count() == 0
    page.fill("#token", "not-the-token")
    page.click("button[type=submit]")
    page.wait_for_selector("text=That token is not right")
    assert page.locator("#transcribe").count() == 0
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_selector("#transcribe")
    assert page.url == open_server.base_url
    assert token not in page.evaluate("document.cookie")  # HttpOnly: scripts cannot read it


def test_the_printed_url_opens_the_studio_and_transcribes(open_server, open_page, jfk):
    token = open_server.access.page_token
    assert open_server.url.endswith(f"?token={token}")
    studio = open_page(open_server.url)
    assert studio.page.url == open_server.base_url  # the token left the address bar
    assert token not in studio.page.evaluate("document.cookie")
    studio.upload(jfk)
    status = studio.transcribe()
    assert status.startswith("✓ Transcribed jfk.flac"), status
    assert "fellow Americans" in studio.transcript()


@pytest.fixture()
def two_mb_wav(mic_wav, tmp_path) -> Path:
    """JFK seven times over, 16 kHz 16-bit mono: about 2.3 MB."""
    with wave.open(str(mic_wav), "rb") as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    target = tmp_path / "long jfk.wav"
    with wave.open(str(target), "wb") as out:
        out.setparams(params)
        out.writeframes(frames * 7)
    assert 2 * 1024 * 1024 < target.stat().st_size < 3 * 1024 * 1024
    return target


def test_a_file_past_the_upload_limit_is_named_in_the_status_box(session_studio, open_page,
                                                                 two_mb_wav):
    size_mb = two_mb_wav.stat().st_size / 1024 / 1024
    with api_server(session_studio, max_upload_mb=1) as served:
        studio = open_page(served.url)
        studio.page.locator("#audio input[type=file]").set_input_files(str(two_mb_wav))
        studio.page.wait_for_function(
            "() => document.querySelector('#status textarea').value.startsWith('✗')")
        status = studio.status()
        assert status.startswith(f"✗ Too large to upload: long jfk.wav ({size_mb:.1f} MB)\n"
                                 "This studio takes files up to 1 MB."), status
        assert "--max-upload-mb" in status
        assert studio.page.locator("#audio a[href*='gradio_api/file=']").count() == 0
        studio.page.close()  # the server need not wait for the page's connection
