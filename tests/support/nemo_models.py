"""Builders of tiny *real* NeMo ASR models with random weights, for tests and benchmarks.

Each builder instantiates a genuine NeMo model class (no mocks), trains a tiny
SentencePiece BPE tokenizer on the fly, initialises the weights from a fixed
torch seed and writes a ``.nemo`` archive with NeMo's own ``save_to``.  The
archives therefore exercise exactly the code paths a downloaded checkpoint
does: ``restore_from``, tokenizer artefacts, ``transcribe()`` and timestamps.

The weights are random, so the transcripts are noise by design: tests may rely
on the *shape* of results (types, keys, timestamp structure), never on words.

Kinds (``build_model(kind, path)``):

* ``tdt``          -- ``EncDecRNNTBPEModel`` with TDT loss/decoding (parakeet-tdt style).
* ``ctc``          -- ``EncDecCTCModelBPE`` with a ``ConvASRDecoder``.
* ``canary``       -- canary-1b-v2-style ``EncDecMultiTaskModel``: aggregate
                      ``CanaryTokenizer`` (special tokens + en/de/es/fr), ``canary2``
                      prompt, no ``validation_ds``, and a tiny CTC model packed in the
                      ``.nemo`` as ``timestamps_asr_model_*`` so ``timestamps=True``
                      yields real (forced-aligned) word/segment timestamps.
* ``canary_flash`` -- canary-1b-flash style: same, without the timestamps model (the
                      random decoder never emits ``<|N|>`` tokens: timestamp lists empty).
* ``large_tdt``    -- same family as ``tdt`` with ~116 M parameters (~460 MB ``.nemo``,
                      ~5 s to build), for load-time benchmarks.

Tiny models are ~1.5-4.5 MB and build in well under a second once NeMo is
imported; the same seed gives identical weights (archive member names contain
NeMo's random uuids, so the ``.nemo`` bytes differ).  Build scratch files go to a
temporary folder next to the target path, never to the system temp dir.

The module imports only the standard library at top level; torch and NeMo are
imported lazily inside the builders (``import nemo.collections.asr`` takes
6-10 s).  No network access is needed.

Usage::

    from tests.support.nemo_models import build_model
    path = build_model("tdt", tmp_path / "tiny_tdt.nemo")
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "MODEL_KINDS",
    "CANARY_LANGUAGES",
    "build_tdt_model",
    "build_ctc_model",
    "build_canary_model",
    "build_large_tdt_model",
    "build_canary_flash_model",
    "build_model",
]

SAMPLE_RATE = 16000
N_MELS = 80
TDT_DURATIONS = [0, 1, 2, 3, 4]
CANARY_LANGUAGES = ["en", "de", "es", "fr"]

# Canary-2 ("canary2" prompt format) timestamp tokens <|0|>..<|N-1|>, in encoder
# frames (80 ms each with x8 subsampling): 500 frames = 40 s, Canary-flash's chunk.
_CANARY_TIMESTAMP_TOKENS = 500
# The decoder emits at most min(max_sequence_length, encoder frames + delta) - prompt
# length tokens.  NVIDIA uses delta 50 and length 1024; the canary2 prompt is 9 tokens.
# A random decoder never emits EOS, so the sequence length is capped at 16 (<= 7 output
# tokens): short enough for the CTC forced alignment of the timestamps model to succeed
# on clips of ~1.5 s and longer (it fails, leaving empty lists, when tokens > frames).
_CANARY_MAX_GENERATION_DELTA = 50
_CANARY_MAX_SEQUENCE_LENGTH = 16

# Small multilingual corpus for the on-the-fly tokenizers.  Content is irrelevant,
# it only has to contain enough characters/pairs for a 64-piece BPE vocabulary.
_CORPUS: dict[str, list[str]] = {
    "en": [
        "the quick brown fox jumps over the lazy dog",
        "and so my fellow americans ask not what your country can do for you",
        "ask what you can do for your country",
        "she sells sea shells by the sea shore",
        "a journey of a thousand miles begins with a single step",
        "hello world this is a tiny speech recognition model for testing",
        "numbers one two three four five six seven eight nine ten",
        "Good morning, how are you today? I am fine, thank you!",
    ],
    "de": [
        "der schnelle braune fuchs springt über den faulen hund",
        "guten morgen wie geht es dir heute mir geht es gut danke",
        "ich möchte gerne einen kaffee mit milch und zucker bitte",
        "die straße ist nass weil es gestern den ganzen tag geregnet hat",
        "eins zwei drei vier fünf sechs sieben acht neun zehn",
        "Schöne Grüße aus Berlin, München und Köln!",
    ],
    "es": [
        "el rápido zorro marrón salta sobre el perro perezoso",
        "buenos días cómo estás hoy estoy bien gracias",
        "me gustaría un café con leche y azúcar por favor",
        "la calle está mojada porque llovió todo el día de ayer",
        "uno dos tres cuatro cinco seis siete ocho nueve diez",
        "¿Dónde está la estación? ¡Mañana vamos a España!",
    ],
    "fr": [
        "le renard brun rapide saute par dessus le chien paresseux",
        "bonjour comment allez vous aujourd'hui je vais bien merci",
        "je voudrais un café au lait avec du sucre s'il vous plaît",
        "la rue est mouillée parce qu'il a plu toute la journée d'hier",
        "un deux trois quatre cinq six sept huit neuf dix",
        "Très bien, à bientôt à Paris et à Genève!",
    ],
}


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _quiet_nemo() -> Iterator[None]:
    """Temporarily silence NeMo's INFO/WARNING logs and Hydra's spurious
    ``Error getting class at ...get_nemo_transformer`` message (levels restored on exit)."""
    import logging as _logging

    from nemo.utils import logging as nemo_logging

    hydra_log = _logging.getLogger("hydra.utils")
    old_level = hydra_log.level
    hydra_log.setLevel(_logging.CRITICAL)
    try:
        with nemo_logging.temp_verbosity(_logging.ERROR):
            yield
    finally:
        hydra_log.setLevel(old_level)


@contextlib.contextmanager
def _quiet_sentencepiece() -> Iterator[None]:
    """Silence SentencePiece's C++ trainer log (it writes ~100 lines to stderr).

    SentencePiece has no getter for its level, so it is put back to 0, the library default.
    """
    try:
        import sentencepiece

        set_level = getattr(sentencepiece, "set_min_log_level", None)
    except ImportError:  # pragma: no cover - sentencepiece is a NeMo dependency
        set_level = None
    if set_level is not None:
        set_level(2)
    try:
        yield
    finally:
        if set_level is not None:
            set_level(0)


@contextlib.contextmanager
def _work_dir(path: Path) -> Iterator[Path]:
    """A scratch folder next to ``path`` (never the system temp dir), removed afterwards."""
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".nemo_build_", dir=str(path.parent)))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _train_bpe(out_dir: Path, lines: list[str], vocab_size: int, *, lower_case: bool) -> Path:
    """Train a tiny SentencePiece BPE tokenizer into ``out_dir`` and return it."""
    from nemo.collections.common.tokenizers.sentencepiece_tokenizer import create_spt_model

    out_dir.mkdir(parents=True, exist_ok=True)
    text_file = out_dir / "corpus.txt"
    text_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with _quiet_sentencepiece():
        create_spt_model(
            str(text_file),
            vocab_size=vocab_size,
            sample_size=-1,
            do_lower_case=lower_case,
            tokenizer_type="bpe",
            output_dir=str(out_dir),
        )
    text_file.unlink()
    return out_dir


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch for reproducible weights without disturbing the caller's RNG state."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _preprocessor_cfg() -> dict[str, Any]:
    return {
        "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
        "sample_rate": SAMPLE_RATE,
        "normalize": "per_feature",
        "window_size": 0.025,
        "window_stride": 0.01,
        "window": "hann",
        "features": N_MELS,
        "n_fft": 512,
        "log": True,
        "frame_splicing": 1,
        "dither": 1e-05,
        "pad_to": 0,
        "pad_value": 0.0,
    }


def _encoder_cfg(d_model: int, n_layers: int, n_heads: int) -> dict[str, Any]:
    """FastConformer encoder (dw_striding x8), as in parakeet/canary checkpoints."""
    return {
        "_target_": "nemo.collections.asr.modules.ConformerEncoder",
        "feat_in": N_MELS,
        "feat_out": -1,
        "n_layers": n_layers,
        "d_model": d_model,
        "subsampling": "dw_striding",
        "subsampling_factor": 8,
        "subsampling_conv_channels": d_model,
        "causal_downsampling": False,
        "ff_expansion_factor": 4,
        "self_attention_model": "rel_pos",
        "n_heads": n_heads,
        "att_context_size": [-1, -1],
        "xscaling": True,
        "untie_biases": True,
        "pos_emb_max_len": 5000,
        "conv_kernel_size": 9,
        "conv_norm_type": "batch_norm",
        "conv_context_size": None,
        "dropout": 0.0,
        "dropout_pre_encoder": 0.0,
        "dropout_emb": 0.0,
        "dropout_att": 0.0,
    }


def _validation_ds_cfg() -> dict[str, Any]:
    # Transducer/CTC transcribe() reads cfg.validation_ds; without it, transcribing
    # file paths fails with "Key 'validation_ds' is not in struct".
    return {
        "manifest_filepath": None,
        "sample_rate": SAMPLE_RATE,
        "batch_size": 1,
        "shuffle": False,
        "num_workers": 0,
        "pin_memory": False,
        "use_start_end_token": False,
    }


def _spec_augment_cfg() -> dict[str, Any]:
    return {
        "_target_": "nemo.collections.asr.modules.SpectrogramAugmentation",
        "freq_masks": 0,
        "time_masks": 0,
        "freq_width": 27,
        "time_width": 0.05,
    }


def _tdt_cfg(
    tokenizer_dir: Path, *, d_model: int, n_layers: int, n_heads: int, pred_hidden: int
) -> dict[str, Any]:
    return {
        "sample_rate": SAMPLE_RATE,
        "model_defaults": {
            "enc_hidden": d_model,
            "pred_hidden": pred_hidden,
            "joint_hidden": pred_hidden,
            "tdt_durations": list(TDT_DURATIONS),
            "num_tdt_durations": len(TDT_DURATIONS),
        },
        "tokenizer": {"dir": str(tokenizer_dir), "type": "bpe"},
        "validation_ds": _validation_ds_cfg(),
        "preprocessor": _preprocessor_cfg(),
        "spec_augment": _spec_augment_cfg(),
        "encoder": _encoder_cfg(d_model, n_layers, n_heads),
        "decoder": {
            "_target_": "nemo.collections.asr.modules.RNNTDecoder",
            "normalization_mode": None,
            "random_state_sampling": False,
            "blank_as_pad": True,
            "prednet": {
                "pred_hidden": pred_hidden,
                "pred_rnn_layers": 1,
                "t_max": None,
                "dropout": 0.0,
            },
        },
        "joint": {
            "_target_": "nemo.collections.asr.modules.RNNTJoint",
            "log_softmax": None,
            "preserve_memory": False,
            "fuse_loss_wer": True,
            "fused_batch_size": 4,
            "num_extra_outputs": len(TDT_DURATIONS),
            "jointnet": {"joint_hidden": pred_hidden, "activation": "relu", "dropout": 0.0},
        },
        "decoding": {
            "strategy": "greedy_batch",
            "model_type": "tdt",
            "durations": list(TDT_DURATIONS),
            "greedy": {"max_symbols": 10},
        },
        "loss": {
            "loss_name": "tdt",
            "tdt_kwargs": {
                "fastemit_lambda": 0.0,
                "clamp": -1.0,
                "durations": list(TDT_DURATIONS),
                "sigma": 0.02,
                "omega": 0.1,
            },
        },
        "optim": None,
    }


def _save(model: Any, path: Path) -> Path:
    model.eval()
    model.save_to(str(path))
    return path


# --------------------------------------------------------------------------- builders


def _build_tdt(
    path: Path,
    seed: int,
    *,
    d_model: int,
    n_layers: int,
    n_heads: int,
    pred_hidden: int,
    vocab: int,
) -> Path:
    path = Path(path)
    import nemo.collections.asr as nemo_asr
    from omegaconf import OmegaConf

    with _quiet_nemo(), _work_dir(path) as work:
        tok = _train_bpe(work / "tokenizer", sum(_CORPUS.values(), []), vocab, lower_case=True)
        cfg = OmegaConf.create(
            _tdt_cfg(
                tok, d_model=d_model, n_layers=n_layers, n_heads=n_heads, pred_hidden=pred_hidden
            )
        )
        with _seeded(seed):
            model = nemo_asr.models.EncDecRNNTBPEModel(cfg=cfg)
        return _save(model, path)


def build_tdt_model(path: Path, *, seed: int = 0) -> Path:
    """Tiny parakeet-tdt-style ``EncDecRNNTBPEModel`` (TDT durations 0..4); ~1.5 MB ``.nemo``."""
    return _build_tdt(path, seed, d_model=64, n_layers=2, n_heads=4, pred_hidden=64, vocab=64)


def build_large_tdt_model(path: Path, *, seed: int = 0) -> Path:
    """parakeet-tdt-style model with ~116 M parameters (d_model 512, 17 layers), for benchmarks."""
    return _build_tdt(path, seed, d_model=512, n_layers=17, n_heads=8, pred_hidden=640, vocab=1024)


def build_parakeet_shaped_model(path: Path, *, seed: int = 0) -> Path:
    """parakeet-tdt-0.6b-v2-shaped model (~600 M parameters, ~2.4 GB .nemo), for benchmarks."""
    return _build_tdt(path, seed, d_model=1024, n_layers=24, n_heads=8, pred_hidden=640, vocab=1024)


def _build_ctc(path: Path, seed: int, *, lower_case: bool) -> Path:
    path = Path(path)
    import nemo.collections.asr as nemo_asr
    from omegaconf import OmegaConf

    d_model = 64
    with _quiet_nemo(), _work_dir(path) as work:
        tok = _train_bpe(work / "tokenizer", sum(_CORPUS.values(), []), 64, lower_case=lower_case)
        cfg = OmegaConf.create(
            {
                "sample_rate": SAMPLE_RATE,
                "tokenizer": {"dir": str(tok), "type": "bpe"},
                "validation_ds": _validation_ds_cfg(),
                "preprocessor": _preprocessor_cfg(),
                "spec_augment": _spec_augment_cfg(),
                "encoder": _encoder_cfg(d_model, 2, 4),
                "decoder": {
                    "_target_": "nemo.collections.asr.modules.ConvASRDecoder",
                    "feat_in": d_model,
                    "num_classes": -1,  # filled in from the tokenizer
                    "vocabulary": [],
                },
                "decoding": {"strategy": "greedy_batch"},
                "optim": None,
            }
        )
        with _seeded(seed):
            model = nemo_asr.models.EncDecCTCModelBPE(cfg=cfg)
        return _save(model, path)


def build_ctc_model(path: Path, *, seed: int = 0) -> Path:
    """Tiny FastConformer ``EncDecCTCModelBPE`` with a ``ConvASRDecoder``; ~1.4 MB ``.nemo``."""
    return _build_ctc(path, seed, lower_case=True)


def _canary_special_tokens() -> list[str]:
    """Special tokens of a canary2-format model (``DEFAULT_TOKENS`` are added by NeMo)."""
    tokens = [
        "<|startofcontext|>",
        "<|transcribe|>",
        "<|translate|>",
        "<|itn|>",
        "<|noitn|>",
        "<|timestamp|>",
        "<|notimestamp|>",
        "<|diarize|>",
        "<|nodiarize|>",
        "<|emo:undefined|>",
        "<|emo:neutral|>",
        "<|emo:happy|>",
        "<|emo:sad|>",
        "<|emo:angry|>",
    ]
    tokens += [f"<|{lang}|>" for lang in CANARY_LANGUAGES]
    tokens += [f"<|{i}|>" for i in range(_CANARY_TIMESTAMP_TOKENS)]
    return tokens


def _canary_cfg(langs: dict[str, Any], d_model: int) -> dict[str, Any]:
    return {
        "sample_rate": SAMPLE_RATE,
        "label_smoothing": 0.0,
        "context_len_for_AR_decoding": 5,
        "log_prediction": False,
        "prompt_format": "canary2",
        # Same defaults as NVIDIA's canary-*-flash / canary-1b-v2 configs.
        "prompt_defaults": [
            {
                "role": "user",
                "slots": {
                    "decodercontext": "",
                    "source_lang": "<|en|>",
                    "target_lang": "<|en|>",
                    "emotion": "<|emo:undefined|>",
                    "pnc": "<|pnc|>",
                    "itn": "<|noitn|>",
                    "diarize": "<|nodiarize|>",
                    "timestamp": "<|notimestamp|>",
                },
            },
            {"role": "user_partial", "slots": {"decodercontext": ""}},
        ],
        # Built with False so that __init__ does not pick up a timestamps model from a
        # stale AppState (NeMo global state left by an earlier restore); removed before saving.
        "restore_timestamps_model": False,
        "model_defaults": {
            "asr_enc_hidden": d_model,
            "lm_enc_hidden": d_model,
            "lm_dec_hidden": d_model,
        },
        # Deliberately NO validation_ds: Canary checkpoints ship without one.
        "tokenizer": {
            "dir": None,
            "type": "agg",
            "langs": langs,
            "custom_tokenizer": {
                "_target_": "nemo.collections.common.tokenizers.canary_tokenizer.CanaryTokenizer",
                "tokenizer": None,
            },
        },
        "preprocessor": _preprocessor_cfg(),
        "spec_augment": _spec_augment_cfg(),
        "encoder": _encoder_cfg(d_model, 2, 4),
        "transf_encoder": {
            "_target_": (
                "nemo.collections.asr.modules.transformer.transformer_encoders.TransformerEncoder"
            ),
            "num_layers": 0,
            "hidden_size": d_model,
            "inner_size": 4 * d_model,
            "num_attention_heads": 4,
            "ffn_dropout": 0.0,
            "attn_score_dropout": 0.0,
            "attn_layer_dropout": 0.0,
            "mask_future": False,
            "pre_ln": True,
            "pre_ln_final_layer_norm": True,
        },
        "transf_decoder": {
            "_target_": "nemo.collections.asr.modules.transformer.get_nemo_transformer",
            "model_name": None,
            "pretrained": False,
            "encoder": None,
            "pre_ln_final_layer_norm": True,
            "config_dict": {
                "max_sequence_length": _CANARY_MAX_SEQUENCE_LENGTH,
                "num_token_types": 0,
                "embedding_dropout": 0.0,
                "learn_positional_encodings": False,
                "hidden_size": d_model,
                "inner_size": 4 * d_model,
                "num_layers": 2,
                "num_attention_heads": 4,
                "ffn_dropout": 0.0,
                "attn_score_dropout": 0.0,
                "attn_layer_dropout": 0.0,
                "hidden_act": "relu",
                "pre_ln": True,
                "vocab_size": None,
            },
        },
        "head": {
            "_target_": "nemo.collections.asr.parts.submodules.token_classifier.TokenClassifier",
            "num_layers": 1,
            "activation": "relu",
            "log_softmax": True,
            "hidden_size": d_model,
            "num_classes": None,
            "dropout": 0.0,
            "use_transformer_init": True,
        },
        "decoding": {
            "strategy": "beam",
            "return_best_hypothesis": True,
            "beam": {
                "beam_size": 1,
                "len_pen": 0.0,
                "max_generation_delta": _CANARY_MAX_GENERATION_DELTA,
            },
        },
        "loss": {
            "_target_": (
                "nemo.collections.common.losses.smoothed_cross_entropy.SmoothedCrossEntropyLoss"
            ),
            "label_smoothing": 0.0,
            "pad_id": None,
        },
        "optim": None,
    }


def _silence_special_outputs(model: Any, allowed: list[int]) -> None:
    """Make the random decoder emit ordinary text pieces instead of prompt/timestamp tokens.

    With random weights the greedy decoder tends to repeat one special token (most of
    the vocabulary is ``<|N|>`` timestamp tokens), giving transcripts such as
    ``<|77|><|77|>...`` (or an empty text once timestamp parsing strips them).  A large
    negative bias on the special (and vocabulary-padding) classes of the output head
    keeps transcripts plain noise text; ``allowed`` ids (EOS) keep their bias.
    """
    import torch

    tok = model.tokenizer
    layer = model.log_softmax.mlp.layer0
    special = set(tok.special_tokens.values()) - set(allowed)
    padding = set(range(tok.vocab_size, layer.out_features))
    with torch.no_grad():
        for idx in sorted(special | padding):
            layer.bias[idx] = -1.0e4


def _embed_timestamps_model(canary_nemo: Path, ctc_nemo: Path, out_path: Path, work: Path) -> None:
    """Pack a CTC model into a Canary ``.nemo`` as ``timestamps_asr_model_*`` (canary-1b-v2)."""
    from nemo.core.connectors.save_restore_connector import SaveRestoreConnector

    folder = work / "packed"
    ctc_folder = work / "ctc_unpacked"
    folder.mkdir()
    ctc_folder.mkdir()
    SaveRestoreConnector._unpack_nemo_file(str(canary_nemo), str(folder))
    SaveRestoreConnector._unpack_nemo_file(str(ctc_nemo), str(ctc_folder))
    for item in ctc_folder.iterdir():
        if item.name == "model_config.yaml":
            target = folder / "timestamps_asr_model_config.yaml"
        elif item.name == "model_weights.ckpt":
            target = folder / "timestamps_asr_model_weights.ckpt"
        else:  # tokenizer artefacts, already uniquely named (<uuid>_tokenizer.model ...)
            target = folder / item.name
        shutil.move(str(item), str(target))
    if out_path.exists():
        out_path.unlink()
    SaveRestoreConnector._make_nemo_file_from_folder(str(out_path), str(folder))


def build_canary_model(path: Path, *, seed: int = 0, timestamps_model: bool = True) -> Path:
    """Tiny Canary ``EncDecMultiTaskModel`` (``canary2`` prompt, en/de/es/fr), no ``validation_ds``.

    ``timestamps_model=True`` (default) mirrors canary-1b-v2: a tiny CTC model is
    packed inside the ``.nemo`` (``timestamps_asr_model_config.yaml`` /
    ``timestamps_asr_model_weights.ckpt``) and ``transcribe(timestamps=True)`` gets
    word/segment timestamps by forced alignment with it, so they are non-empty.
    ``timestamps_model=False`` mirrors canary-1b-flash: timestamps are predicted as
    ``<|N|>`` tokens, which a random model never produces, so with timestamps=True the
    ``word``/``segment``/``char`` lists come back empty (the text is kept).
    """
    path = Path(path)
    import nemo.collections.asr as nemo_asr
    from nemo.collections.common.tokenizers.canary_tokenizer import CanaryTokenizer
    from omegaconf import OmegaConf, open_dict

    d_model = 64
    with _quiet_nemo(), _work_dir(path) as work:
        spl_dir = work / "spl_tokens"
        with _quiet_sentencepiece():
            CanaryTokenizer.build_special_tokenizer(
                _canary_special_tokens(), spl_dir, force_rebuild=False
            )
        (spl_dir / "train_text.txt").unlink(missing_ok=True)
        langs: dict[str, Any] = {"spl_tokens": {"dir": str(spl_dir), "type": "bpe"}}
        for lang in CANARY_LANGUAGES:
            tok = _train_bpe(work / f"tok_{lang}", _CORPUS[lang], 48, lower_case=False)
            langs[lang] = {"dir": str(tok), "type": "bpe"}

        with _seeded(seed):
            cfg = OmegaConf.create(_canary_cfg(langs, d_model))
            model = nemo_asr.models.EncDecMultiTaskModel(cfg=cfg)
        _silence_special_outputs(model, allowed=[model.tokenizer.eos_id])
        with open_dict(model.cfg):
            model.cfg.pop("restore_timestamps_model", None)
        if not timestamps_model:
            return _save(model, path)

        main_nemo = _save(model, work / "main.nemo")
        ctc_nemo = _build_ctc(work / "timestamps_ctc.nemo", seed + 1, lower_case=False)
        _embed_timestamps_model(main_nemo, ctc_nemo, path, work)
        return path


def build_canary_flash_model(path: Path, *, seed: int = 0) -> Path:
    """canary-1b-flash-style variant of :func:`build_canary_model` (no timestamps model)."""
    return build_canary_model(path, seed=seed, timestamps_model=False)


_BUILDERS: dict[str, Callable[..., Path]] = {
    "tdt": build_tdt_model,
    "ctc": build_ctc_model,
    "canary": build_canary_model,
    "large_tdt": build_large_tdt_model,
    "parakeet_shaped": build_parakeet_shaped_model,
    "canary_flash": build_canary_flash_model,
}
MODEL_KINDS = tuple(_BUILDERS)


def build_model(kind: str, path: Path, *, seed: int = 0) -> Path:
    """Build the model of ``kind`` (one of ``MODEL_KINDS``) at ``path`` and return ``path``."""
    try:
        builder = _BUILDERS[kind]
    except KeyError:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}") from None
    return builder(Path(path), seed=seed)
