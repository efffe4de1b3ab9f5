"""The NeMo engine on real NeMo models (random weights, built at test time).

Transcripts of random-weight models are noise, so these tests check the
mechanics: loading paths, timestamps as plain floats, options, windows.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from stt_studio.domain import Audio, Task, TranscriptionOptions
from stt_studio.errors import InvalidOptionError
from stt_studio.formats import to_json
from stt_studio.models import extract
from tests.conftest import make_studio
from tests.support.hub import prefill_hf_cache

pytestmark = pytest.mark.slow


def assert_well_formed(transcript, duration_s: float) -> None:
    assert transcript.duration_s == pytest.approx(duration_s, abs=0.01)
    previous = 0.0
    for seg in transcript.segments:
        assert 0.0 <= seg.start_s <= seg.end_s <= duration_s + 1e-6
        assert seg.start_s >= previous - 1e-6
        previous = seg.start_s
        for word in seg.words:
            assert 0.0 <= word.start_s <= word.end_s <= duration_s + 1e-6
            assert isinstance(word.start_s, float) and isinstance(word.end_s, float)
    json.loads(to_json(transcript))  # numpy scalars would fail here


@pytest.mark.parametrize("kind", ["tdt", "ctc", "canary"])
def test_local_nemo_file_transcribes_real_speech(kind, tiny_nemo, fresh_layout, jfk):
    """Random weights (fixed seed) still give text on JFK, and every kind stamps its words.

    What the tiny models say is noise (tdt: a run of odd characters, ctc: one
    character, canary: "you" eight times), so the test holds them to what the
    engine guarantees whenever there is text: each segment carries the words it
    was made of, inside the segment and inside the audio, in order.
    """
    studio = make_studio(fresh_layout)
    result = studio.transcribe_file(jfk, str(tiny_nemo[kind]))
    transcript = result.transcript
    assert_well_formed(transcript, 11.0)
    assert transcript.model == str(tiny_nemo[kind].resolve())
    assert result.device == "cpu"
    assert transcript.text.strip(), "the seeded tiny model gives text on JFK"
    assert transcript.segments
    assert transcript.text == " ".join(seg.text.strip() for seg in transcript.segments)
    for seg in transcript.segments:
        assert seg.words, f"{kind}: a segment without its word timestamps: {seg}"
        assert " ".join(w.text for w in seg.words).split() == seg.text.split()
        for word in seg.words:
            assert seg.start_s - 1e-6 <= word.start_s <= word.end_s <= seg.end_s + 1e-6
            assert 0.0 <= word.start_s and word.end_s <= transcript.duration_s + 1e-6
        starts = [w.start_s for w in seg.words]
        assert starts == sorted(starts)


def test_extracted_folder_loads_without_the_archive(tiny_nemo, fresh_layout, tmp_path, jfk):
    folder = tmp_path / "tdt_extracted"
    from nemo.core.connectors.save_restore_connector import SaveRestoreConnector

    SaveRestoreConnector._unpack_nemo_file(str(tiny_nemo["tdt"]), str(folder))
    studio = make_studio(fresh_layout)
    loaded = studio.load(str(folder))
    assert loaded.spec.local and loaded.spec.engine.value == "nemo"
    assert_well_formed(studio.transcribe_file(jfk, str(folder)).transcript, 11.0)
    assert not any(fresh_layout.extracted_dir.glob("[0-9a-f]*"))  # used in place


def test_hub_name_resolves_from_prefilled_cache_without_network(tiny_nemo, fresh_layout, jfk):
    prefill_hf_cache(fresh_layout.hf_hub_cache, "acme/tiny-parakeet", tiny_nemo["tdt"])
    studio = make_studio(fresh_layout)
    result = studio.transcribe_file(jfk, "acme/tiny-parakeet")
    assert result.transcript.model == "acme/tiny-parakeet"
    listed = {m.spec.name for m in studio.list_models()}
    assert "nvidia/parakeet-tdt-0.6b-v2" in listed
    (extracted,) = [p for p in fresh_layout.extracted_dir.iterdir() if extract.is_complete(p)]
    assert "models--acme--tiny-parakeet" in extract.extraction_source(extracted)


def test_registry_name_and_nemo_from_pretrained_share_the_cache(tiny_nemo, session_layout):
    """NeMo's own from_pretrained finds what our resolver finds: same HF layout."""
    prefill_hf_cache(session_layout.hf_hub_cache, "nvidia/parakeet-tdt-0.6b-v2", tiny_nemo["tdt"])
    try:
        studio = make_studio(session_layout)
        loaded = studio.load("nvidia/parakeet-tdt-0.6b-v2")
        assert loaded.spec.nemo_filename == "parakeet-tdt-0.6b-v2.nemo"
        from nemo.collections.asr.models import ASRModel

        model = ASRModel.from_pretrained("nvidia/parakeet-tdt-0.6b-v2", map_location="cpu")
        assert type(model).__name__ == type(loaded.model).__name__
        studio.remove("nvidia/parakeet-tdt-0.6b-v2")
        assert not (session_layout.hf_hub_cache / "models--nvidia--parakeet-tdt-0.6b-v2").exists()
    finally:
        shutil.rmtree(session_layout.hf_hub_cache / "models--nvidia--parakeet-tdt-0.6b-v2",
                      ignore_errors=True)


def assert_careful_after(spy: Spy) -> None:
    """Calls after the first are the completeness check's: one stretch each, batch size 1.

    Random weights say little, so the check finds speech without words and
    decodes it again (completeness.py); each such stretch lies inside a piece.
    """
    first = max(len(a) for a in spy.calls[0][0])
    for args, kwargs in zip(spy.calls[1:], spy.kwargs[1:]):
        (arrays,) = args
        assert len(arrays) == 1 and kwargs["batch_size"] == 1
        assert len(arrays[0]) <= first


class Spy:
    def __init__(self, monkeypatch, target, name):
        self.calls = []
        self.kwargs = []
        original = getattr(target, name)

        def wrapper(*args, **kwargs):
            self.calls.append(args)
            self.kwargs.append(kwargs)
            return original(*args, **kwargs)

        monkeypatch.setattr(target, name, wrapper)


def test_warm_load_creates_no_temp_dir_and_extracts_nothing(tiny_nemo, fresh_layout, monkeypatch):
    import tarfile

    cold = make_studio(fresh_layout)
    cold.load(str(tiny_nemo["ctc"]))
    (folder,) = [p for p in fresh_layout.extracted_dir.iterdir() if extract.is_complete(p)]
    stamp = (folder / extract.MARKER).stat().st_mtime_ns

    mkdtemp = Spy(monkeypatch, tempfile, "mkdtemp")
    tar_open = Spy(monkeypatch, tarfile, "open")
    unpack = Spy(monkeypatch, extract, "_unpack")
    warm = make_studio(fresh_layout)  # a new process' worth of state: nothing loaded
    warm.load(str(tiny_nemo["ctc"]))
    assert mkdtemp.calls == [] and tar_open.calls == [] and unpack.calls == []
    assert (folder / extract.MARKER).stat().st_mtime_ns == stamp
    assert list(fresh_layout.tmp_dir.iterdir()) == []


def test_numpy_transcribe_leaves_temp_dir_empty(tiny_nemo, session_studio):
    loaded = session_studio.load(str(tiny_nemo["tdt"]))
    before = set(Path(tempfile.gettempdir()).iterdir())
    audio = Audio(np.zeros(16000, dtype=np.float32), 16000)
    loaded.transcribe(audio, TranscriptionOptions())
    assert set(Path(tempfile.gettempdir()).iterdir()) == before


LANGUAGE_TOKENS = {"<|en|>", "<|de|>", "<|es|>", "<|fr|>"}


@pytest.fixture()
def canary_asked(monkeypatch):
    """What each Canary decoding was asked, seen in NeMo's real forward step (wrapped).

    One ``(slots, tokens)`` per batch: the user turn of the transcribe config's
    prompt, and the prompt tokens the decoder starts from.
    """
    from nemo.collections.asr.models import EncDecMultiTaskModel

    asked = []
    real = EncDecMultiTaskModel._transcribe_forward

    def watched(self, batch, trcfg):
        out = real(self, batch, trcfg)
        slots = next(turn["slots"] for turn in trcfg.prompt if turn["role"] == "user")
        tokens = self.tokenizer.ids_to_tokens(out["decoder_input_ids"][0].tolist())
        asked.append((dict(slots), list(tokens)))
        return out

    monkeypatch.setattr(EncDecMultiTaskModel, "_transcribe_forward", watched)
    return asked


def test_canary_is_asked_to_translate_and_says_into_what(tiny_nemo, session_studio, jfk,
                                                         canary_asked):
    """Random weights translate into noise: what is checked is the request and the label."""
    canary = str(tiny_nemo["canary"])
    out = session_studio.transcribe_file(
        jfk, canary, TranscriptionOptions(language="en", task=Task.TRANSLATE,
                                          target_language="de"))
    assert canary_asked, "NeMo never decoded"
    for slots, tokens in canary_asked:  # every batch, a stretch decoded again included
        assert (slots["task"], slots["source_lang"], slots["target_lang"]) == ("ast", "en", "de")
        # the decoder starts from <|en|><|de|>: English speech, German text
        assert [t for t in tokens if t in LANGUAGE_TOKENS] == ["<|en|>", "<|de|>"], tokens
    assert out.transcript.language == "de"  # labelled as German, not as the speech's English
    assert json.loads(to_json(out.transcript))["language"] == "de"

    canary_asked.clear()  # the same model transcribing: English text of English speech
    plain = session_studio.transcribe_file(jfk, canary, TranscriptionOptions(language="en"))
    assert canary_asked
    for slots, tokens in canary_asked:
        assert (slots["task"], slots["source_lang"], slots["target_lang"]) == ("asr", "en", "en")
        assert [t for t in tokens if t in LANGUAGE_TOKENS] == ["<|en|>", "<|en|>"], tokens
    assert plain.transcript.language == "en"


def test_canary_language_and_translation_options(tiny_nemo, session_studio, jfk):
    loaded = session_studio.load(str(tiny_nemo["canary"]))
    assert {"en", "de", "es", "fr"} <= set(loaded.info.languages)
    assert loaded.info.translates
    with pytest.raises(InvalidOptionError) as info:
        session_studio.transcribe_file(jfk, str(tiny_nemo["canary"]),
                                       TranscriptionOptions(language="ja"))
    assert "'ja'" in info.value.render() and "en" in info.value.render()
    with pytest.raises(InvalidOptionError, match="target language"):
        session_studio.transcribe_file(jfk, str(tiny_nemo["canary"]),
                                       TranscriptionOptions(language="en", task=Task.TRANSLATE))


def test_transducer_refuses_translation(tiny_nemo, session_studio, jfk):
    with pytest.raises(InvalidOptionError) as info:
        session_studio.transcribe_file(jfk, str(tiny_nemo["tdt"]),
                                       TranscriptionOptions(task=Task.TRANSLATE))
    assert "Canary" in info.value.render()


def test_long_audio_is_speech_pieces_in_one_batched_call(tiny_nemo, fresh_layout, jfk,
                                                         monkeypatch):
    """Windows are VAD speech pieces of <= long_audio_window_s, all sent in one call."""
    from stt_studio.audio import vad
    from stt_studio.audio.decode import decode_file

    studio = make_studio(fresh_layout, long_audio_window_s=30.0)
    loaded = studio.load(str(tiny_nemo["ctc"]))
    clip = decode_file(jfk)
    long = Audio(np.concatenate([clip.samples] * 7), 16000)  # 77 s
    calls = Spy(monkeypatch, loaded.model, "transcribe")
    transcript = studio.transcribe_audio(long, loaded, TranscriptionOptions(batch_size=4))
    (arrays,) = calls.calls[0]  # one model.transcribe call for every piece ...
    assert calls.kwargs[0]["batch_size"] == 4
    assert_careful_after(calls)  # ... then what came back short (random weights), alone
    lengths_s = [len(a) / 16000 for a in arrays]
    assert len(lengths_s) >= 3 and max(lengths_s) <= 30.0
    speech_s = sum(s.length for s in vad.detect_speech(long.samples, max_span_s=30.0)) / 16000
    assert speech_s <= sum(lengths_s) < 77.0  # all speech heard, the pauses left out
    assert_well_formed(transcript, 77.0)

    calls.calls.clear()
    calls.kwargs.clear()
    transcript = studio.transcribe_audio(long, loaded, TranscriptionOptions(vad=False))
    (arrays,) = calls.calls[0]
    assert calls.kwargs[0]["batch_size"] == 8
    assert_careful_after(calls)
    lengths_s = [len(a) / 16000 for a in arrays]
    assert len(lengths_s) == 3 and max(lengths_s) <= 30.0
    # no VAD: the pieces cover the whole audio, each hearing 2 s past each of its seams
    assert sum(lengths_s) - 2 * 2.0 * (len(lengths_s) - 1) == pytest.approx(77.0)
    assert_well_formed(transcript, 77.0)


@pytest.mark.parametrize("kind", ["tdt", "ctc", "canary"])
def test_cached_load_has_exactly_the_weights_of_plain_restore(kind, tiny_nemo, session_studio):
    """The fast path (extracted folder, no random init, mmap) changes no weight."""
    import torch
    import torch.nn.init as init
    from nemo.collections.asr.models import ASRModel

    normal_before = init.normal_
    ours = session_studio.load(str(tiny_nemo[kind])).model
    plain = ASRModel.restore_from(str(tiny_nemo[kind]), map_location="cpu")
    for kind_of_tensor in ("named_parameters", "named_buffers"):  # buffers: persistent or not
        a = dict(getattr(plain, kind_of_tensor)())
        b = dict(getattr(ours, kind_of_tensor)())
        assert a and a.keys() == b.keys()
        for name, expected in a.items():
            got = b[name]
            assert (got.dtype, got.shape) == (expected.dtype, expected.shape), name
            assert torch.equal(got, expected), f"{kind_of_tensor}: {name} differs"
    persistent = set(plain.state_dict())
    assert {n for n, _ in plain.named_buffers()} - persistent, "no non-persistent buffer seen"
    assert init.normal_ is normal_before  # the init functions are restored afterwards


def test_canary_without_aligner_is_windowed_without_overlap(fresh_layout, tmp_path, jfk,
                                                            monkeypatch):
    """No timestamps to merge on: pieces meet back to back, cut only at VAD span edges."""
    from stt_studio.audio import pieces, vad
    from stt_studio.audio.decode import decode_file
    from tests.support.nemo_models import build_model

    flash = build_model("canary_flash", tmp_path / "flash.nemo")
    studio = make_studio(fresh_layout, long_audio_window_s=30.0)
    loaded = studio.load(str(flash))
    assert not loaded.info.timestamps and loaded.info.translates
    clip = decode_file(jfk)
    long = Audio(np.concatenate([clip.samples] * 6), 16000)  # 66 s
    calls = Spy(monkeypatch, loaded.model, "transcribe")
    transcript = studio.transcribe_audio(long, loaded, TranscriptionOptions(language="en"))
    (arrays,) = calls.calls[0]
    assert_careful_after(calls)
    lengths = [len(a) for a in arrays]
    assert len(lengths) >= 2 and max(lengths) <= 30 * 16000
    found = vad.detect_speech(long.samples, max_span_s=30.0)
    spans = [s.length for s in found]
    assert sum(lengths) == sum(spans)  # nothing heard twice, nothing left out
    # the engine gets them shortest first; in time order each piece ends where a span ends
    planned = [len(p.samples) for p in pieces.plan(long.samples, found, max_piece_s=30.0)]
    assert sorted(planned) == sorted(lengths)
    edges = set(np.cumsum(spans).tolist())
    assert set(np.cumsum(planned).tolist()) <= edges
    assert_well_formed(transcript, 66.0)
    assert all(seg.words == () for seg in transcript.segments)

    calls.calls.clear()
    calls.kwargs.clear()
    studio.transcribe_audio(long, loaded, TranscriptionOptions(language="en", vad=False))
    (arrays,) = calls.calls[0]
    assert_careful_after(calls)
    lengths = [len(a) for a in arrays]
    assert max(lengths) <= 30 * 16000
    assert sum(lengths) == len(long.samples)  # the whole audio, back to back
