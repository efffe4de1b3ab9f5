"""Hub downloads, for real, against a hub on 127.0.0.1 (HF_ENDPOINT), never the network.

The fake hub answers the two requests huggingface_hub makes for one file —
HEAD for the metadata (commit, ETag, size), GET for the bytes — so the whole
user path runs: `models pull` -> HF cache layout -> one-time extraction ->
offline load by name.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.hub import COMMIT, STT, cli_env, serving

pytestmark = pytest.mark.slow


@pytest.fixture()
def hub(tiny_nemo):
    files = {"acme/tiny-parakeet:tiny-parakeet.nemo": tiny_nemo["tdt"].read_bytes()}
    with serving(files) as server:
        yield server


def run(args: list[str], cache: Path, hub_url: str, offline: bool) -> subprocess.CompletedProcess:
    return subprocess.run([str(STT), *args], env=cli_env(cache, hub_url, offline=offline),
                          capture_output=True, text=True, timeout=300)


def test_pull_then_use_offline_by_name(hub, tmp_path, jfk):
    cache = tmp_path / "cache"
    pulled = run(["models", "pull", "acme/tiny-parakeet"], cache, hub.url, offline=False)
    assert pulled.returncode == 0, pulled.stderr
    assert "is ready" in pulled.stdout
    assert any(r.startswith("GET /acme/tiny-parakeet/resolve/main/tiny-parakeet.nemo")
               for r in hub.requests)
    snapshot = cache / "huggingface" / "hub" / "models--acme--tiny-parakeet" / "snapshots"
    assert (snapshot / COMMIT / "tiny-parakeet.nemo").is_file()
    hub.requests.clear()
    used = run(["transcribe", str(jfk), "--model", "acme/tiny-parakeet", "--output-dir",
                str(tmp_path / "out")], cache, hub.url, offline=True)
    assert used.returncode == 0, used.stderr
    assert hub.requests == []  # served from the cache
    assert (tmp_path / "out" / "jfk.txt").is_file()


def test_interrupted_download_is_an_error_and_not_a_model(hub, tmp_path):
    hub.mode = "truncate"
    cache = tmp_path / "cache"
    pulled = run(["models", "pull", "acme/tiny-parakeet"], cache, hub.url, offline=False)
    assert pulled.returncode == 1
    assert "Network or download error" in pulled.stderr
    assert "acme/tiny-parakeet" in pulled.stderr and "Traceback" not in pulled.stderr
    repo = cache / "huggingface" / "hub" / "models--acme--tiny-parakeet"
    assert not list(repo.glob("snapshots/*/*.nemo"))  # nothing passed off as complete
    assert not [p for p in (cache / "extracted").iterdir() if not p.name.startswith(".")]


def test_missing_repository_is_model_not_found(hub, tmp_path):
    hub.mode = "404"
    pulled = run(["models", "pull", "acme/tiny-parakeet"], tmp_path / "cache", hub.url,
                 offline=False)
    assert pulled.returncode == 1
    assert "Model not found" in pulled.stderr and "acme/tiny-parakeet" in pulled.stderr


def test_unreachable_hub_is_a_network_error(tmp_path):
    pulled = run(["models", "pull", "acme/tiny-parakeet"], tmp_path / "cache",
                 "http://127.0.0.1:9", offline=False)
    assert pulled.returncode == 1
    assert "Network or download error" in pulled.stderr
    assert "Check the connection" in pulled.stderr
