"""The models tab in a real browser, and a UI that stays alive while a model loads."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import make_studio
from tests.support.browser import serving

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _models_tab(page):
    page.page.get_by_role("tab", name="Models").click()
    page.page.wait_for_selector("#cache-info strong")


def _models_status(page, button: str, starts: str) -> str:
    page.page.evaluate("document.querySelector('#models-status textarea').value = ''")
    page.page.click(button)
    page.page.wait_for_function(
        "(s) => document.querySelector('#models-status textarea').value.startsWith(s)",
        arg=starts, timeout=60_000)
    return str(page.page.locator("#models-status textarea").input_value())


def test_models_tab_lists_loads_unloads_and_runs_doctor(open_page, fresh_layout):
    studio = make_studio(fresh_layout)
    with serving(studio) as url:
        page = open_page(url)
        _models_tab(page)
        info = page.page.locator("#cache-info").inner_text()
        assert str(fresh_layout.root) in info and "in all" in info
        table = page.page.locator("#models-table")
        assert "nvidia/parakeet-tdt-0.6b-v2" in table.inner_text()
        assert "bundled" in table.inner_text()

        assert "is loaded on cpu" in _models_status(page, "#load", "✓")
        page.page.wait_for_function(
            "() => document.querySelector('#models-table').innerText.includes('loaded on cpu')")
        assert [e.name for e in studio.loaded()] == ["tiny.en"]

        assert _models_status(page, "#unload", "✓") == "✓ tiny.en is unloaded."
        assert studio.loaded() == []

        page.page.click("#doctor")
        page.page.wait_for_function(
            "() => /checks passed|problem\\(s\\) found/.test("
            "document.querySelector('#doctor-report textarea').value)", timeout=60_000)
        report = page.page.locator("#doctor-report textarea").input_value()
        assert "[ ok ]" in report and str(fresh_layout.root) in report


@pytest.fixture()
def held_load(monkeypatch) -> threading.Event:
    """The Whisper loader waits (at most 60 s) until the returned event is set."""
    import faster_whisper

    release = threading.Event()
    original = faster_whisper.WhisperModel

    def held_loader(*args, **kwargs):
        release.wait(60)
        return original(*args, **kwargs)

    monkeypatch.setattr(faster_whisper, "WhisperModel", held_loader)
    yield release
    release.set()


def test_ui_stays_responsive_while_a_model_loads(open_page, fresh_layout, held_load, jfk):
    """A load that takes long: the status box ticks and the models tab still answers."""
    studio = make_studio(fresh_layout)
    with serving(studio) as url:
        page = open_page(url)
        page.upload(jfk)
        page.page.click("#transcribe")
        page.page.wait_for_function(
            "() => document.querySelector('#status textarea').value.startsWith('⏳ loading')")
        first = page.status()
        page.page.wait_for_function(
            "(s) => document.querySelector('#status textarea').value !== s", arg=first)
        assert page.status().startswith("⏳ loading model… tiny.en")  # it ticks: still alive

        _models_tab(page)  # another tab answers while the load runs
        page.page.click("#refresh")
        page.page.wait_for_function(
            "() => document.querySelector('#models-table').innerText.includes('loading (')")
        held_load.set()
        page.page.get_by_role("tab", name="Transcribe").click()
        status = page.wait_done()
    assert status.startswith("✓ Transcribed jfk.flac"), status


def test_a_server_that_stops_answering_is_reported(open_page, fresh_layout, held_load, jfk):
    """Never a frozen "working" line: the page notices the silence and says what to do."""
    from tests.support.browser import start_app

    served = start_app(make_studio(fresh_layout), stale_after_s=3)
    try:
        page = open_page(served.url)
        page.upload(jfk)
        page.page.click("#transcribe")
        page.page.wait_for_function(
            "() => document.querySelector('#status textarea').value.startsWith('⏳')")
    finally:
        served.close()  # the server goes away mid-job
        held_load.set()
    page.page.wait_for_function(
        "() => document.querySelector('#status textarea').value.startsWith('⚠ No answer')",
        timeout=30_000)
    status = page.status()
    assert "stt-studio serve" in status and "reload this page" in status
    assert "Last news from the server:\n⏳ loading" in status
