"""NVIDIA NeMo ASR models (Parakeet TDT/CTC/RNNT, Canary). The only module importing NeMo.

Models are always restored from a folder the studio extracted once into its
cache (``SaveRestoreConnector.model_extracted_dir``), so no load unpacks the
``.nemo`` into a temp dir. The temp dirs NeMo still opens (one per
``transcribe()`` call, empty for numpy input) get a cleanup that retries and
then leaves the folder, so a locked leftover never throws away a built model
or a finished transcript.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from stt_studio import progress as job_progress
from stt_studio.domain import (
    SAMPLE_RATE_HZ,
    Audio,
    ComputeType,
    ModelSpec,
    Segment,
    Task,
    TranscriptionOptions,
    Word,
)
from stt_studio.engines import device as placing
from stt_studio.engines.base import EngineOutput, ModelInfo
from stt_studio.engines.device import Placement
from stt_studio.errors import InvalidOptionError, UnexpectedError
from stt_studio.fsops import RobustTemporaryDirectory
from stt_studio.retry import Retrier

log = logging.getLogger(__name__)

#: what NeMo offers (``--compute-type``), in words for the error that names the rest
COMPUTE_RULE = ("NeMo models compute in float32, or in float16 on a CUDA GPU (torch's "
                "autocast); int8 and int8_float16 are CTranslate2's, for Whisper models")
MAX_WINDOW_S = 480.0  # NVIDIA's demos switch to local attention above ~8 min
#: left and right attention context (frames of 80 ms) in local-attention mode, as NVIDIA's demo
LOCAL_CONTEXT = (256, 256)
# NeMo modules whose ``with tempfile.TemporaryDirectory()`` blocks guard real work
_TEMPDIR_MODULES = (
    "nemo.core.connectors.save_restore_connector",
    "nemo.collections.asr.parts.mixins.transcription",
)
_NOISY_LOGGERS = ("nv_one_logger", "hydra.utils", "lhotse", "pytorch_lightning", "lightning")
#: ``restore_from`` changes the working directory and uses global state: one at a time
_RESTORE_LOCK = threading.Lock()


def quiet_nemo() -> None:
    """NeMo logs INFO lines to stdout; keep stdout for transcripts."""
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    # "Error getting class ... get_nemo_transformer" on every Canary load is harmless
    logging.getLogger("hydra.utils").setLevel(logging.CRITICAL)
    # not nemo.utils.logging.setLevel(): that also re-levels every handler it can see
    logging.getLogger("nemo_logger").setLevel(logging.ERROR)


@contextlib.contextmanager
def _home(folder: Path) -> Iterator[None]:
    """Point the home folder elsewhere for the duration of an import.

    lhotse (imported by NeMo) creates ``~/.lhotse/tools`` unconditionally at
    import time; this keeps the user's home untouched.
    """
    saved = {k: os.environ.get(k) for k in ("HOME", "USERPROFILE")}
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["HOME"] = os.environ["USERPROFILE"] = str(folder)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _import_asr(home: Path) -> ModuleType:
    quiet_nemo()
    if "nemo.collections.asr" not in sys.modules:
        with _home(home), contextlib.redirect_stdout(sys.stderr):
            importlib.import_module("nemo.collections.asr")
    quiet_nemo()
    return sys.modules["nemo.collections.asr"]


class _HardenedTempfile:
    """Stands in for the ``tempfile`` module inside NeMo's modules."""

    def __init__(self, retrier: Retrier) -> None:
        import tempfile

        self._real = tempfile
        self.TemporaryDirectory = partial(RobustTemporaryDirectory, retrier=retrier)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def harden_tempdirs(retrier: Retrier) -> None:
    hardened = _HardenedTempfile(retrier)
    for name in _TEMPDIR_MODULES:
        module = importlib.import_module(name)
        module.tempfile = hardened  # type: ignore[attr-defined]


_INIT_FUNCTIONS = (
    "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_", "ones_", "eye_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
)


@contextlib.contextmanager
def _skip_random_init() -> Iterator[None]:
    """Build modules without drawing random weights the checkpoint overwrites anyway.

    The same trick as transformers' ``no_init_weights``. Safe because NeMo's
    restore loads the state dict with ``strict=True``: every parameter and
    persistent buffer is replaced, or the load fails.
    """
    import torch.nn.init as init

    saved = {name: getattr(init, name) for name in _INIT_FUNCTIONS if hasattr(init, name)}
    for name in saved:
        setattr(init, name, lambda tensor, *args, **kwargs: tensor)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(init, name, function)


def _load_weights(model_weights: str, map_location: Any, retrier: Retrier) -> Any:
    """``torch.load`` of the checkpoint, retried on its own when the file is locked."""
    import torch

    def load() -> Any:
        try:  # memory-map the weights instead of reading a copy into RAM first
            return torch.load(model_weights, map_location=map_location, mmap=True)
        except RuntimeError:  # a legacy (non-zip) checkpoint cannot be mapped
            return torch.load(model_weights, map_location=map_location)

    return retrier.run(load, f"read {model_weights}")


def _wait_until_readable(model_dir: Path, retrier: Retrier) -> None:
    """Open every member once, retrying each lock on its own, before NeMo reads them.

    NeMo opens the config, tokenizer and vocabulary files deep inside model
    construction, where a lock could only be retried by rebuilding the whole
    model; a scanner that holds a fresh file is waited out here instead.
    """
    for member in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        retrier.run(lambda: open(member, "rb").close(), f"read {member}")  # noqa: B023


def _connector(model_dir: Path, retrier: Retrier) -> Any:
    """A SaveRestoreConnector that reads the extracted folder as fast as it can."""
    from nemo.core.connectors.save_restore_connector import SaveRestoreConnector

    class CachedFolderConnector(SaveRestoreConnector):  # type: ignore[misc]
        def load_config_and_state_dict(self, *args: Any, **kwargs: Any) -> Any:
            with _skip_random_init():
                return super().load_config_and_state_dict(*args, **kwargs)

        @staticmethod
        def _load_state_dict_from_disk(model_weights: str, map_location: Any = "cpu") -> Any:
            return _load_weights(model_weights, map_location, retrier)

    connector = CachedFolderConnector()
    connector.model_extracted_dir = str(model_dir)
    return connector


def create_engine(retrier: Retrier, scratch_home: Path) -> NemoEngine:
    return NemoEngine(retrier, scratch_home)


@dataclass(slots=True)
class NemoEngine:
    retrier: Retrier
    scratch_home: Path  # stands in for ~ while NeMo's dependencies import

    def place(self, requested: str, compute_type: ComputeType) -> Placement:
        """``auto``: CUDA once torch ran a product there (:mod:`.device`), else the CPU."""
        note = None
        if requested != "cpu":
            view = placing.torch_view()
            if view.works:
                return Placement("cuda", placing.choose_compute_type(
                    compute_type, engine="NeMo", device="cuda", supported=("float32", "float16"),
                    preferred=("float32",), rule=COMPUTE_RULE))
            if requested == "cuda":
                raise placing.cuda_unusable("NeMo", view, placing.TORCH_GPU_HOW)
            note = (placing.fallback_note(view, "NeMo", placing.TORCH_GPU_HOW)
                    or placing.cpu_build_note())
        return Placement("cpu", placing.choose_compute_type(
            compute_type, engine="NeMo", device="cpu", supported=("float32",),
            preferred=("float32",), rule=COMPUTE_RULE, why_cpu=note), note)

    def load(self, spec: ModelSpec, model_dir: Path, placement: Placement) -> NemoModel:
        asr = _import_asr(self.scratch_home)
        harden_tempdirs(self.retrier)
        import torch

        device = placement.device
        log.info("loading NeMo model %s from %s on %s (%s)", spec.name, model_dir, device,
                 placement.compute_type)
        _wait_until_readable(model_dir, self.retrier)
        try:
            with _RESTORE_LOCK, contextlib.redirect_stdout(sys.stderr):
                model = asr.models.ASRModel.restore_from(
                    str(model_dir), save_restore_connector=_connector(model_dir, self.retrier),
                    map_location=torch.device(device), strict=True,
                )
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - NeMo/Hydra raise many foreign types
            raise UnexpectedError(
                f"NeMo could not build the model {spec.name}",
                causes=("The model needs a newer NeMo than 3.0.0",
                        "The .nemo file is damaged or not an ASR model"),
                remedies=("Check the model card for the NeMo version it needs",
                          "Delete it from the cache (`stt-studio models rm NAME`) and pull again"),
                paths=(model_dir,),
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc
        model.eval()
        quiet_nemo()
        return NemoModel(spec=spec, device=device, info=_model_info(model, spec), model=model,
                         compute_type=placement.compute_type)


def _is_multitask(model: Any) -> bool:
    from nemo.collections.asr.models import EncDecMultiTaskModel

    return isinstance(model, EncDecMultiTaskModel)


def _model_info(model: Any, spec: ModelSpec) -> ModelInfo:
    if _is_multitask(model):
        langs = tuple(lang for lang in getattr(model.tokenizer, "langs", []) if lang != "spl_tokens")
        # canary2-format models align words with an embedded CTC model; without
        # one (or with the old "canary" prompt format) they return no timestamps
        timestamps = (getattr(model, "prompt_format", "") != "canary"
                      and getattr(model, "timestamps_asr_model", None) is not None)
        return ModelInfo(langs or spec.languages, translates=True, timestamps=timestamps,
                         max_window_s=MAX_WINDOW_S, local_attention=_has_local_attention(model))
    return ModelInfo(spec.languages, translates=False, timestamps=True, max_window_s=MAX_WINDOW_S,
                     local_attention=_has_local_attention(model))


def _has_local_attention(model: Any) -> bool:
    """A Conformer-family encoder with relative positions can switch to local attention."""
    encoder = getattr(model, "encoder", None)
    return (hasattr(encoder, "change_attention_model")
            and getattr(encoder, "self_attention_model", None) in ("rel_pos", "rel_pos_local_attn"))


@dataclass(slots=True)
class NemoModel:
    spec: ModelSpec
    device: str
    info: ModelInfo
    model: Any = field(repr=False)
    compute_type: str = "float32"  # float16: under torch's autocast, on a GPU only
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def sample_rate_hz(self) -> int:
        return int(self.model.cfg.preprocessor.sample_rate)

    def transcribe(self, audio: Audio, options: TranscriptionOptions) -> EngineOutput:
        return self.transcribe_batch([audio], options)[0]

    def transcribe_batch(self, pieces: Sequence[Audio], options: TranscriptionOptions, *,
                         local_attention: bool = False) -> list[EngineOutput]:
        """All ``pieces`` in one ``model.transcribe`` call, ``options.batch_size`` at a time."""
        if self.model is None:  # the manager's leases make this a bug, not a race
            raise UnexpectedError(f"{self.spec.name} was used after it was unloaded")
        job_progress.check_cancelled()
        kwargs, language = self._prompt(options)
        arrays = [_resample(p.samples, p.sample_rate_hz, self.sample_rate_hz) for p in pieces]
        # shortest first: each batch pads to its longest member, so like goes with like
        heard = sorted((i for i, a in enumerate(arrays) if a.size), key=lambda i: len(arrays[i]))
        outputs = [EngineOutput((), language) for _ in pieces]
        if not heard:
            return outputs
        # timestamps: the same value on every call of a model, so NeMo's sticky
        # decoding state (a True that later False calls cannot undo) never matters
        with self._lock, contextlib.redirect_stdout(sys.stderr), self._precision(), \
                self._attention(local_attention and self.info.local_attention):
            hyps = self.model.transcribe(
                [arrays[i] for i in heard], batch_size=max(1, options.batch_size),
                verbose=False, timestamps=self.info.timestamps, **kwargs,
            )
        if isinstance(hyps, tuple):  # some versions return (best, all)
            hyps = hyps[0]
        for i, hyp in zip(heard, hyps):
            if isinstance(hyp, list):
                hyp = hyp[0]
            # words even when not asked for: pieces are merged on them (the
            # service drops them afterwards), else a seam's words come twice
            segments = _segments(hyp, len(arrays[i]) / self.sample_rate_hz)
            outputs[i] = EngineOutput(segments, language,
                                      has_timestamps=any(s.words for s in segments)
                                      or len(segments) > 1)
        job_progress.advance(1.0)
        return outputs

    def _precision(self) -> contextlib.AbstractContextManager[Any]:
        """float16: torch's autocast on the GPU (NeMo's own scripts' ``amp``); else as loaded."""
        if self.compute_type != ComputeType.FLOAT16.value:
            return contextlib.nullcontext()
        import torch

        return torch.autocast("cuda", dtype=torch.float16)

    @contextlib.contextmanager
    def _attention(self, local: bool) -> Iterator[None]:
        """NeMo's long-form mode for one call: local attention, then back as it was."""
        if not local:
            yield
            return
        encoder = self.model.encoder
        before = (encoder.self_attention_model, list(encoder.att_context_size))
        chunking = getattr(encoder.pre_encode, "subsampling_conv_chunking_factor", 1)
        log.info("%s: local attention %s for long audio", self.spec.name, LOCAL_CONTEXT)
        self.model.change_attention_model("rel_pos_local_attn", list(LOCAL_CONTEXT))
        self.model.change_subsampling_conv_chunking_factor(1)
        try:
            yield
        finally:
            self.model.change_attention_model(before[0], before[1])
            self.model.change_subsampling_conv_chunking_factor(chunking)

    def _prompt(self, options: TranscriptionOptions) -> tuple[dict[str, Any], str | None]:
        langs = self.info.languages
        if not self.info.translates:
            if options.task is Task.TRANSLATE:
                raise InvalidOptionError(
                    f"{self.spec.name} transcribes only; it cannot translate",
                    remedies=("Use a Canary model (e.g. nvidia/canary-180m-flash) to translate",),
                )
            if options.language and langs and options.language not in langs:
                raise InvalidOptionError(
                    f"{self.spec.name} does not support the language {options.language!r}",
                    remedies=(f"Use one of: {', '.join(langs)}",),
                )
            return {}, options.language or (langs[0] if len(langs) == 1 else None)
        source = options.language or "en"
        if options.task is Task.TRANSLATE:
            target = options.target_language or ("en" if source != "en" else None)
            if target is None or target == source:
                raise InvalidOptionError(
                    "translation needs a target language different from the spoken one",
                    remedies=(f"Pass --target-language, one of: {', '.join(langs)}",
                              f"Or name the spoken language (taken as {source!r}; Canary does "
                              "not detect it): --language, or the API's `language` field"),
                )
        else:
            target = source
        for code in (source, target):
            if langs and code not in langs:
                raise InvalidOptionError(
                    f"{self.spec.name} does not support the language {code!r}",
                    remedies=(f"Use one of: {', '.join(langs)}",),
                )
        task = "ast" if options.task is Task.TRANSLATE else "asr"
        return {"source_lang": source, "target_lang": target, "pnc": "yes", "task": task}, target

    def close(self) -> None:
        with self._lock:
            self.model = None


def _resample(samples: np.ndarray, rate_hz: int, target_hz: int) -> np.ndarray:
    if rate_hz == target_hz:
        return np.ascontiguousarray(samples, dtype=np.float32)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate_hz, target_hz)
    return np.asarray(resample_poly(samples, target_hz // g, rate_hz // g), dtype=np.float32)


def _num(value: Any) -> float:
    """NeMo returns numpy scalars from CTC models; make plain floats."""
    return float(value.item() if hasattr(value, "item") else value)


def _segments(hyp: Any, duration_s: float) -> tuple[Segment, ...]:
    text = (getattr(hyp, "text", "") or "").strip()
    stamps = hyp.timestamp if isinstance(getattr(hyp, "timestamp", None), dict) else {}
    words = [
        Word(_num(w["start"]), _num(w["end"]), str(w["word"]).strip())
        for w in stamps.get("word", []) or []
        if str(w.get("word", "")).strip()
    ]
    raw_segments = [s for s in stamps.get("segment", []) or [] if str(s.get("segment", "")).strip()]
    if raw_segments:
        out = []
        pending = list(words)
        for i, seg in enumerate(raw_segments):
            start, end = _num(seg["start"]), _num(seg["end"])
            last = i == len(raw_segments) - 1
            mine = [w for w in pending if last or w.start_s < end]
            pending = pending[len(mine):]
            out.append(Segment(start, end, str(seg["segment"]).strip(), tuple(mine)))
        return tuple(out)
    if words:
        return (Segment(words[0].start_s, words[-1].end_s, text or " ".join(w.text for w in words),
                        tuple(words)),)
    if text:
        return (Segment(0.0, duration_s, text),)
    return ()


__all__ = ["NemoEngine", "NemoModel", "create_engine", "harden_tempdirs", "quiet_nemo",
           "SAMPLE_RATE_HZ"]
