"""The numpy GE2E encoder against resemblyzer's own (torch) outputs, and its shipped weights.

The reference values were made once by resemblyzer itself on real speech
(scripts/make_ge2e_reference.py -> data/ge2e_reference.npz); these tests need
only numpy.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np
import pytest

import stt_studio.diarize
from stt_studio.diarize import ge2e
from stt_studio.errors import EngineMissingError

REFERENCE = Path(__file__).parent / "data" / "ge2e_reference.npz"
FRAMES = 160


@functools.cache
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def resemblyzers_windows() -> tuple[np.ndarray, np.ndarray]:
    """The 160-frame windows of resemblyzer's mel and its VoiceEncoder's embeddings of them."""
    ref = reference()
    mels = np.stack([ref["mel"][s:s + FRAMES] for s in ref["encoder_starts"]])
    return mels, ref["encoder_embeddings"]


def assert_same_embeddings(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(ours * theirs, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosine.min() > 0.9999, cosine.min()
    assert np.abs(ours - theirs).max() < 1e-4


def test_the_embeddings_are_resemblyzers():
    mels, theirs = resemblyzers_windows()
    assert len(mels) >= 10
    assert_same_embeddings(ge2e.encoder().embed(mels), theirs)


def test_the_voices_are_told_apart_not_only_reproduced():
    """Guards the reference itself: windows of one voice are alike, not all one vector."""
    _, theirs = resemblyzers_windows()
    other = reference()["embedder_embeddings"]  # another speaker (the MFA recording)
    same = float(np.mean(theirs @ theirs.T))
    across = float(np.mean(theirs @ other.T))
    assert same > across + 0.1, (same, across)


def test_a_window_gets_the_same_embedding_whatever_its_batch():
    mels, theirs = resemblyzers_windows()
    encoder = ge2e.encoder()
    one_by_one = np.concatenate([encoder.embed(m[None]) for m in mels])
    reversed_batch = encoder.embed(mels[::-1].copy())[::-1]
    np.testing.assert_allclose(one_by_one, theirs, atol=1e-4)
    np.testing.assert_allclose(reversed_batch, one_by_one, atol=1e-5)


def test_window_lengths_other_than_160_frames_run_the_same_recurrence():
    """More frames than a projection chunk, and fewer: the chunked input projection joins up."""
    mels, _ = resemblyzers_windows()
    encoder = ge2e.encoder()
    longer = np.concatenate([mels[:3], mels[3:6]], axis=1)  # 320 frames
    chunk = ge2e.PROJECTION_STEPS
    odd = longer[:, :2 * chunk + 7]
    assert encoder.embed(longer).shape == (3, 256)
    assert np.isfinite(encoder.embed(odd)).all()
    short = encoder.embed(mels[:2, :chunk - 3])
    assert short.shape == (2, 256) and np.isfinite(short).all()


def test_no_windows_and_bad_shapes():
    encoder = ge2e.encoder()
    assert encoder.embed(np.zeros((0, FRAMES, 40), dtype=np.float32)).shape == (0, 256)
    with pytest.raises(ValueError, match="windows, frames, 40"):
        encoder.embed(np.zeros((2, FRAMES, 39), dtype=np.float32))


def test_the_weights_ship_in_the_package_with_resemblyzers_licence():
    package = Path(stt_studio.diarize.__file__).resolve().parent
    assert ge2e.WEIGHTS_PATH.parent == package / "data"
    assert ge2e.WEIGHTS_PATH.is_file() and ge2e.NOTICE_PATH.parent == package / "data"
    notice = ge2e.NOTICE_PATH.read_text(encoding="utf-8")
    for needed in ("Apache License", "Version 2.0, January 2004", "Copyright 2019 Resemble.AI",
                   "ge2e_resemblyzer.npz", "Resemblyzer 0.1.4", "converted",
                   "END OF TERMS AND CONDITIONS"):
        assert needed in notice, needed
    with np.load(ge2e.WEIGHTS_PATH, allow_pickle=False) as weights:
        assert str(weights["source_sha256"]) in notice  # the notice names the file converted
        assert all(weights[key].dtype == np.float32 for key in weights.files
                   if key.startswith(("lstm.", "linear.")))


def test_a_missing_weights_file_is_a_readable_error(tmp_path, monkeypatch):
    missing = tmp_path / "gone" / "ge2e_resemblyzer.npz"
    monkeypatch.setattr(ge2e, "WEIGHTS_PATH", missing)
    monkeypatch.setattr(ge2e, "_ENCODER", None)
    from stt_studio.audio.vad import Span
    from stt_studio.diarize.embedder import VoiceEmbedder

    with pytest.raises(EngineMissingError) as caught:
        VoiceEmbedder().embed(np.zeros(32_000, dtype=np.float32), (Span(0, 32_000),))
    text = caught.value.render()
    assert "voice encoder's weights" in text and "missing" in text
    assert 'pip install --force-reinstall "stt-studio[speakers]"' in text
    assert str(missing) in text
    assert caught.value.kind == EngineMissingError(".").kind


@pytest.mark.parametrize("damage", ["not a zip", "wrong shape", "key missing"])
def test_a_damaged_weights_file_is_a_readable_error(tmp_path, damage):
    path = tmp_path / "ge2e_resemblyzer.npz"
    if damage == "not a zip":
        path.write_bytes(b"\x00" * 100)
    else:
        with np.load(ge2e.WEIGHTS_PATH, allow_pickle=False) as good:
            arrays = {key: good[key] for key in good.files}
        if damage == "wrong shape":
            arrays["lstm.weight_hh_l1"] = arrays["lstm.weight_hh_l1"][:, :100]
        else:
            del arrays["linear.bias"]
        np.savez(path, **arrays)
    with pytest.raises(EngineMissingError) as caught:
        ge2e.Encoder.from_file(path)
    text = caught.value.render()
    assert "cannot be read" in text and str(path) in text and "Reinstall stt-studio" in text


def test_loaded_once_per_process_by_threads_at_once(monkeypatch):
    loads: list[Path] = []
    real = ge2e.Encoder.from_file

    def counted(path: Path) -> ge2e.Encoder:
        loads.append(path)
        return real(path)

    monkeypatch.setattr(ge2e, "_ENCODER", None)
    monkeypatch.setattr(ge2e.Encoder, "from_file", staticmethod(counted))
    got: list[ge2e.Encoder] = []
    start = threading.Barrier(6)

    def load() -> None:
        start.wait()
        got.append(ge2e.encoder())

    threads = [threading.Thread(target=load) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == [ge2e.WEIGHTS_PATH]
    assert len(got) == 6 and all(e is got[0] for e in got)


def blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_the_worker_threads_change_no_embedding_and_leave_blas_as_it_was():
    mels, theirs = resemblyzers_windows()
    many = np.concatenate([mels] * 4)  # 48 windows: 4 workers of 12, or 1 batch
    encoder = ge2e.encoder()
    before = blas_threads()
    shared = encoder.embed(many, workers=4)
    assert blas_threads() == before
    alone = encoder.embed(many, workers=1)
    np.testing.assert_allclose(shared, alone, atol=1e-6)
    assert_same_embeddings(shared[:len(theirs)], theirs)


def test_embeddings_asked_for_by_two_threads_at_once_each_run_with_blas_on_one_thread(monkeypatch):
    """And BLAS is as it was after both: threadpoolctl lets only the thread that set a
    limit restore it, so a run that limits from one thread and restores from another
    would leave BLAS on one thread, or never limit it."""
    mels, theirs = resemblyzers_windows()
    before = blas_threads()
    seen: list[list[int]] = []
    real = ge2e.Encoder._embed_batch

    def watched(self: ge2e.Encoder, batch: np.ndarray) -> np.ndarray:
        seen.append(blas_threads())
        return real(self, batch)

    monkeypatch.setattr(ge2e.Encoder, "_embed_batch", watched)
    results: list[np.ndarray] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        results.append(ge2e.encoder().embed(np.concatenate([mels] * 3), workers=3))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and all(np.allclose(r[:len(theirs)], theirs, atol=1e-4) for r in results)
    assert seen and all(threads_now == [1] * len(before) for threads_now in seen)
    assert blas_threads() == before


def test_without_threadpoolctl_everything_runs_in_the_calling_thread(monkeypatch):
    """Worker threads on top of BLAS's own threads would fight over the cores."""
    import sys

    mels, theirs = resemblyzers_windows()
    callers: set[str] = set()
    real = ge2e.Encoder._embed_batch

    def watched(self: ge2e.Encoder, batch: np.ndarray) -> np.ndarray:
        callers.add(threading.current_thread().name)
        return real(self, batch)

    monkeypatch.setattr(ge2e.Encoder, "_embed_batch", watched)
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    out = ge2e.encoder().embed(np.concatenate([mels] * 4), workers=4)
    assert callers == {threading.current_thread().name}
    assert_same_embeddings(out[:len(theirs)], theirs)
