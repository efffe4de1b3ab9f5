"""The transcribe event as an API: what `gradio_client` users script against."""

from __future__ import annotations

import json
import zipfile

import pytest
import srt

from tests.conftest import SHARED_AUDIO

pytestmark = pytest.mark.slow


@pytest.fixture()
def client(studio_url, tmp_path):
    from gradio_client import Client

    return Client(studio_url, verbose=False, analytics_enabled=False,
                  download_files=tmp_path / "downloads")


def test_api_describes_audio_and_model_with_defaults(client):
    info = client.view_api(return_format="dict", print_info=False)
    endpoint = info["named_endpoints"]["/transcribe"]
    params = [p["parameter_name"] for p in endpoint["parameters"]]
    assert params[:2] == ["audio", "model"]
    required = [p["parameter_name"] for p in endpoint["parameters"]
                if not p["parameter_has_default"]]
    assert required == ["audio"]
    assert [r["label"] for r in endpoint["returns"]] == ["Status", "Transcript", "Segments",
                                                          "Downloads (the file shown)"]
    many = info["named_endpoints"]["/transcribe_many"]
    assert [p["parameter_name"] for p in many["parameters"]][:2] == ["audio", "model"]
    assert [r["label"] for r in many["returns"]][4:] == [
        "Results (click a row to show that file)", "All outputs (zip)", "Show file"]


def test_transcribe_over_the_api(client, jfk):
    from gradio_client import handle_file

    status, transcript, segments, files = client.predict(
        audio=handle_file(str(jfk)), model="tiny.en", formats=["srt", "json"],
        api_name="/transcribe")
    assert status.startswith("✓ Transcribed jfk.flac"), status
    assert "fellow Americans" in transcript
    assert segments["headers"] == ["start", "end", "text"] and segments["data"]
    by_suffix = {f.rsplit(".", 1)[1]: f for f in files}
    assert set(by_suffix) == {"srt", "json"}
    with open(by_suffix["srt"], encoding="utf-8") as handle:
        assert list(srt.parse(handle.read()))
    with open(by_suffix["json"], encoding="utf-8") as handle:
        assert json.load(handle)["text"] == transcript


def test_api_failure_is_a_readable_status_not_an_exception(client):
    from gradio_client import handle_file

    status, transcript, _segments, files = client.predict(
        audio=handle_file(str(SHARED_AUDIO / "D_awkward" / "evil_corrupt.wav")),
        api_name="/transcribe")
    assert status.startswith("✗ Failed while decoding audio"), status
    assert "Cannot read the audio" in status
    assert transcript == "" and not files


def test_api_unknown_model_names_the_remedy(client, jfk):
    from gradio_client import handle_file

    status, *_ = client.predict(audio=handle_file(str(jfk)), model="no-such-model",
                                api_name="/transcribe")
    assert "Model not found: unknown model 'no-such-model'" in status
    assert "stt-studio models" in status


def test_several_recordings_over_the_api(client, jfk):
    """/transcribe_many: what the page's button calls, with a list of recordings."""
    from gradio_client import handle_file

    corrupt = SHARED_AUDIO / "D_awkward" / "evil_corrupt.wav"
    status, transcript, _segments, files, results, zip_file, _picker = client.predict(
        audio=[handle_file(str(jfk)), handle_file(str(corrupt))], model="tiny.en",
        formats=["srt"], api_name="/transcribe_many")
    assert status.startswith("✗ 1 of 2 files failed; 1 transcribed"), status
    assert [row[2].split(":")[0] for row in results["data"]] == ["done", "failed"]
    assert "fellow Americans" in transcript and [f.rsplit("/", 1)[1] for f in files] == \
        ["jfk.srt"]
    with zipfile.ZipFile(zip_file) as archive:
        assert archive.namelist() == ["jfk.srt"]
