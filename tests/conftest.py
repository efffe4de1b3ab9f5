"""Test-wide set-up: a private cache prepared before any heavy import, no network.

The studio's own rule — point every cache and temp variable at the cache
before torch/NeMo are imported — applies to the test process too, so this
runs at import time of the conftest, ahead of every test module.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["tests.support.reliability"]

ROOT = Path(__file__).resolve().parents[1]
SHARED_AUDIO = ROOT.parent / "shared" / "audio"

# pytest-xdist's workers inherit TMPDIR from the controller, which points it into its own
# session cache below; their session folders go beside the controller's, in the system
# temp, not nested inside it (Chromium's socket path has a 107-character limit)
_BASE_TMP = os.environ.setdefault("STT_TESTS_BASE_TMP", tempfile.gettempdir())
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="stt-studio-tests-", dir=_BASE_TMP))
(_SESSION_DIR / "home").mkdir()
os.environ["HOME"] = str(_SESSION_DIR / "home")  # nothing a test runs may touch ~
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"  # the discard port: nothing leaves
os.environ.pop("STT_STUDIO_CACHE_DIR", None)
# CTranslate2's OpenMP threads otherwise spin while they wait; with pytest's own threads
# (servers, jobs) on 2 cores, one tiny.en call then takes 0.8-24 s instead of ~1.3 s
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# under pytest-xdist (make test: a process per core) each process computes on one thread;
# two processes of two threads each on two cores only fight over them
if os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") != "1":
    workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))

from stt_studio.cache import prepare_cache  # noqa: E402

SESSION_LAYOUT = prepare_cache(_SESSION_DIR / "cache")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


#: what in a test module's source says it needs an extra (coarse on purpose: a core-only
#: run, as in .github/workflows, leaves out anything that might need one)
_NEEDS = {
    "nemo": ("tiny_nemo", "import torch", "nemo.collections", "from nemo", "import nemo",
             "nemo_models", "NeMo"),
    "speakers": ("diarize", "speakers=", "--speakers", "scipy"),
}


#: the files that take longest (minutes on 2 cores), run first: under pytest-xdist each
#: file is one unit of work, and a long one left to the end keeps one core busy alone
_LONGEST_FIRST = ("test_longform.py", "test_nothing_lost.py", "test_packaging.py",
                  "engines/test_whisper.py", "entrypoints/test_ui_browser.py",
                  "models/test_hub_download.py", "faults/test_bad_inputs.py")


def _longest_first(item: pytest.Item) -> int:
    path = Path(str(item.fspath)).as_posix()
    for rank, name in enumerate(_LONGEST_FIRST):
        if path.endswith("/" + name):
            return rank
    return len(_LONGEST_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with the extras its module needs (``-m "not nemo"`` is the core);
    the longest files first (a stable sort: each file's own order is kept)."""
    items.sort(key=_longest_first)
    sources: dict[Path, str] = {}
    for item in items:
        path = Path(str(item.fspath))
        if path not in sources:
            sources[path] = path.read_text("utf-8") if path.is_file() else ""
        for marker, needles in _NEEDS.items():
            if any(needle in sources[path] for needle in needles) or (
                    marker == "nemo" and "tiny_nemo" in getattr(item, "fixturenames", ())):
                item.add_marker(getattr(pytest.mark, marker))


@dataclass(frozen=True, slots=True)
class Clip:
    path: Path
    text: str | None
    group: str
    duration_s: float | None
    language: str | None


def load_manifest() -> list[Clip]:
    manifest = SHARED_AUDIO / "manifest.jsonl"
    if not manifest.is_file():
        pytest.skip(f"shared audio not found at {SHARED_AUDIO}")
    clips = []
    for line in manifest.read_text("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            clips.append(Clip(SHARED_AUDIO / row["audio"], row.get("text"), row["group"],
                              row.get("duration_s"), row.get("language")))
    return clips


@pytest.fixture(scope="session")
def manifest() -> list[Clip]:
    return load_manifest()


@pytest.fixture(scope="session")
def session_layout():
    """The cache shared by the whole test session (models extracted once)."""
    return SESSION_LAYOUT


@pytest.fixture(scope="session")
def session_studio(session_layout):
    """One Studio for the session, so real models load once."""
    from stt_studio.service import Studio
    from stt_studio.settings import Settings

    return Studio(Settings(cache_dir=session_layout.root, device="cpu"), session_layout)


@pytest.fixture()
def fresh_layout(tmp_path: Path, session_layout):
    """A separate, empty cache; the process env keeps pointing at the session's."""
    from stt_studio.cache import CacheLayout

    layout = CacheLayout(tmp_path / "cache")
    for folder in (layout.root, layout.tmp_dir, layout.hf_hub_cache, layout.nemo_cache,
                   layout.extracted_dir, layout.locks_dir):
        folder.mkdir(parents=True, exist_ok=True)
    return layout


@pytest.fixture(scope="session")
def tiny_nemo() -> dict[str, Path]:
    """Real NeMo models with random weights, saved as .nemo once per session."""
    from tests.support.nemo_models import build_model

    folder = _SESSION_DIR / "nemo_models"
    folder.mkdir(exist_ok=True)
    return {kind: build_model(kind, folder / f"tiny_{kind}.nemo")
            for kind in ("tdt", "ctc", "canary")}


@pytest.fixture(scope="session")
def jfk() -> Path:
    path = SHARED_AUDIO / "A_short_en" / "jfk" / "jfk.flac"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def make_studio(layout, **settings):
    """A Studio over ``layout`` with fast retries unless told otherwise."""
    from stt_studio.retry import RetryPolicy
    from stt_studio.service import Studio
    from stt_studio.settings import Settings

    settings.setdefault("device", "cpu")
    settings.setdefault("retry", RetryPolicy())
    return Studio(Settings(cache_dir=layout.root, **settings), layout)
