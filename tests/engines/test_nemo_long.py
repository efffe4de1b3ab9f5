"""NeMo on long audio and on folders of short files (issue 8).

- Seams: windows cut through speech hear 2 s past each seam; every word is
  kept by the window that owns its middle, so none is doubled or dropped.
- Local attention: NeMo's long-form mode is switched on for one call and
  switched back, weights untouched, also when the call fails.
- Short files: sent to the model together, one outcome per file, in order.

The tiny models have random weights. The CTC model's random decoder says one
character per window, so the seam tests first make it talkative (see
:func:`make_talkative`): then it says a word every few hundred milliseconds,
driven by the audio, with no punctuation, and NeMo returns one segment per
window, as parakeet-ctc does on real speech.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from stt_studio import longform
from stt_studio.audio import pieces
from stt_studio.audio.decode import decode_file
from stt_studio.audio.pieces import Piece, Stretch
from stt_studio.domain import (
    SAMPLE_RATE_HZ,
    Audio,
    EngineKind,
    LongAudio,
    ModelSpec,
    Segment,
    TranscriptionOptions,
    Word,
)
from stt_studio.engines.base import ModelInfo
from stt_studio.engines.nemo import LOCAL_CONTEXT, NemoModel
from stt_studio.errors import AudioError, InvalidOptionError
from stt_studio.service import Result
from stt_studio.settings import Settings
from tests.conftest import SHARED_AUDIO, make_studio

pytestmark = pytest.mark.slow

RATE = SAMPLE_RATE_HZ
WINDOW_S = 30.0
CORRUPT = SHARED_AUDIO / "D_awkward" / "evil_corrupt.wav"


# -- helpers -----------------------------------------------------------------------------
def make_talkative(loaded: NemoModel, samples: np.ndarray) -> None:
    """Redraw the tiny CTC model's decoder so it says many words, no punctuation.

    Each 80 ms frame votes for the letter whose (seeded, random) direction best
    matches how the encoder output differs from its mean on JFK; blank is a
    little ahead, so words end. Tokens that are not letters (punctuation, <unk>)
    are silenced: NeMo then splits no segment, one segment spans a window.
    """
    import torch

    model = loaded.model
    signal = torch.from_numpy(np.ascontiguousarray(samples))[None]
    with torch.no_grad():
        features, frames = model.preprocessor(input_signal=signal,
                                              length=torch.tensor([signal.shape[1]]))
        encoded, _ = model.encoder(audio_signal=features, length=frames)
        mean = encoded[0].mean(dim=1)
        layer = model.decoder.decoder_layers[0]
        weight = torch.randn(layer.weight.shape, generator=torch.Generator().manual_seed(0)) * 3
        layer.weight.copy_(weight)
        layer.bias.copy_(-(weight[:, :, 0] @ mean))
        vocabulary = model.tokenizer.vocab_size
        layer.bias[vocabulary] += 2.0  # blank
        for token in range(vocabulary):
            text = model.tokenizer.ids_to_tokens([token])[0].replace("\u2581", "")
            if text and not text.isalpha():
                layer.bias[token] = -1.0e4


def spy_outputs(monkeypatch) -> list[tuple[list[float], list]]:
    """Every transcribe_batch call: (piece lengths in s, what the engine returned)."""
    seen: list[tuple[list[float], list]] = []
    real = NemoModel.transcribe_batch

    def spy(self, batch, options, **kwargs):
        outputs = real(self, batch, options, **kwargs)
        seen.append(([a.duration_s for a in batch], outputs))
        return outputs

    monkeypatch.setattr(NemoModel, "transcribe_batch", spy)
    return seen


def spy_model_calls(monkeypatch, model) -> list[tuple[list[float], int]]:
    """Every ``model.transcribe`` call NeMo gets: (array lengths in s, batch_size)."""
    calls: list[tuple[list[float], int]] = []
    real = model.transcribe

    def spy(audio, *args, **kwargs):
        calls.append(([len(a) / RATE for a in audio], kwargs["batch_size"]))
        return real(audio, *args, **kwargs)

    monkeypatch.setattr(model, "transcribe", spy)
    return calls


def words_of(segments) -> list[Word]:
    return [w for s in segments for w in s.words]


def assert_in_time_order_never_overlapping(words: list[Word]) -> None:
    for a, b in zip(words, words[1:]):
        assert a.start_s <= a.end_s <= b.start_s + 1e-6, f"{a} and {b} overlap"


def attention_of(model) -> tuple[str, list[int], int]:
    encoder = model.encoder
    return (encoder.self_attention_model, list(encoder.att_context_size),
            getattr(encoder.pre_encode, "subsampling_conv_chunking_factor", 1))


@pytest.fixture(scope="module")
def jfk_samples(jfk) -> np.ndarray:
    return decode_file(jfk).samples


@pytest.fixture()
def talkative(tiny_nemo, session_layout, jfk_samples):
    """A studio with 30 s windows and its own (talkative) copy of the tiny CTC model."""
    studio = make_studio(session_layout, long_audio_window_s=WINDOW_S)
    loaded = studio.load(str(tiny_nemo["ctc"]))
    make_talkative(loaded, jfk_samples)
    return studio, loaded


# -- seams -------------------------------------------------------------------------------
def test_seams_cut_through_speech_keep_every_word_once(talkative, jfk_samples, monkeypatch):
    studio, loaded = talkative
    long = Audio(np.concatenate([jfk_samples] * 7), RATE)  # 77 s, no VAD: cuts through words
    outputs = spy_outputs(monkeypatch)
    transcript = studio.transcribe_audio(long, loaded, TranscriptionOptions(vad=False))

    (lengths_s, heard), = outputs  # all windows in one batch
    # owned 0-26, 26-52, 52-77 s (26 = 30 - 2 x 2 s); each hears 2 s past its seams
    assert lengths_s == pytest.approx([28.0, 30.0, 27.0])
    offsets_s, owned = (0.0, 24.0, 50.0), ((0.0, 26.0), (26.0, 52.0), (52.0, 77.0))
    for output in heard:  # no punctuation: one segment spans each window
        assert len(output.segments) == 1 and len(output.segments[0].words) > 40
    expected = []
    for offset_s, (low, high), output in zip(offsets_s, owned, heard):
        for w in words_of(output.segments):
            middle_s = offset_s + (w.start_s + w.end_s) / 2
            if low <= middle_s and (middle_s < high or high == 77.0):  # the last owns the end
                expected.append((offset_s + w.start_s, offset_s + w.end_s, w.text))
    got = words_of(transcript.segments)
    assert [w.text for w in got] == [text for _, _, text in expected]
    assert [t for w in got for t in (w.start_s, w.end_s)] == pytest.approx(
        [t for e in expected for t in e[:2]])
    assert_in_time_order_never_overlapping(got)
    for seam_s in (26.0, 52.0):  # each seam is heard by both neighbours and kept once
        near = [w for w in got if seam_s - 2 <= w.start_s < seam_s + 2]
        assert len(near) >= 4
        for offset_s, output in zip(offsets_s, heard):
            if offset_s < seam_s < offset_s + 30:
                assert any(seam_s - 2 <= offset_s + w.start_s < seam_s + 2
                           for w in words_of(output.segments))

    # the old rule, whole segments kept by their middle, kept every window whole ...
    old = [s for offset_s, (low, high), output in zip(offsets_s, owned, heard)
           for s in output.segments if low <= offset_s + (s.start_s + s.end_s) / 2 < high]
    assert len(old) == 3
    assert sum(len(s.words) for s in old) - len(got) >= 4  # ... so words at seams twice

    # segments only (no word timestamps asked for): still merged on words
    plain = studio.transcribe_audio(long, loaded,
                                    TranscriptionOptions(vad=False, word_timestamps=False))
    assert not any(s.words for s in plain.segments)
    assert plain.text.split() == [w.text for w in got]  # nothing doubled at a seam
    for a, b in zip(plain.segments, plain.segments[1:]):
        assert a.end_s <= b.start_s + 1e-6


def test_merge_keeps_each_word_by_its_middle_and_segments_by_theirs():
    """Hand-built pieces: 0-28 s owning 0-26, and 24-51 s owning 26-51."""
    left = Piece(np.zeros(28 * RATE, np.float32), (Stretch(0, 0, 28 * RATE),), 0, 26 * RATE)
    right = Piece(np.zeros(27 * RATE, np.float32), (Stretch(0, 24 * RATE, 27 * RATE),),
                  26 * RATE, 51 * RATE)
    said_left = Segment(0.0, 28.0, "one two three four", (
        Word(1.0, 2.0, "one"), Word(24.5, 25.5, "two"),     # middle 25.0: the left's
        Word(25.6, 26.8, "three"), Word(27.0, 28.0, "four")))  # 26.2, 27.5: the right's
    said_right = Segment(0.0, 27.0, "two three four five", (
        Word(0.4, 1.6, "two"), Word(1.5, 2.5, "three"),     # 25.0: the left's; 26.0: right's
        Word(3.0, 4.0, "four"), Word(26.0, 27.0, "five")))  # 27.5; 50.5 (the last piece)
    merged = pieces.merge([left, right], [[said_left], [said_right]])
    assert [(s.text, s.start_s, s.end_s) for s in merged] == [
        ("one two", 1.0, 25.5), ("three four five", 25.5, 51.0)]
    assert [w.text for w in words_of(merged)] == ["one", "two", "three", "four", "five"]
    assert_in_time_order_never_overlapping(words_of(merged))

    # segments without words: each kept or dropped whole, by its middle
    no_words = pieces.merge([left, right], [
        [Segment(0.0, 20.0, "a"), Segment(20.0, 28.0, "b")],   # middles 10, 24: the left's
        [Segment(0.0, 4.0, "b"), Segment(4.0, 27.0, "c")]])     # middles 26, 39.5: the right's
    assert [(s.text, s.start_s, s.end_s) for s in no_words] == [
        ("a", 0.0, 20.0), ("b", 20.0, 28.0), ("b", 24.0, 28.0), ("c", 28.0, 51.0)]

    # a piece of two speech spans (a pause left out): a word maps through the span
    # holding its middle, so both ends land in the same span; the segment the engine
    # heard across the 5 s pause becomes two
    spliced = Piece(np.zeros(10 * RATE, np.float32),
                    (Stretch(0, 0, 5 * RATE), Stretch(5 * RATE, 10 * RATE, 5 * RATE)),
                    0, 15 * RATE)
    segments = pieces.merge([spliced], [[Segment(0.0, 9.0, "x y", (
        Word(1.0, 2.0, "x"), Word(4.6, 5.6, "y")))]])
    assert [(w.text, w.start_s, w.end_s) for s in segments for w in s.words] == [
        ("x", 1.0, 2.0), ("y", 10.0, 10.6)]
    assert [s.text for s in segments] == ["x", "y"]


# -- local attention ---------------------------------------------------------------------
def _state(model) -> dict:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def assert_as_loaded(model, state: dict) -> None:
    import torch

    assert attention_of(model) == ("rel_pos", [-1, -1], 1)
    assert {type(layer.self_attn).__name__ for layer in model.encoder.layers} == {
        "RelPositionMultiHeadAttention"}
    now = model.state_dict()
    assert now.keys() == state.keys()
    for name, tensor in state.items():
        assert torch.equal(now[name], tensor), f"{name} changed"


@pytest.mark.parametrize("kind", ["tdt", "ctc"])
def test_local_attention_is_on_for_the_call_and_off_afterwards(kind, tiny_nemo, session_layout,
                                                              jfk_samples, monkeypatch):
    studio = make_studio(session_layout)
    loaded = studio.load(str(tiny_nemo[kind]))
    model = loaded.model
    assert loaded.info.local_attention
    clip = Audio(jfk_samples, RATE)
    windows = studio.transcribe_audio(clip, loaded, TranscriptionOptions())
    state = _state(model)
    switches: list[tuple] = []
    real_switch = model.change_attention_model
    monkeypatch.setattr(model, "change_attention_model",
                        lambda *a, **k: (switches.append(a), real_switch(*a, **k))[1])
    during = []
    real_transcribe = model.transcribe
    monkeypatch.setattr(model, "transcribe",
                        lambda *a, **k: (during.append(attention_of(model)),
                                         real_transcribe(*a, **k))[1])
    local = studio.transcribe_audio(clip, loaded,
                                    TranscriptionOptions(long_audio=LongAudio.LOCAL_ATTENTION))
    # every call in local attention (the block's, then any stretch decoded again alone),
    # each switched on for the call and back after it
    assert during and set(map(repr, during)) == {repr(("rel_pos_local_attn",
                                                       list(LOCAL_CONTEXT), 1))}
    assert switches == [("rel_pos_local_attn", list(LOCAL_CONTEXT)),
                        ("rel_pos", [-1, -1])] * len(during)
    assert_as_loaded(model, state)
    assert local.duration_s == pytest.approx(11.0)
    # back as it was: the same words as before the switch
    again = studio.transcribe_audio(clip, loaded, TranscriptionOptions())
    assert again.segments == windows.segments


def test_local_attention_is_reverted_when_the_call_fails(tiny_nemo, session_layout, jfk_samples,
                                                         monkeypatch):
    studio = make_studio(session_layout)
    loaded = studio.load(str(tiny_nemo["ctc"]))
    model = loaded.model
    state = _state(model)
    during = []

    def broken(*args, **kwargs):
        during.append(attention_of(model))
        raise RuntimeError("injected: CUDA out of memory")

    monkeypatch.setattr(model, "transcribe", broken)
    with pytest.raises(RuntimeError, match="injected"):
        studio.transcribe_audio(Audio(jfk_samples, RATE), loaded,
                                TranscriptionOptions(long_audio=LongAudio.LOCAL_ATTENTION))
    assert during == [("rel_pos_local_attn", list(LOCAL_CONTEXT), 1)]
    assert_as_loaded(model, state)


INFO = ModelInfo((), translates=False, timestamps=True, max_window_s=480.0, local_attention=True)
SPEC = ModelSpec("acme/long-parakeet", EngineKind.NEMO, "acme/long-parakeet")


@pytest.mark.parametrize(("long_audio", "total_s", "local"), [
    (LongAudio.AUTO, 479.0, False),
    (LongAudio.AUTO, 481.0, True),
    (LongAudio.AUTO, None, False),  # length unknown: windows
    (LongAudio.WINDOWS, 36000.0, False),
    (LongAudio.LOCAL_ATTENTION, 10.0, True),
])
def test_auto_picks_local_attention_only_above_480_s(long_audio, total_s, local):
    options = TranscriptionOptions(long_audio=long_audio)
    plan = longform.choose(INFO, SPEC, options, total_s, Settings(cache_dir=Path("unused")))
    assert plan.local_attention is local
    assert plan.max_piece_s == (None if local else 60.0)
    whisper_like = replace(INFO, sequential_long_form=True, max_window_s=30.0)
    assert not longform.choose(whisper_like, SPEC, options, total_s,
                               Settings(cache_dir=Path("unused"))).local_attention


def test_a_model_without_local_attention_says_to_use_windows(tiny_nemo, session_layout,
                                                             jfk_samples, monkeypatch):
    settings = Settings(cache_dir=Path("unused"))
    without = replace(INFO, local_attention=False)
    assert not longform.choose(without, SPEC, TranscriptionOptions(), 36000.0,
                               settings).local_attention  # auto falls back to windows
    with pytest.raises(InvalidOptionError) as info:
        longform.choose(without, SPEC, TranscriptionOptions(long_audio=LongAudio.LOCAL_ATTENTION),
                        10.0, settings)
    assert "acme/long-parakeet" in info.value.render()
    assert "--long-audio windows" in info.value.render()

    # a real encoder with absolute positions has no local-attention mode
    from stt_studio.engines import nemo

    studio = make_studio(session_layout)
    loaded = studio.load(str(tiny_nemo["ctc"]))
    loaded.model.change_attention_model("abs_pos")
    loaded.info = nemo._model_info(loaded.model, loaded.spec)
    assert not loaded.info.local_attention
    calls = spy_model_calls(monkeypatch, loaded.model)
    with pytest.raises(InvalidOptionError, match="local-attention mode") as info:
        studio.transcribe_audio(Audio(jfk_samples, RATE), loaded,
                                TranscriptionOptions(long_audio=LongAudio.LOCAL_ATTENTION))
    assert "--long-audio windows" in info.value.render()
    assert calls == []


def test_auto_switches_on_a_recording_over_480_s_and_windows_never(tiny_nemo, session_layout,
                                                                   jfk_samples, monkeypatch):
    """~500 s: JFK five times, 89 s of silence after each (VAD keeps it cheap)."""
    studio = make_studio(session_layout)
    loaded = studio.load(str(tiny_nemo["ctc"]))
    silence = np.zeros(89 * RATE, np.float32)
    long = Audio(np.concatenate([jfk_samples, silence] * 5), RATE)
    assert long.duration_s == pytest.approx(500.0)
    switches: list[tuple] = []
    real_switch = loaded.model.change_attention_model
    monkeypatch.setattr(loaded.model, "change_attention_model",
                        lambda *a, **k: (switches.append(a), real_switch(*a, **k))[1])
    calls = spy_model_calls(monkeypatch, loaded.model)

    studio.transcribe_audio(long, loaded, TranscriptionOptions())
    assert switches == [("rel_pos_local_attn", list(LOCAL_CONTEXT)),
                        ("rel_pos", [-1, -1])] * len(calls)
    lengths_s, _ = calls[0]  # all speech of the block in one piece, pauses left out
    assert len(lengths_s) == 1 and 30.0 < lengths_s[0] < 55.0
    # later calls: stretches of it the random weights left without words, alone
    assert all(len(more) == 1 and more[0] <= lengths_s[0] for more, _ in calls[1:])

    switches.clear()
    studio.transcribe_audio(long, loaded, TranscriptionOptions(long_audio=LongAudio.WINDOWS))
    assert switches == []
    assert attention_of(loaded.model) == ("rel_pos", [-1, -1], 1)


# -- folders of short files --------------------------------------------------------------
@pytest.fixture()
def short_clips(manifest) -> list[Path]:
    clips = [c.path for c in manifest if c.group == "A" and c.duration_s and c.duration_s < 20]
    assert len(clips) >= 6
    return clips[:6]


def test_short_files_go_to_the_model_in_one_call(talkative, tiny_nemo, short_clips,
                                                 monkeypatch):
    studio, loaded = talkative
    name = str(tiny_nemo["ctc"])
    calls = spy_model_calls(monkeypatch, loaded.model)
    outcomes = list(studio.transcribe_many(short_clips, name, TranscriptionOptions(batch_size=8)))

    assert len(calls) == 1  # one call holding every file, 8 at a time
    (lengths_s, batch_size), = calls
    assert len(lengths_s) == len(short_clips) and batch_size == 8
    assert [path for path, _ in outcomes] == short_clips
    alone = [studio.transcribe_file(path, name).transcript for path in short_clips]
    texts = []
    for (path, result), single in zip(outcomes, alone):
        assert isinstance(result, Result), f"{path}: {result!r}"
        assert result.transcript.text == single.text
        assert result.transcript.segments == single.segments  # words and their times too
        assert result.transcript.duration_s == pytest.approx(single.duration_s, abs=0.01)
        texts.append(single.text)
    assert len(set(texts)) == len(texts) and all(texts)  # a mix-up of files would show


def test_batch_size_1_sends_each_file_on_its_own(talkative, tiny_nemo, short_clips, monkeypatch):
    studio, loaded = talkative
    calls = spy_model_calls(monkeypatch, loaded.model)
    outcomes = list(studio.transcribe_many(short_clips[:3], str(tiny_nemo["ctc"]),
                                           TranscriptionOptions(batch_size=1)))
    assert [len(lengths) for lengths, _ in calls] == [1, 1, 1]
    assert [path for path, _ in outcomes] == short_clips[:3]
    assert all(isinstance(result, Result) for _, result in outcomes)


@pytest.mark.fault("bad input", "a corrupt file among short files batched for a NeMo model",
                   "its AudioError is reported in its place, in input order; the others are "
                   "transcribed, the same as alone")
def test_a_corrupt_file_among_short_files(talkative, tiny_nemo, short_clips, monkeypatch):
    studio, loaded = talkative
    name = str(tiny_nemo["ctc"])
    paths = [*short_clips[:2], CORRUPT, *short_clips[2:4]]
    calls = spy_model_calls(monkeypatch, loaded.model)
    outcomes = list(studio.transcribe_many(paths, name, TranscriptionOptions(batch_size=8)))
    assert [path for path, _ in outcomes] == paths
    assert isinstance(outcomes[2][1], AudioError)
    assert "could not be decoded" in outcomes[2][1].render()
    for path, result in outcomes[:2] + outcomes[3:]:
        assert isinstance(result, Result)
        assert result.transcript.text == studio.transcribe_file(path, name).transcript.text
    assert [len(lengths) for lengths, _ in calls[:2]] == [2, 2]  # the files on each side


@pytest.mark.fault("bad input", "a batched short file vanishes between listing and decoding",
                   "its error is reported in its place, in input order; the rest are "
                   "transcribed in one call")
def test_a_file_that_vanishes_before_decoding_keeps_its_place(talkative, tiny_nemo, short_clips,
                                                              tmp_path, monkeypatch):
    import stt_studio.service as service

    studio, loaded = talkative
    paths = []
    for clip in short_clips[:4]:
        paths.append(tmp_path / clip.name)
        shutil.copyfile(clip, paths[-1])
    victim = paths[2]
    real_decode = service.decode_file

    def vanishing(path, **kwargs):
        if Path(path) == victim:
            victim.unlink()  # another program moved it away after the folder was listed
        return real_decode(path, **kwargs)

    monkeypatch.setattr(service, "decode_file", vanishing)
    calls = spy_model_calls(monkeypatch, loaded.model)
    outcomes = list(studio.transcribe_many(paths, str(tiny_nemo["ctc"]),
                                           TranscriptionOptions(batch_size=8)))
    assert [path for path, _ in outcomes] == paths
    assert isinstance(outcomes[2][1], AudioError) and str(victim) in outcomes[2][1].render()
    assert all(isinstance(r, Result) for _, r in outcomes[:2] + outcomes[3:])
    assert [len(lengths) for lengths, _ in calls] == [3]
