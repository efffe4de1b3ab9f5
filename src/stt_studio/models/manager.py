"""Load each model once per process, serialised, with retries; unload on request."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from stt_studio.cache import CacheLayout
from stt_studio.domain import ModelSpec, Progress
from stt_studio.engines import get_engine
from stt_studio.engines.base import Engine, LoadedModel
from stt_studio.errors import translate_os_error
from stt_studio.models import store
from stt_studio.retry import Retrier, release_memory

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadedEntry:
    name: str
    engine: str
    device: str


class ModelManager:
    """The process's loaded models.

    NeMo's restore is not thread-safe, so loads are serialised by one lock; the
    table of loaded models has its own short-held lock, so listing what is
    loaded (a UI panel, say) never waits for a load in progress.
    """

    def __init__(self, layout: CacheLayout, retrier: Retrier) -> None:
        self._layout = layout
        self._retrier = retrier
        self._models: dict[tuple[str, str], LoadedModel] = {}
        self._loading: dict[str, float] = {}  # name -> monotonic start
        self._load_lock = threading.RLock()
        self._state_lock = threading.Lock()

    def get(self, spec: ModelSpec, device: str, progress: Progress | None = None) -> LoadedModel:
        with self._load_lock:
            engine = get_engine(spec.engine, self._retrier, self._layout.xdg_cache / "home")
            resolved_device = engine.resolve_device(device)
            key = (spec.name, resolved_device)
            with self._state_lock:
                model = self._models.get(key)
                if model is not None:
                    return model
                self._loading[spec.name] = time.monotonic()
            try:
                model = self._load(engine, spec, resolved_device,
                                   progress or (lambda _msg: None))
            finally:
                with self._state_lock:
                    self._loading.pop(spec.name, None)
            with self._state_lock:
                self._models[key] = model
            return model

    def _load(
        self, engine: Engine, spec: ModelSpec, resolved_device: str, progress: Progress
    ) -> LoadedModel:
        try:
            progress(f"getting the files of {spec.name}")
            model_dir = store.local_model_dir(spec, self._layout, self._retrier, progress)
            progress(f"loading {spec.name} on {resolved_device}")
            return engine.load(spec, model_dir, resolved_device)
        except OSError as exc:
            path = exc.filename or self._layout.root
            raise translate_os_error(
                exc, action=f"load the model {spec.name}", path=path,
                cache_dir=self._layout.root,
            ) from exc

    def unload(self, name: str) -> bool:
        with self._state_lock:
            models = [self._models.pop(k) for k in list(self._models) if k[0] == name]
        for model in models:
            model.close()  # waits for a transcription using it to finish
        if models:
            release_memory()
            log.info("unloaded %s", name)
        return bool(models)

    def loaded(self) -> list[LoadedEntry]:
        with self._state_lock:
            return [LoadedEntry(m.spec.name, m.spec.engine.value, m.device)
                    for m in self._models.values()]

    def loading(self) -> dict[str, float]:
        """Models being loaded now: name -> seconds since the load started."""
        now = time.monotonic()
        with self._state_lock:
            return {name: now - started for name, started in self._loading.items()}
