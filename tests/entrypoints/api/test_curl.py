"""The API as ``curl`` sees it: multipart requests from the real binary to a live server.

Every response format, both spellings of ``timestamp_granularities``, the
errors a script meets (unknown model, English-only translation, bad fields, a
body that is no form, an upload over the limit, declared or chunked), and
every awkward file of group D: a transcript or a readable 4xx, never a 5xx or
a hang, and the server answers ``/health`` after each. Uploads never stay on
disk once the answer is out.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import srt
import webvtt

from tests.conftest import SHARED_AUDIO, Clip, load_manifest
from tests.entrypoints.api.conftest import api_server

pytestmark = pytest.mark.slow  # tiny.en, a live server

CURL = shutil.which("curl")
#: curl gives up after this (a hang fails the row; generous: the two cores are shared)
MAX_TIME_S = 240
#: how long the worker may take to delete an upload after its answer is out
DELETE_WAIT_S = 5.0
JFK_WORDS = "ask not what your country can do for you"
GREEDY = ("-F", "beam_size=1")


def _group_d() -> dict[str, Clip]:
    if not (SHARED_AUDIO / "manifest.jsonl").is_file():
        return {}
    return {str(clip.path.relative_to(SHARED_AUDIO / "D_awkward")): clip
            for clip in load_manifest() if clip.group == "D"}


GROUP_D = _group_d()


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: str
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def curl(url: str, *args: str, tmp: Path, max_time_s: int = MAX_TIME_S) -> Answer:
    """``curl -sS`` with ``args``; the status, body and response headers."""
    if CURL is None:  # a missing tool fails these rows; it never passes them unrun
        pytest.fail("curl is not installed: `make test` installs it "
                    "(scripts/ensure_chromium.sh)")
    head = tmp / f"headers-{time.monotonic_ns()}.txt"
    done = subprocess.run(
        [CURL, "-sS", "--max-time", str(max_time_s), "-D", str(head), "-w", "\n%{http_code}",
         *args, url],
        capture_output=True, text=True, timeout=max_time_s + 30, check=False)
    assert done.returncode == 0, f"curl failed ({done.returncode}): {done.stderr}"
    body, _, code = done.stdout.rpartition("\n")
    headers: dict[str, str] = {}
    for line in head.read_text("latin-1").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return Answer(int(code), body, headers)


def upload(audio: Path) -> tuple[str, ...]:
    """The file field, and greedy decoding (the request is under test, not the search)."""
    return ("-F", f"file=@{audio}", *GREEDY)


def transcribe(served: Any, *fields: str, tmp: Path, route: str = "transcriptions") -> Answer:
    return curl(f"{served.base_url}v1/audio/{route}", *fields, tmp=tmp)


def error_of(answer: Answer) -> dict[str, Any]:
    """OpenAI's error object, checked for its four keys and a readable message."""
    body = answer.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"message", "type", "param", "code"} <= set(error), error
    assert isinstance(error["message"], str) and error["message"].strip()
    assert error["type"] in ("invalid_request_error", "server_error")
    return dict(error)


def readable(message: str) -> bool:
    """The text the UI shows: a cause or a remedy, not a bare exception."""
    return "What to do" in message or "Likely causes" in message


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def uploads_left(studio: Any) -> list[Path]:
    """Files still in the API's upload folder, once the worker had time to delete them."""
    folder = studio.layout.tmp_dir / "api"
    deadline = time.monotonic() + DELETE_WAIT_S
    while True:
        left = sorted(folder.iterdir()) if folder.is_dir() else []
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def assert_healthy(served: Any, tmp: Path) -> None:
    answer = curl(f"{served.base_url}health", tmp=tmp, max_time_s=30)
    assert (answer.status, answer.json()) == (200, {"status": "ok"})


@pytest.fixture()
def tmp(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="module")
def small_server(session_studio: Any) -> Iterator[Any]:
    """A second server over the same studio, taking uploads up to 1 MB."""
    with api_server(session_studio, max_upload_mb=1) as running:
        yield running


# -- every response format ---------------------------------------------------------------

def test_json(served: Any, jfk: Path, session_studio: Any, tmp: Path) -> None:
    answer = transcribe(served, *upload(jfk), "-F", "model=tiny.en",
                        "-F", "response_format=json", tmp=tmp)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"text", "usage"}
    assert JFK_WORDS in words(body["text"])
    assert body["usage"]["type"] == "duration"
    assert body["usage"]["seconds"] == pytest.approx(11.0, abs=0.1)
    assert answer.headers["x-stt-studio-model"] == "tiny.en"
    assert float(answer.headers["x-stt-studio-audio-s"]) == pytest.approx(11.0, abs=0.1)
    assert uploads_left(session_studio) == []


def test_text(served: Any, jfk: Path, tmp: Path) -> None:
    answer = transcribe(served, *upload(jfk), "-F", "response_format=text", tmp=tmp)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"].startswith("text/plain")
    assert not answer.body.lstrip().startswith("{")
    assert JFK_WORDS in words(answer.body)


def test_srt(served: Any, jfk: Path, tmp: Path) -> None:
    answer = transcribe(served, *upload(jfk), "-F", "model=tiny.en",
                        "-F", "response_format=srt", tmp=tmp)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"].startswith("text/plain")
    cues = [block for block in answer.body.strip().split("\n\n") if block.strip()]
    assert len(cues) >= 2
    for number, cue in enumerate(cues, start=1):
        lines = cue.splitlines()
        assert lines[0] == str(number)
        assert re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", lines[1]), cue
    # the words in order, whichever cue each falls in (where a cue breaks may move)
    assert JFK_WORDS in words(" ".join(c.content for c in srt.parse(answer.body)))


def test_vtt(served: Any, jfk: Path, tmp: Path) -> None:
    answer = transcribe(served, *upload(jfk), "-F", "response_format=vtt", tmp=tmp)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"].startswith("text/vtt")
    assert answer.body.startswith("WEBVTT")
    assert re.search(r"\d\d:\d\d\.\d{3} --> \d\d:\d\d:?\d*\.\d{3}", answer.body), answer.body
    cues = webvtt.from_string(answer.body)
    assert JFK_WORDS in words(" ".join(c.text for c in cues))


def test_verbose_json_without_granularities_has_segments_only(served: Any, jfk: Path,
                                                               tmp: Path) -> None:
    answer = transcribe(served, *upload(jfk), "-F", "response_format=verbose_json",
                        tmp=tmp)
    assert answer.status == 200, answer.body
    body = answer.json()
    assert body["task"] == "transcribe"
    assert body["language"] == "en"
    assert body["duration"] == pytest.approx(11.0, abs=0.1)
    assert JFK_WORDS in words(body["text"])
    assert "words" not in body
    segments = body["segments"]
    assert segments and [s["id"] for s in segments] == list(range(len(segments)))
    assert all(0 <= s["start"] < s["end"] <= body["duration"] + 0.5 for s in segments)
    assert words(" ".join(s["text"] for s in segments)) == words(body["text"])


@pytest.mark.parametrize("granularities, segments_too", [
    (("timestamp_granularities[]=word",), False),
    (("timestamp_granularities=word", "timestamp_granularities=segment"), True),
], ids=["brackets", "repeated-plain"])
def test_word_timestamps_in_both_spellings(served: Any, jfk: Path, tmp: Path,
                                           granularities: tuple[str, ...],
                                           segments_too: bool) -> None:
    fields = [part for g in granularities for part in ("-F", g)]
    answer = transcribe(served, *upload(jfk), "-F", "response_format=verbose_json",
                        *fields, tmp=tmp)
    assert answer.status == 200, answer.body
    body = answer.json()
    found = body["words"]
    assert len(found) >= 15
    assert words(" ".join(w["word"] for w in found)) == words(body["text"])
    starts = [w["start"] for w in found]
    assert starts == sorted(starts)
    assert all(w["start"] <= w["end"] <= body["duration"] + 0.5 for w in found)
    assert ("segments" in body) is segments_too
    if segments_too:
        assert sum(len(s["words"]) for s in body["segments"]) == len(found)


# -- errors a script meets -----------------------------------------------------------------

def test_translation_with_an_english_only_model_is_a_readable_400(served: Any, jfk: Path,
                                                                   tmp: Path) -> None:
    answer = transcribe(served, *upload(jfk), "-F", "model=tiny.en",
                        route="translations", tmp=tmp)
    assert answer.status == 400, answer.body
    error = error_of(answer)
    assert "tiny.en" in error["message"] and "translate" in error["message"]
    assert readable(error["message"])
    assert error["code"] == "invalid_option"


def test_an_unknown_model_is_a_404_listing_the_valid_names(served: Any, jfk: Path,
                                                           session_studio: Any,
                                                           tmp: Path) -> None:
    answer = transcribe(served, *upload(jfk), "-F", "model=no-such-model", tmp=tmp)
    assert answer.status == 404, answer.body
    error = error_of(answer)
    assert error["code"] == "model_not_found"
    assert error["param"] == "model"
    assert "no-such-model" in error["message"]
    assert "tiny.en" in error["message"] and "whisper-1" in error["message"]
    assert readable(error["message"])
    assert uploads_left(session_studio) == []


def test_a_model_given_as_a_path_is_refused(served: Any, jfk: Path, tmp: Path) -> None:
    from stt_studio.models.store import bundled_whisper_dir

    folder = str(bundled_whisper_dir())  # a real model folder: the API still never opens paths
    answer = transcribe(served, *upload(jfk), "-F", f"model={folder}", tmp=tmp)
    assert answer.status == 404, answer.body
    assert error_of(answer)["code"] == "model_not_found"


@pytest.mark.parametrize("fields, param", [
    (("response_format=xml",), "response_format"),
    (("temperature=abc",), "temperature"),
    (("batch_size=0",), "batch_size"),
    (("timestamp_granularities[]=word", "response_format=json"), "timestamp_granularities[]"),
    (("timestamp_granularities[]=letter", "response_format=verbose_json"),
     "timestamp_granularities[]"),
    (("vad=perhaps",), "vad"),
], ids=["format-xml", "temperature-abc", "batch-size-0", "words-need-verbose-json",
        "granularity-letter", "vad-perhaps"])
def test_a_bad_field_is_a_400_naming_it(served: Any, jfk: Path, session_studio: Any,
                                        tmp: Path, fields: tuple[str, ...],
                                        param: str) -> None:
    args = [part for field in fields for part in ("-F", field)]
    answer = transcribe(served, *upload(jfk), *args, tmp=tmp)
    assert answer.status == 400, answer.body
    error = error_of(answer)
    assert error["param"] == param
    assert error["code"] == "invalid_option"
    assert readable(error["message"])
    assert uploads_left(session_studio) == []


def test_a_form_without_a_file_is_a_400_naming_file(served: Any, tmp: Path) -> None:
    answer = transcribe(served, "-F", "model=tiny.en", tmp=tmp)
    assert answer.status == 400, answer.body
    error = error_of(answer)
    assert error["param"] == "file"
    assert readable(error["message"])


def test_a_json_body_is_a_400_bad_form(served: Any, tmp: Path) -> None:
    answer = transcribe(served, "-H", "Content-Type: application/json",
                        "--data", json.dumps({"model": "tiny.en", "file": "jfk.flac"}), tmp=tmp)
    assert answer.status == 400, answer.body
    error = error_of(answer)
    assert error["code"] == "bad_form"
    assert "multipart/form-data" in error["message"] and "-F file=@" in error["message"]


# -- over the upload limit -------------------------------------------------------------------

@pytest.mark.parametrize("how", ["content-length", "chunked"])
def test_an_upload_over_the_limit_is_a_413(small_server: Any, session_studio: Any,
                                           tmp: Path, how: str) -> None:
    big = tmp / "two-megabytes.wav"
    big.write_bytes(b"RIFF" + bytes(2 * 1024 * 1024))
    chunked = ("-H", "Transfer-Encoding: chunked") if how == "chunked" else ()
    answer = transcribe(small_server, *chunked, "-F", f"file=@{big}", "-F", "model=tiny.en",
                        tmp=tmp)
    assert answer.status == 413, answer.body
    error = error_of(answer)
    assert error["code"] == "file_too_large"
    assert error["param"] == "file"
    assert "1 MB" in error["message"] and "--max-upload-mb" in error["message"]
    assert_healthy(small_server, tmp)
    assert uploads_left(session_studio) == []


def test_an_upload_under_the_limit_still_passes(small_server: Any, tmp: Path) -> None:
    short = SHARED_AUDIO / "D_awkward" / "short_lt2s" / "LJ001-0002.wav"  # 80 KB
    if not short.is_file():
        pytest.skip(f"{short} not found")
    answer = transcribe(small_server, *upload(short), "-H",
                        "Transfer-Encoding: chunked", tmp=tmp)
    assert answer.status == 200, answer.body
    assert "modern" in words(answer.json()["text"])


# -- group D: every awkward file --------------------------------------------------------------

@pytest.mark.fault("bad input", "the API is sent {name}",
                   "a transcript or a 4xx with a readable message; the server keeps answering")
@pytest.mark.parametrize("name", sorted(GROUP_D))
def test_group_d_file_through_the_api(served: Any, session_studio: Any, tmp: Path,
                                      name: str) -> None:
    clip = GROUP_D[name]
    answer = transcribe(served, *upload(clip.path), "-F", "model=tiny.en",
                        tmp=tmp)
    assert answer.status < 500, answer.body
    if answer.status == 200:
        body = answer.json()
        assert isinstance(body["text"], str)
        if clip.duration_s:
            assert body["usage"]["seconds"] == pytest.approx(clip.duration_s, abs=0.5)
    else:
        assert 400 <= answer.status < 500
        error = error_of(answer)
        assert readable(error["message"]), error["message"]
        assert error["code"] == "unreadable_audio", error
        # the client's own name, never where the server keeps its copy
        assert clip.path.name in error["message"]
        assert str(session_studio.layout.root) not in error["message"]
    if clip.duration_s:  # ffprobe reads it and it holds samples: it must transcribe
        assert answer.status == 200, answer.body
    assert_healthy(served, tmp)
    assert uploads_left(session_studio) == []
