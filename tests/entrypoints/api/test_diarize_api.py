"""Speakers over the HTTP API: ``diarize`` (and the counts) as extra form fields.

The official ``openai`` client sends them through ``extra_body``; curl as a
plain multipart form. The server is a live studio on 127.0.0.1 (conftest).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI

from tests.diarize.cases import write_wav
from tests.support.conversations import build

pytestmark = pytest.mark.slow

#: two voices, ~20 s
PATTERN = (("mfa", 4.0), ("ls1221", 4.0), ("mfa", 4.0), ("ls1221", 4.0), ("mfa", 3.0))


@pytest.fixture(scope="module")
def conv(tmp_path_factory) -> Path:
    return write_wav(build(PATTERN, seed=6).samples,
                     tmp_path_factory.mktemp("api-diarize") / "conv.wav")


def field(obj: Any, name: str) -> Any:
    """A field beyond OpenAI's schema (kept by the SDK's models as extras)."""
    return (getattr(obj, "model_extra", None) or {}).get(name, getattr(obj, name, None))


def turns_of(speakers: list[str]) -> list[str]:
    return [s for i, s in enumerate(speakers) if i == 0 or speakers[i - 1] != s]


def test_verbose_json_carries_speakers_on_segments_and_words(base_url, conv):
    client = OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=300.0)
    with conv.open("rb") as audio:
        result = client.audio.transcriptions.create(
            file=audio, model="tiny.en", response_format="verbose_json",
            timestamp_granularities=["word", "segment"], extra_body={"diarize": "true"})
    segments = [field(s, "speaker") for s in result.segments or []]
    assert turns_of(segments) == ["SPEAKER_1", "SPEAKER_2"] * 2 + ["SPEAKER_1"]
    words = [field(w, "speaker") for w in result.words or []]
    assert len(words) > 30 and set(words) == {"SPEAKER_1", "SPEAKER_2"}
    assert turns_of(words) == turns_of(segments)


def curl(base_url: str, conv: Path, *fields: str) -> tuple[int, dict[str, Any]]:
    args = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", f"{base_url}/audio/transcriptions",
            "-F", f"file=@{conv}", "-F", "model=tiny.en"]
    for f in fields:
        args += ["-F", f]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    body, _, status = proc.stdout.rpartition("\n")
    return int(status), json.loads(body)


def test_a_count_as_a_form_field_implies_diarize(base_url, conv):
    status, body = curl(base_url, conv, "response_format=verbose_json", "speakers=1")
    assert status == 200, body
    assert {s["speaker"] for s in body["segments"]} == {"SPEAKER_1"}
    assert "words" not in body  # segments only, as OpenAI's default granularity


def test_without_diarize_no_speaker_fields(base_url, conv):
    status, body = curl(base_url, conv, "response_format=verbose_json")
    assert status == 200, body
    assert body["segments"] and all("speaker" not in s for s in body["segments"])
    assert all("speaker" not in w for s in body["segments"] for w in s["words"])


@pytest.mark.parametrize(("fields", "param"), [
    (("diarize=maybe",), "diarize"),
    (("speakers=0",), "speakers"),
    (("diarize=false", "speakers=2"), "speakers"),
    (("speakers=2", "min_speakers=1"), "speakers"),
])
def test_impossible_speaker_fields_are_a_400_naming_the_field(base_url, conv, fields, param):
    status, body = curl(base_url, conv, "response_format=verbose_json", *fields)
    assert status == 400, body
    assert body["error"]["param"] == param, body
    assert body["error"]["code"] == "invalid_option"
