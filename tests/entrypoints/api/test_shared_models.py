"""The page and the API share one studio: a model is loaded once for both, never twice at once."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import make_studio
from tests.entrypoints.api.conftest import api_server

pytestmark = pytest.mark.slow


def test_page_and_api_load_a_model_once_between_them(fresh_layout, jfk, monkeypatch, tmp_path):
    from gradio_client import Client, handle_file
    from openai import OpenAI

    from stt_studio.models.manager import ModelManager

    loads: list[str] = []
    at_once = threading.BoundedSemaphore(1)  # a second load at the same time would fail it
    real_load = ModelManager._load

    def counted(self, engine, spec, device):
        assert at_once.acquire(blocking=False), "two loads at once"
        try:
            loads.append(spec.name)
            return real_load(self, engine, spec, device)
        finally:
            at_once.release()

    monkeypatch.setattr(ModelManager, "_load", counted)
    studio = make_studio(fresh_layout)
    with api_server(studio) as served:
        api = OpenAI(base_url=served.base_url + "v1", api_key="local", max_retries=0)
        page = Client(served.base_url, verbose=False, download_files=tmp_path / "dl")
        results: dict[str, str] = {}

        def from_api() -> None:
            with open(jfk, "rb") as audio:
                results["api"] = api.audio.transcriptions.create(file=audio,
                                                                 model="tiny.en").text

        def from_page() -> None:
            results["page"] = page.predict(audio=handle_file(str(jfk)), model="tiny.en",
                                           api_name="/transcribe")[1]

        threads = [threading.Thread(target=from_api), threading.Thread(target=from_page)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        with open(jfk, "rb") as audio:  # and once more, warm
            again = api.audio.transcriptions.create(file=audio, model="tiny.en").text
    assert loads == ["tiny.en"]
    assert "fellow Americans" in results["api"] and "fellow Americans" in results["page"]
    assert again == results["api"]
