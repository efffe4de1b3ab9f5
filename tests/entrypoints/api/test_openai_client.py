"""The official ``openai`` Python package against a live studio on 127.0.0.1.

A client nobody here wrote: every response format, both timestamp
granularities, streaming (short and long recordings), translations, the model
listing, the API key, prompts and temperature, and the errors it raises, each
checked on what comes back, not only on the status.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import srt
import webvtt
from openai import OpenAI
from openai.types.audio import TranscriptionTextDeltaEvent, TranscriptionTextDoneEvent

from tests.entrypoints.api.conftest import api_server

pytestmark = pytest.mark.slow

JFK_S = 11.0
#: what the clients may call any API key on a loopback server without one
ANY_KEY = "anything-at-all"


# -- helpers ------------------------------------------------------------------------------

def words_of(text: str) -> list[str]:
    """Lower-case words without punctuation (how transcripts are compared here)."""
    return re.findall(r"[a-z0-9']+", text.lower())


def extra(obj: Any, name: str) -> Any:
    """A field the studio adds beyond OpenAI's schema (kept by the SDK's models)."""
    return (obj.model_extra or {}).get(name, getattr(obj, name, None))


def client_for(url: str, key: str = ANY_KEY) -> OpenAI:
    # no retries: a refused or failed request must surface at once, as it came
    return OpenAI(base_url=url, api_key=key, max_retries=0, timeout=300.0)


@pytest.fixture(scope="module")
def audio(jfk: Path) -> tuple[str, bytes]:
    """The JFK clip as the SDK uploads it: (file name, bytes)."""
    return (jfk.name, jfk.read_bytes())


@pytest.fixture(scope="module")
def client(base_url: str) -> OpenAI:
    return client_for(base_url)


@pytest.fixture(scope="module")
def loaded_nemo(session_studio: Any, tiny_nemo: dict[str, Path]) -> dict[str, str]:
    """The tiny TDT and Canary models, loaded (the API may then name them by their path)."""
    return {kind: session_studio.load(str(tiny_nemo[kind])).spec.name
            for kind in ("tdt", "canary")}


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """Four minutes: the JFK clip inside minutes 1, 2 and 4; silence around and between.

    Every block of <= 60 s the server streams holds at most one whole clip, so
    the clips come as separate deltas; the silence costs little to transcribe.
    """
    from tests.support.longaudio import JFK, silence, speech, write_wav

    clip = speech(JFK)
    clip_s = len(clip) / 16000
    lead_s = 20.0
    parts: list[Any] = []
    for minute in range(4):
        parts += ([silence(60.0)] if minute == 2 else
                  [silence(lead_s), clip, silence(60.0 - lead_s - clip_s)])
    path = tmp_path_factory.mktemp("long") / "four_minutes.wav"
    return path, write_wav(path, parts)


def streamed(client: OpenAI, file: tuple[str, bytes], **fields: Any,
             ) -> list[tuple[float, Any]]:
    """Every event of a streamed transcription with the moment it arrived."""
    events = []
    stream = client.audio.transcriptions.create(file=file, model="tiny.en", stream=True,
                                                **fields)
    for event in stream:
        events.append((time.monotonic(), event))
    return events


def check_stream(events: list[tuple[float, Any]]) -> tuple[list[str], str]:
    """Deltas, then exactly one done event whose text is the deltas joined."""
    kinds = [type(event) for _, event in events]
    assert kinds[-1] is TranscriptionTextDoneEvent, kinds
    assert kinds[:-1] and set(kinds[:-1]) == {TranscriptionTextDeltaEvent}, kinds
    deltas = [event.delta for _, event in events[:-1]]
    done = events[-1][1]
    assert done.type == "transcript.text.done"
    assert "".join(deltas) == done.text
    return deltas, done.text


def check_segments(segments: list[Any], duration_s: float) -> None:
    assert segments
    for before, after in zip(segments, segments[1:]):
        assert before.end <= after.start + 0.01, (before, after)
    for index, segment in enumerate(segments):
        assert segment.id == index
        assert 0 <= segment.start < segment.end <= duration_s + 0.05
        assert segment.text.strip()


def check_words(words: list[Any], duration_s: float, text: str) -> None:
    assert words
    for before, after in zip(words, words[1:]):
        assert before.start <= after.start and before.end <= after.end + 0.01, (before, after)
    for word in words:
        assert 0 <= word.start <= word.end <= duration_s + 0.05 and word.word.strip()
    assert words_of(" ".join(w.word for w in words)) == words_of(text)


# -- response formats ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def as_json(client: OpenAI, audio) -> Any:
    """The JFK clip, ``response_format=json`` (the SDK's default)."""
    return client.audio.transcriptions.create(file=audio, model="tiny.en")


def test_json_carries_the_text_and_the_seconds_billed(as_json: Any) -> None:
    result = as_json
    assert "fellow Americans" in result.text
    assert result.usage is not None and result.usage.type == "duration"
    assert result.usage.seconds == pytest.approx(JFK_S, abs=0.1)


def test_text_is_a_plain_string_with_the_same_words(client: OpenAI, audio,
                                                    as_json: Any) -> None:
    text = client.audio.transcriptions.create(file=audio, model="tiny.en",
                                              response_format="text")
    assert isinstance(text, str) and not text.lstrip().startswith("{")
    assert "fellow Americans" in text
    assert words_of(text) == words_of(as_json.text)


def test_srt_parses_as_subtitles_in_order(client: OpenAI, audio) -> None:
    body = client.audio.transcriptions.create(file=audio, model="tiny.en",
                                              response_format="srt")
    assert isinstance(body, str)
    cues = list(srt.parse(body))
    assert [cue.index for cue in cues] == list(range(1, len(cues) + 1)) and len(cues) >= 2
    for before, after in zip(cues, cues[1:]):
        assert before.end <= after.start
    for cue in cues:
        assert 0 <= cue.start.total_seconds() < cue.end.total_seconds() <= JFK_S + 0.05
    assert "fellow americans" in " ".join(words_of(" ".join(cue.content for cue in cues)))


def test_vtt_parses_as_webvtt_in_order(client: OpenAI, audio) -> None:
    raw = client.audio.transcriptions.with_raw_response.create(
        file=audio, model="tiny.en", response_format="vtt")
    assert raw.headers["content-type"].startswith("text/vtt")
    body = raw.parse()
    assert isinstance(body, str) and body.startswith("WEBVTT")
    captions = list(webvtt.from_string(body))
    assert len(captions) >= 2
    for before, after in zip(captions, captions[1:]):
        assert before.end_in_seconds <= after.start_in_seconds
    for caption in captions:
        assert 0 <= caption.start_in_seconds < caption.end_in_seconds <= JFK_S + 0.05
    assert "fellow americans" in " ".join(words_of(" ".join(c.text for c in captions)))


def test_verbose_json_has_openais_fields_and_no_words_unasked(client: OpenAI, audio) -> None:
    result = client.audio.transcriptions.create(file=audio, model="tiny.en",
                                                response_format="verbose_json")
    assert extra(result, "task") == "transcribe"
    assert result.language == "en"
    assert result.duration == pytest.approx(JFK_S, abs=0.1)
    assert "fellow Americans" in result.text
    assert result.segments is not None
    check_segments(result.segments, result.duration)
    assert words_of(" ".join(s.text for s in result.segments)) == words_of(result.text)
    assert result.words is None and "words" not in (result.model_extra or {})


@pytest.mark.parametrize("granularities", [["word"], ["segment"], ["word", "segment"]],
                         ids="+".join)
def test_timestamp_granularities(client: OpenAI, audio, granularities: list[str]) -> None:
    result = client.audio.transcriptions.create(
        file=audio, model="tiny.en", response_format="verbose_json",
        timestamp_granularities=granularities)  # type: ignore[arg-type]
    assert "fellow Americans" in result.text
    if "segment" in granularities:
        assert result.segments is not None
        check_segments(result.segments, result.duration)
    else:
        assert result.segments is None
    if "word" in granularities:
        assert result.words is not None
        check_words(result.words, result.duration, result.text)
        for segment in result.segments or ():
            inside = [w for w in result.words if segment.start - 0.05 <= w.start < segment.end]
            assert inside and all(w.end <= segment.end + 0.05 for w in inside), segment
    else:
        assert result.words is None


# -- streaming ----------------------------------------------------------------------------

def test_stream_is_deltas_then_one_done_with_the_same_text(client: OpenAI, audio) -> None:
    events = streamed(client, audio)
    deltas, text = check_stream(events)
    assert "fellow Americans" in text
    assert not deltas[0].startswith(" ")
    usage = events[-1][1].usage
    assert usage is not None and usage.seconds == pytest.approx(JFK_S, abs=0.1)


def test_a_long_recording_streams_block_by_block(client: OpenAI, long_recording) -> None:
    path, duration_s = long_recording
    assert duration_s >= 180
    # batch_size=1: each block is decoded as it comes, not batched with the next ones
    events = streamed(client, (path.name, path.read_bytes()), extra_body={"batch_size": "1"})
    deltas, text = check_stream(events)
    with_clip = [d for d in deltas if "fellow americans" in " ".join(words_of(d))]
    assert len(with_clip) == 3, deltas  # one delta a block of <= 60 s, not one for all
    assert " ".join(words_of(text)).count("fellow americans") == 3
    assert not deltas[0].startswith(" ") and all(d.startswith(" ") for d in deltas[1:])
    assert events[-1][1].usage.seconds == pytest.approx(duration_s, abs=0.1)
    first_at, done_at = events[0][0], events[-1][0]
    assert done_at - first_at > 0.5  # two more clips were still to be transcribed


# -- translations -------------------------------------------------------------------------

def test_an_english_only_model_refuses_to_translate_readably(client: OpenAI, audio) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.translations.create(file=audio, model="tiny.en")
    error = caught.value
    assert error.status_code == 400 and error.code == "invalid_option"
    message = error.body["message"]  # type: ignore[index]
    assert "tiny.en is English-only and cannot translate" in message
    assert "What to do" in message and "faster-whisper-small" in message


def test_canary_translates(client: OpenAI, audio, loaded_nemo: dict[str, str]) -> None:
    canary = loaded_nemo["canary"]
    # Canary does not detect the spoken language: name it, as OpenAI's extra fields allow
    raw = client.audio.translations.with_raw_response.create(
        file=audio, model=canary, extra_body={"language": "de"})
    assert raw.status_code == 200
    assert raw.headers["x-stt-studio-model"] == canary
    result = raw.parse()
    assert isinstance(result.text, str)  # random weights: the words are noise
    with pytest.raises(openai.BadRequestError) as caught:  # English into English
        client.audio.translations.create(file=audio, model=canary)
    message = caught.value.body["message"]  # type: ignore[index]
    assert "target language different from the spoken one" in message
    assert "`language` field" in message


# -- models -------------------------------------------------------------------------------

def test_models_list_the_registry_and_what_is_loaded(client: OpenAI) -> None:
    from stt_studio.models import catalog

    models = {model.id: model for model in client.models.list()}
    assert {spec.name for spec in catalog.CATALOG} <= set(models)
    tiny = models["tiny.en"]
    assert tiny.object == "model" and extra(tiny, "loaded") is True
    assert extra(models["nvidia/parakeet-tdt-0.6b-v2"], "loaded") is False
    assert models["nvidia/parakeet-tdt-0.6b-v2"].owned_by == "nvidia"


@pytest.mark.parametrize("name", ["tiny.en", "nvidia/parakeet-tdt-0.6b-v2"])
def test_a_model_is_retrieved_by_its_id(client: OpenAI, name: str) -> None:
    model = client.models.retrieve(name)
    assert model.id == name and model.object == "model"
    assert extra(model, "engine") == ("whisper" if name == "tiny.en" else "nemo")


def test_an_unknown_model_id_lists_the_valid_names(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("whisper-9000")
    error = caught.value
    assert error.status_code == 404 and error.code == "model_not_found"
    message = error.body["message"]  # type: ignore[index]
    assert "whisper-9000" in message
    assert "tiny.en" in message and "nvidia/parakeet-tdt-0.6b-v2" in message


def test_whisper_1_means_the_default_model(client: OpenAI, audio, session_studio) -> None:
    assert session_studio.settings.default_model == "tiny.en"
    raw = client.audio.transcriptions.with_raw_response.create(file=audio, model="whisper-1")
    assert raw.headers["x-stt-studio-model"] == "tiny.en"
    assert float(raw.headers["x-stt-studio-audio-s"]) == pytest.approx(JFK_S, abs=0.1)
    assert "fellow Americans" in raw.parse().text


# -- the API key --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keyed(session_studio: Any, served: Any) -> Iterator[str]:
    """A second server over the same studio that needs the key ``sekret``."""
    with api_server(session_studio, api_key="sekret") as running:
        yield running.base_url + "v1"


def test_the_right_key_is_served(keyed: str, audio) -> None:
    text = client_for(keyed, "sekret").audio.transcriptions.create(
        file=audio, model="tiny.en", response_format="text")
    assert "fellow Americans" in text


def test_a_wrong_key_is_refused_with_how_to_send_it(keyed: str, audio) -> None:
    wrong = client_for(keyed, "not-the-key")
    for call in (lambda: wrong.models.list(),
                 lambda: wrong.audio.transcriptions.create(file=audio, model="tiny.en")):
        with pytest.raises(openai.AuthenticationError) as caught:
            call()
        error = caught.value
        assert error.status_code == 401 and error.code == "invalid_api_key"
        message = error.body["message"]  # type: ignore[index]
        assert message.startswith("Incorrect API key provided")
        assert "Authorization: Bearer KEY" in message and "api_key=KEY" in message


def test_no_key_is_refused(keyed: str) -> None:
    answer = httpx.get(keyed + "/models", timeout=30)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    error = answer.json()["error"]
    assert error["code"] == "invalid_api_key" and "none was sent" in error["message"]
    with pytest.raises(openai.OpenAIError, match="Missing credentials"):
        client_for(keyed, "")  # the SDK itself will not go without one


def test_without_a_key_any_key_is_accepted_on_loopback(base_url: str) -> None:
    for key in ("sk-whatever", "sekret", "x"):
        assert "tiny.en" in {model.id for model in client_for(base_url, key).models.list()}


# -- prompt and temperature ---------------------------------------------------------------

def test_a_nemo_model_ignores_the_prompt_and_says_so(client: OpenAI, audio,
                                                    loaded_nemo: dict[str, str]) -> None:
    tdt = loaded_nemo["tdt"]
    raw = client.audio.transcriptions.with_raw_response.create(file=audio, model=tdt,
                                                               prompt="Alice")
    assert raw.status_code == 200 and raw.headers["x-stt-studio-model"] == tdt
    notes = raw.headers["x-stt-studio-notes"]
    assert "NeMo model" in notes and "prompt" in notes and "ignored" in notes
    assert "temperature" not in notes
    assert isinstance(raw.parse().text, str)


PROMPT = "John F. Kennedy, inaugural address, 1961."


@pytest.fixture()
def prompts_seen(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """What faster-whisper itself is given as the prompt, by its real methods, wrapped.

    ``sequential`` and ``batched``: the ``initial_prompt`` of each call of
    ``WhisperModel.transcribe`` and ``BatchedInferencePipeline.transcribe``;
    ``decoder``: the text of the previous-text tokens each decoding starts
    from (``WhisperModel.get_prompt``, which both paths call).
    """
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    seen: dict[str, list[Any]] = {"sequential": [], "batched": [], "decoder": []}

    def watch(cls: type, key: str) -> None:
        real = cls.transcribe  # type: ignore[attr-defined]

        def watched(self: Any, *args: Any, **kwargs: Any) -> Any:
            seen[key].append(kwargs.get("initial_prompt"))
            return real(self, *args, **kwargs)

        monkeypatch.setattr(cls, "transcribe", watched)

    watch(WhisperModel, "sequential")
    watch(BatchedInferencePipeline, "batched")
    real_prompt = WhisperModel.get_prompt

    def get_prompt(self: Any, tokenizer: Any, previous_tokens: Any, *args: Any,
                   **kwargs: Any) -> Any:
        seen["decoder"].append(tokenizer.decode(list(previous_tokens)))
        return real_prompt(self, tokenizer, previous_tokens, *args, **kwargs)

    # the server runs in this process: its model is the one watched here
    monkeypatch.setattr(WhisperModel, "get_prompt", get_prompt)
    return seen


@pytest.mark.parametrize(("path", "fields"), [
    pytest.param("batched", {}, id="batched"),  # the default batch size
    pytest.param("sequential", {"batch_size": "1"}, id="sequential"),  # its long-form decoder
])
def test_whisper_takes_a_prompt(client: OpenAI, audio, prompts_seen: dict[str, list[Any]],
                                path: str, fields: dict[str, str]) -> None:
    raw = client.audio.transcriptions.with_raw_response.create(
        file=audio, model="tiny.en", prompt=PROMPT, extra_body=fields)
    assert "x-stt-studio-notes" not in raw.headers
    assert "americans" in words_of(raw.parse().text)
    # the prompt reached faster-whisper on the path this batch size takes, as it was sent
    assert PROMPT in prompts_seen[path], prompts_seen
    # any other call (a stretch decoded again) starts from the user's prompt too
    given = prompts_seen["sequential"] + prompts_seen["batched"]
    assert all(isinstance(p, str) and p.startswith(PROMPT) for p in given), given
    # and every decoding started from it: the decoder's prompt tokens spell it
    assert prompts_seen["decoder"], "faster-whisper built no decoder prompt"
    assert all(PROMPT in text for text in prompts_seen["decoder"]), prompts_seen["decoder"]


def test_whisper_samples_at_the_temperature_asked(client: OpenAI, audio,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from faster_whisper.transcribe import WhisperModel

    temperatures: list[list[float]] = []
    decode = WhisperModel.generate_with_fallback

    def watched(self: Any, encoder_output: Any, prompt: Any, tokenizer: Any,
                options: Any) -> Any:
        temperatures.append(list(options.temperatures))
        return decode(self, encoder_output, prompt, tokenizer, options)

    # the server runs in this process: its decoder is the one watched here
    monkeypatch.setattr(WhisperModel, "generate_with_fallback", watched)
    result = client.audio.transcriptions.create(file=audio, model="tiny.en", temperature=0.4)
    assert "country" in words_of(result.text)
    # sampled at 0.4 (faster-whisper's batched pipeline would decode greedily instead)
    assert temperatures and all(t == [0.4] for t in temperatures), temperatures


def test_a_temperature_out_of_range_names_the_field(client: OpenAI, audio) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(file=audio, model="tiny.en", temperature=3)
    error = caught.value
    assert error.status_code == 400 and error.param == "temperature"
    assert "temperature must be between 0 and 1" in error.body["message"]  # type: ignore[index]


# -- models the API does not take ---------------------------------------------------------

def test_an_unknown_model_is_404_model_not_found(client: OpenAI, audio) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.audio.transcriptions.create(file=audio, model="no-such-model")
    error = caught.value
    assert error.status_code == 404 and error.code == "model_not_found"
    assert error.param == "model"
    message = error.body["message"]  # type: ignore[index]
    assert "no-such-model" in message and "tiny.en" in message


def test_a_file_path_is_never_a_model(client: OpenAI, audio, jfk: Path) -> None:
    for path in (str(jfk), str(jfk.parent)):  # they exist, and were never loaded
        with pytest.raises(openai.NotFoundError) as caught:
            client.audio.transcriptions.create(file=audio, model=path)
        assert caught.value.code == "model_not_found"
        assert "never takes file paths" in caught.value.body["message"]  # type: ignore[index]
