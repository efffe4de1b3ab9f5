"""The GE2E speaker encoder's forward pass in numpy, with resemblyzer's weights (CPU).

The same maths as resemblyzer's ``VoiceEncoder.forward`` (Apache-2.0, Copyright
2019 Resemble.AI): a 3-layer LSTM (40 -> 256, batch first, PyTorch's gate order
i, f, g, o) over 10 ms mel frames; the last layer's final hidden state through
Linear 256 -> 256, ReLU and L2 normalisation. The weights are resemblyzer's
``pretrained.pt`` converted to ``data/ge2e_resemblyzer.npz``
(``scripts/convert_ge2e_weights.py``; licence in ``data/NOTICE-resemblyzer``),
so speaker embeddings need neither torch nor a compiler.

Fast in numpy because each layer's input projection is one matmul over many
frames of every window at once; only the recurrence loops, over time steps.
numpy's float32 ``tanh`` costs 3-4 times its ``exp`` (measured on an AVX2
CPU), so every gate is one ``exp`` and one reciprocal: sigmoid(x) = 1 / (1 + exp(-x))
and tanh(x) = 2 sigmoid(2x) - 1, with the -1 and -2 factors put into the
weights once at load (exact in floating point).

The windows are shared out, a batch at a time, among worker threads (one per
core, up to :data:`MAX_WORKERS`), each running numpy's BLAS on one thread: a
step's small matmul split over threads stalls whenever another process holds
a core (10x slower under load), and the element-wise work gets the cores too.
threadpoolctl (declared by the speakers extra) sets BLAS to one thread while the
workers run, one run at a time in a process; without it, one thread runs
everything with BLAS as it is (workers on top of BLAS's threads would fight
over the cores).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from stt_studio.errors import EngineMissingError

log = logging.getLogger(__name__)

Floats = npt.NDArray[np.float32]

MEL_BANDS = 40
HIDDEN = 256
EMBEDDING_SIZE = 256
LAYERS = 3
#: windows one worker runs through the LSTM together (32: 35 MB less peak memory than 64,
#: 14 % more encoder time; bench/speaker_count.py)
BATCH = 32
#: a worker gets at least this many windows (fewer: the threads cost more than they give)
MIN_BATCH = 8
MAX_WORKERS = 8
#: each layer's input projection is computed for this many time steps of a batch at once
#: (one matmul of steps x windows rows; 40 steps x 64 windows: 10 MB)
PROJECTION_STEPS = 40
#: PyTorch's gate order in an LSTM's rows: input, forget, cell candidate, output
_I, _F, _G, _O = (slice(k * HIDDEN, (k + 1) * HIDDEN) for k in range(4))
DATA_DIR = Path(__file__).resolve().parent / "data"
#: resemblyzer 0.1.4's pretrained.pt as float32 arrays under its state-dict names
WEIGHTS_PATH = DATA_DIR / "ge2e_resemblyzer.npz"
NOTICE_PATH = DATA_DIR / "NOTICE-resemblyzer"

_REINSTALL = ('Reinstall stt-studio (`pip install --force-reinstall "stt-studio[speakers]"`); '
              "the weights ship inside the package")


@dataclass(frozen=True, slots=True, eq=False)
class LstmLayer:
    """One LSTM layer, laid out for :func:`_run_layer`: the two biases summed, the
    rows of the sigmoid gates (i, f, o) negated and those of the tanh gate (g)
    times -2, so that ``1 / (1 + exp(row))`` is each gate's value (or, for g,
    half of tanh plus a half)."""

    input_t: Floats  # (inputs, 4 * HIDDEN): W_ih transposed, gates i, f, g, o
    hidden_t: Floats  # (HIDDEN, 4 * HIDDEN): W_hh transposed
    bias: Floats  # (4 * HIDDEN,): b_ih + b_hh

    @classmethod
    def from_torch(cls, weight_ih: Floats, weight_hh: Floats, bias_ih: Floats,
                   bias_hh: Floats) -> LstmLayer:
        """From PyTorch's ``nn.LSTM`` tensors of one layer (rows in gate order i, f, g, o)."""
        scale = np.full((4 * HIDDEN, 1), -1.0, dtype=np.float32)
        scale[_G] = -2.0

        def laid_out(rows: Floats) -> Floats:
            return np.asarray(rows.astype(np.float32) * scale, dtype=np.float32)

        bias = (bias_ih.astype(np.float32) + bias_hh.astype(np.float32))[:, None]
        return cls(input_t=np.ascontiguousarray(laid_out(weight_ih).T),
                   hidden_t=np.ascontiguousarray(laid_out(weight_hh).T),
                   bias=np.ascontiguousarray(laid_out(bias)[:, 0]))


@dataclass(frozen=True, slots=True, eq=False)
class Encoder:
    """Mel windows -> unit-length 256-d voice embeddings (resemblyzer's GE2E)."""

    layers: tuple[LstmLayer, ...]
    linear_t: Floats  # (HIDDEN, EMBEDDING_SIZE): the Linear layer's weight transposed
    linear_bias: Floats  # (EMBEDDING_SIZE,)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[np.generic]]) -> Encoder:
        """From resemblyzer's state-dict names (``lstm.weight_ih_l0`` ... ``linear.bias``)."""

        def get(key: str, shape: tuple[int, ...]) -> Floats:
            value = np.asarray(arrays[key], dtype=np.float32)
            if value.shape != shape:
                raise ValueError(f"{key} has shape {value.shape}, not {shape}")
            return value

        gates = 4 * HIDDEN
        layers = tuple(LstmLayer.from_torch(
            get(f"lstm.weight_ih_l{n}", (gates, MEL_BANDS if n == 0 else HIDDEN)),
            get(f"lstm.weight_hh_l{n}", (gates, HIDDEN)),
            get(f"lstm.bias_ih_l{n}", (gates,)), get(f"lstm.bias_hh_l{n}", (gates,)))
            for n in range(LAYERS))
        return cls(layers=layers,
                   linear_t=np.ascontiguousarray(get("linear.weight", (EMBEDDING_SIZE, HIDDEN)).T),
                   linear_bias=get("linear.bias", (EMBEDDING_SIZE,)))

    @classmethod
    def from_file(cls, path: Path) -> Encoder:
        """The encoder in a ``.npz`` written by ``scripts/convert_ge2e_weights.py``."""
        if not path.is_file():
            raise EngineMissingError(
                "the voice encoder's weights, needed for speaker diarization, are missing",
                causes=("The stt-studio installation is incomplete (its package data was "
                        "not installed or was deleted)",),
                remedies=(_REINSTALL,), paths=(path,))
        try:
            with np.load(path, allow_pickle=False) as arrays:
                return cls.from_arrays(arrays)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise EngineMissingError(
                "the voice encoder's weights, needed for speaker diarization, cannot be read",
                detail=f"{type(exc).__name__}: {exc}",
                causes=("The weights file is damaged or was replaced",),
                remedies=(_REINSTALL,), paths=(path,)) from exc

    def embed(self, mels: Floats, *, workers: int | None = None) -> Floats:
        """``(windows, frames, MEL_BANDS)`` mel spectrograms -> ``(windows, 256)`` unit vectors.

        As ``VoiceEncoder.forward``: a window whose embedding is all zero after the
        ReLU comes out as NaN, as it does there (0 / 0). ``workers``: threads
        (default: one per core, up to MAX_WORKERS); a window's embedding does not
        depend on them nor on the other windows.
        """
        if mels.ndim != 3 or mels.shape[2] != MEL_BANDS:
            raise ValueError(f"mels must be (windows, frames, {MEL_BANDS}), not {mels.shape}")
        count = mels.shape[0]
        if count == 0:
            return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
        threads = min(workers or _cores(), MAX_WORKERS, math.ceil(count / MIN_BATCH))
        size = min(BATCH, math.ceil(count / max(threads, 1)))
        batches = [mels[at:at + size] for at in range(0, count, size)]
        if threads > 1:
            with _RUN_LOCK, _blas_on_one_thread() as limited:
                if limited:
                    with ThreadPoolExecutor(threads, thread_name_prefix="ge2e") as pool:
                        return np.concatenate(list(pool.map(self._embed_batch, batches)))
        return np.concatenate([self._embed_batch(b) for b in batches])

    def _embed_batch(self, mels: Floats) -> Floats:
        # time-major: each step's slice of the projections is one contiguous block
        steps = np.ascontiguousarray(np.asarray(mels, dtype=np.float32).transpose(1, 0, 2))
        with np.errstate(over="ignore"):
            for layer in self.layers[:-1]:
                steps = _run_layer(layer, steps, keep_steps=True)
            hidden = _run_layer(self.layers[-1], steps, keep_steps=False)[-1]
        raw = np.maximum(hidden @ self.linear_t + self.linear_bias, np.float32(0.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(raw / np.linalg.norm(raw, axis=1, keepdims=True), dtype=np.float32)


def _run_layer(layer: LstmLayer, inputs: Floats, *, keep_steps: bool) -> Floats:
    """``(steps, batch, inputs)`` -> every step's hidden state ``(steps, batch, HIDDEN)``,
    or only the last one ``(1, batch, HIDDEN)`` (``keep_steps=False``)."""
    count, batch, width = inputs.shape
    out = np.empty((count if keep_steps else 2, batch, HIDDEN), dtype=np.float32)
    cell = np.zeros((batch, HIDDEN), dtype=np.float32)
    spare = np.empty_like(cell)
    previous = np.zeros((batch, HIDDEN), dtype=np.float32)
    recurrent = np.empty((batch, 4 * HIDDEN), dtype=np.float32)
    chunk = min(PROJECTION_STEPS, count)
    projected = np.empty((chunk, batch, 4 * HIDDEN), dtype=np.float32)
    for first in range(0, count, chunk):
        steps = min(chunk, count - first)
        np.matmul(inputs[first:first + steps].reshape(steps * batch, width), layer.input_t,
                  out=projected[:steps].reshape(steps * batch, 4 * HIDDEN))
        projected[:steps] += layer.bias
        for offset in range(steps):
            gates = projected[offset]
            np.matmul(previous, layer.hidden_t, out=recurrent)
            gates += recurrent
            np.exp(gates, out=gates)  # inf for a gate far into 0 (or -1): 1 / inf is right
            gates += np.float32(1.0)
            np.reciprocal(gates, out=gates)  # i, f, o; and g = 2 * this - 1
            candidate = gates[:, _G]
            candidate *= np.float32(2.0)
            candidate -= np.float32(1.0)
            cell *= gates[:, _F]
            np.multiply(gates[:, _I], candidate, out=spare)
            cell += spare
            step = first + offset
            hidden = out[step if keep_steps else step % 2]
            np.tanh(cell, out=hidden)
            hidden *= gates[:, _O]
            previous = hidden
    return out if keep_steps else previous[None]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


#: one encoder run at a time in a process: each takes every core (and BLAS's setting)
_RUN_LOCK = threading.Lock()


@contextlib.contextmanager
def _blas_on_one_thread() -> Iterator[bool]:
    """numpy's BLAS on one thread inside; yields False (nothing changed) without threadpoolctl.

    Set and restored by the same thread, in a ``with``: threadpoolctl lets only
    the thread that holds OpenBLAS's setting change it, and it holds it only
    inside its ``with``.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        log.debug("threadpoolctl missing: the GE2E encoder runs on one thread")
        yield False
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield True


_LOCK = threading.Lock()
_ENCODER: Encoder | None = None


def encoder() -> Encoder:
    """The process's encoder, loaded from :data:`WEIGHTS_PATH` on first use (thread-safe)."""
    global _ENCODER
    with _LOCK:
        if _ENCODER is None:
            started = time.perf_counter()
            _ENCODER = Encoder.from_file(WEIGHTS_PATH)
            log.info("voice encoder (resemblyzer's GE2E, numpy) loaded in %.2f s",
                     time.perf_counter() - started)
        return _ENCODER
