"""Speech that gives no text, even decoded again, is named by every shell.

One recording (JFK, then another voice), one studio whose decoder hears only
the first seconds of each batched window and nothing when asked again alone:
the status box, the CLI's summary and JSON file, the diarized JSON, and the
API's json, verbose_json, streamed done event and headers each say where
speech gave no text, with the same words.
"""

from __future__ import annotations

import json
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from stt_studio.domain import SAMPLE_RATE_HZ, Audio
from stt_studio.engines.base import EngineOutput
from tests.entrypoints.api.conftest import api_server
from tests.support.longaudio import JFK, SHARED_AUDIO, speech

pytestmark = pytest.mark.slow

OTHER = SHARED_AUDIO / "A_short_en" / "ljspeech" / "LJ001-0001.wav"
NOTE = re.compile(r"^\d+\.\d s of speech at [\d:.]+–[\d:.]+ s? ?gave no text$")


@dataclass
class HardOfHearing:
    """The real tiny.en; batched windows keep only their first ``keep_s``, careful
    decodes (alone, batch size 1) hear nothing and cost nothing."""

    real: object
    keep_s: float = 3.0

    def __getattr__(self, name):
        return getattr(self.real, name)

    def transcribe_batch(self, pieces, options, *, local_attention=False):
        if options.batch_size == 1:
            return [EngineOutput((), "en") for _ in pieces]
        outputs = self.real.transcribe_batch(pieces, options, local_attention=local_attention)
        return [replace(o, segments=tuple(
            replace(s, words=tuple(w for w in s.words if w.end_s <= self.keep_s),
                    text=" ".join(w.text for w in s.words if w.end_s <= self.keep_s))
            for s in o.segments if s.words and s.words[0].end_s <= self.keep_s))
            for o in outputs]


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    from stt_studio.entrypoints.ui_handlers import _write_wav

    samples = np.concatenate([speech(JFK), np.zeros(SAMPLE_RATE_HZ, np.float32),
                              speech(OTHER)])
    path = tmp_path_factory.mktemp("no_text") / "two voices.wav"
    audio = Audio(samples, SAMPLE_RATE_HZ)
    _write_wav(path, audio, 0.0, audio.duration_s)
    return path


@pytest.fixture(scope="module")
def studio(session_layout, session_studio):
    """A studio over the session's cache whose every lease is the hard-of-hearing decoder."""
    from stt_studio.service import Studio

    deaf = HardOfHearing(session_studio.load("tiny.en"))
    studio = Studio(session_studio.settings, session_layout)

    @contextmanager
    def lease(_spec, _device, _progress=None, **_placing):
        yield deaf

    studio.models.lease = lease
    return studio


def notes_of(text: str) -> list[str]:
    return re.findall(r"\d+\.\d s of speech at \S+ ?s? ?gave no text", text)


def assert_notes(notes) -> None:
    assert notes, "no note of the speech without text"
    assert all(NOTE.match(n) for n in notes), notes
    assert sum(float(n.split(" s ")[0]) for n in notes) >= 5.0, notes


def test_the_status_box_names_it(studio, recording, tmp_path):
    from stt_studio.entrypoints.ui_handlers import StudioUI

    ui = StudioUI(studio, outputs_root=tmp_path / "outputs")
    status = [out[0] for out in ui.transcribe(audio=str(recording), model="tiny.en",
                                              formats=["json", "txt"])][-1]
    text = str(status)
    assert "⚠ Speech without text" in text, text
    assert_notes(notes_of(text))
    json_file = next((tmp_path / "outputs").rglob("*.json"))
    assert json.loads(json_file.read_text("utf-8"))["notes"] == notes_of(text)


@pytest.mark.parametrize("diarize", [False, True], ids=["plain", "diarized"])
def test_the_cli_summary_and_its_json_name_it(studio, recording, tmp_path, monkeypatch,
                                              capsys, diarize):
    from stt_studio.entrypoints import cli

    monkeypatch.setattr(cli, "_studio", lambda *_: studio)
    root, ours = logging.getLogger(), logging.getLogger("stt_studio")
    # the CLI sets up logging for its process: put pytest's back afterwards
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    for logger in (root, ours):
        monkeypatch.setattr(logger, "level", logger.level)
    out = tmp_path / "out"
    code = cli.main(["transcribe", str(recording), "--format", "json,txt",
                     "--output-dir", str(out), "--cache-dir", str(studio.layout.root),
                     *(["--speakers", "2"] if diarize else [])])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads((out / "two voices.json").read_text("utf-8"))
    assert_notes(data["notes"])
    assert "gave no text" in captured.err  # the summary line, beside "done"
    assert re.search(r"done; \d+\.\d s of speech gave no text \(at ", captured.err), \
        captured.err
    if diarize:
        assert {s.get("speaker") for s in data["segments"]} - {None}


def test_the_api_names_it_in_every_shape(studio, recording):
    from openai import OpenAI

    with api_server(studio) as served:
        client = OpenAI(base_url=served.base_url + "v1", api_key="any", max_retries=0,
                        timeout=300.0)
        upload = (recording.name, recording.read_bytes())
        raw = client.audio.transcriptions.with_raw_response.create(
            file=upload, model="tiny.en", response_format="json")
        body = raw.parse()
        notes = (body.model_extra or {})["notes"]
        assert_notes(notes)
        # a header is Latin-1: the dash between the times is a plain one there
        assert all(n.replace("–", "-") in raw.headers["x-stt-studio-notes"] for n in notes)
        verbose = client.audio.transcriptions.create(
            file=upload, model="tiny.en", response_format="verbose_json",
            timestamp_granularities=["word"])
        assert (verbose.model_extra or {})["notes"] == notes
        events = list(client.audio.transcriptions.create(file=upload, model="tiny.en",
                                                         stream=True))
        assert (events[-1].model_extra or {})["notes"] == notes
