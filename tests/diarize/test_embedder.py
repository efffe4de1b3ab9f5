"""The voice embedder without torch: its mel is resemblyzer's, its embeddings the old path's.

References: data/ge2e_reference.npz, made once by resemblyzer, librosa and the
studio's old torch embedder on real speech (scripts/make_ge2e_reference.py).
"""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stt_studio.audio.vad import Span
from stt_studio.diarize import embedder
from stt_studio.diarize.embedder import VoiceEmbedder
from tests.conftest import SHARED_AUDIO
from tests.diarize.test_ge2e import assert_same_embeddings, reference

ROOT = Path(__file__).resolve().parents[2]
DIARIZE_SRC = ROOT / "src" / "stt_studio" / "diarize"
#: what speaker diarization must not need (heavy, compiled, or both)
FORBIDDEN = ("torch", "resemblyzer", "webrtcvad", "librosa", "numba")


def clip(key: str) -> np.ndarray:
    """The shared recording the reference named, decoded by the studio (16 kHz PCM: exact)."""
    from stt_studio.audio.decode import decode_file

    path = SHARED_AUDIO / str(reference()[key])
    if not path.is_file():
        pytest.skip(f"shared audio not found: {path}")
    return np.asarray(decode_file(path).samples, dtype=np.float32)


def sha256(wav: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(wav, dtype=np.float32).tobytes()).hexdigest()


def test_the_mel_bands_are_librosas_slaney_filterbank():
    ours = embedder.mel_filterbank(16_000, 400, 40)
    theirs = reference()["filterbank"]
    assert ours.shape == theirs.shape == (40, 201) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7 * float(theirs.max()))


def test_the_window_is_scipys_periodic_hann():
    np.testing.assert_allclose(embedder.hann_window(400), reference()["hann"], atol=1e-12)


def test_the_volume_is_normalised_as_resemblyzer_does():
    ref = reference()
    wav = clip("volume_clip")
    for scale, gain in zip(ref["volume_scales"], ref["volume_gains"]):
        quiet = (wav * np.float32(scale)).astype(np.float32)
        done = embedder.normalize_volume(quiet, -30.0, increase_only=True)
        assert done.dtype == np.float32
        ours = float(np.dot(done.astype(np.float64), quiet) / np.dot(quiet, quiet.astype(np.float64)))
        assert ours == pytest.approx(float(gain), rel=1e-6), scale
    assert any(g == pytest.approx(1.0) for g in ref["volume_gains"])  # a loud one left alone
    assert any(g > 2.0 for g in ref["volume_gains"])  # a quiet one raised


def test_the_mel_spectrogram_is_resemblyzers():
    ref = reference()
    start, end = (int(v) for v in ref["mel_span"])
    part = clip("mel_clip")[start:end]
    assert sha256(part) == str(ref["mel_sha256"]), "the shared clip decodes differently now"
    ours = embedder._mel((part * np.float32(ref["mel_scale"])).astype(np.float32))
    theirs = ref["mel"]
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-9 * float(theirs.max()))


def test_the_embedder_gives_what_the_old_torch_path_gave_on_real_speech():
    ref = reference()
    wav = clip("embedder_clip")
    assert sha256(wav) == str(ref["embedder_sha256"]), "the shared clip decodes differently now"
    speech = tuple(Span(int(a), int(b)) for a, b in ref["embedder_spans"])
    windows, embeddings = VoiceEmbedder("cpu").embed(wav, speech)
    assert [[w.start_sample, w.end_sample] for w in windows] == ref["embedder_windows"].tolist()
    assert any(w.end_sample - w.start_sample < 16_000 for w in windows)  # a repeated short one
    assert_same_embeddings(embeddings, ref["embedder_embeddings"])


def test_a_device_other_than_the_cpu_is_accepted_and_runs_on_the_cpu():
    ref = reference()
    wav = clip("embedder_clip")
    speech = tuple(Span(int(a), int(b)) for a, b in ref["embedder_spans"][:1])
    _, on_cpu = VoiceEmbedder("cpu").embed(wav, speech)
    _, asked_cuda = VoiceEmbedder("cuda").embed(wav, speech)
    np.testing.assert_array_equal(on_cpu, asked_cuda)


def test_no_speech_no_windows_and_silence_stays_finite():
    windows, embeddings = VoiceEmbedder().embed(np.zeros(32_000, dtype=np.float32), ())
    assert windows == [] and embeddings.shape == (0, 256)
    windows, embeddings = VoiceEmbedder().embed(np.zeros(32_000, dtype=np.float32),
                                                (Span(0, 32_000),))
    assert len(windows) == 2 and np.isfinite(embeddings).all()


_RUN = """
import json, sys, wave
import numpy as np
with wave.open(sys.argv[1], "rb") as f:
    pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
samples = (pcm / 32768.0).astype(np.float32)
from stt_studio.audio.vad import Span
from stt_studio.diarize.base import SpeakerBounds
from stt_studio.diarize.embedder import VoiceEmbedder
from stt_studio.diarize.tracker import ClusteringTracker
spans = tuple(Span(int(a), int(b)) for a, b in json.loads(sys.argv[2]))
windows, embeddings = VoiceEmbedder().embed(samples, spans)
assert len(windows) == len(embeddings) > 10 and np.isfinite(embeddings).all()
embedded = sorted(sys.modules)
tracker = ClusteringTracker()
tracker.add(0.0, samples, spans)
assert tracker.turns(SpeakerBounds())
print(json.dumps({"embedded": embedded, "clustered": sorted(sys.modules)}))
"""


def test_embedding_and_clustering_import_no_torch_resemblyzer_or_librosa():
    """In a fresh process: the embedder runs on numpy alone; the clustering adds
    scipy, still no scikit-learn (130 MB of memory at import), torch, resemblyzer,
    webrtcvad, librosa or numba."""
    ref = reference()
    path = SHARED_AUDIO / str(ref["embedder_clip"])
    if not path.is_file():
        pytest.skip(f"shared audio not found: {path}")
    spans = json.dumps(ref["embedder_spans"].tolist())
    done = subprocess.run([sys.executable, "-c", _RUN, str(path), spans], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout.splitlines()[-1])

    def top(names: list[str]) -> set[str]:
        return {name.split(".")[0] for name in names}

    embedded, clustered = top(modules["embedded"]), top(modules["clustered"])
    assert not embedded & {*FORBIDDEN, "scipy", "sklearn"}, embedded & {*FORBIDDEN, "scipy"}
    assert "scipy" in clustered  # the clustering really ran in there
    assert not clustered & {*FORBIDDEN, "sklearn"}, clustered & {*FORBIDDEN, "sklearn"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_no_diarize_module_imports_them_and_only_the_clustering_imports_scipy():
    modules = sorted(DIARIZE_SRC.glob("*.py"))
    assert DIARIZE_SRC / "embedder.py" in modules and DIARIZE_SRC / "ge2e.py" in modules
    for module in modules:
        roots = {name.split(".")[0] for name in _imports(module)}
        assert not roots & set(FORBIDDEN), (module.name, roots & set(FORBIDDEN))
        if module.name != "clustering.py":
            assert not roots & {"scipy", "sklearn"}, module.name
