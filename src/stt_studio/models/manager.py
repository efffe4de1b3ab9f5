"""Load each model once per process, lend it out under a lease, unload it when idle.

Every (model, device, compute type) has its own load lock, so a cache hit never waits
behind another model's load (the NeMo engine serialises its own restores,
which are not thread-safe). A job holds a *lease* on the model while it uses
it: unloading waits for the leases to end, or says that the model is in use,
so a model never disappears under a running transcription. With a TTL, a
reaper thread unloads models nobody has used for that long.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from stt_studio import progress as job_progress
from stt_studio.cache import CacheLayout
from stt_studio.domain import ComputeType, ModelSpec, NoteKind, Progress, Stage
from stt_studio.engines import get_engine
from stt_studio.engines.base import Engine, LoadedModel
from stt_studio.engines.device import Placement
from stt_studio.errors import ModelInUseError, translate_os_error
from stt_studio.models import store
from stt_studio.retry import Retrier, release_memory

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # (model name, device, compute type), as placed


@dataclass(frozen=True, slots=True)
class LoadedEntry:
    name: str
    engine: str
    device: str
    in_use: int = 0
    idle_s: float = 0.0
    compute_type: str = ""


@dataclass(slots=True)
class _Slot:
    """One loaded model and who is using it."""

    model: LoadedModel
    leases: int = 0
    last_used: float = field(default_factory=time.monotonic)


class ModelManager:
    """The process's loaded models."""

    def __init__(self, layout: CacheLayout, retrier: Retrier) -> None:
        self._layout = layout
        self._retrier = retrier
        self._slots: dict[Key, _Slot] = {}
        self._loading: dict[str, float] = {}  # name -> monotonic start
        self._key_locks: dict[Key, threading.Lock] = {}
        self._state = threading.Condition()  # guards the tables; notified when a lease ends
        self._reaper: threading.Thread | None = None
        self._stop_reaper = threading.Event()
        self._told: set[str] = set()  # placement notes already logged as warnings

    # -- getting a model -----------------------------------------------------------
    @contextlib.contextmanager
    def lease(self, spec: ModelSpec, device: str, progress: Progress | None = None, *,
              compute_type: ComputeType = ComputeType.AUTO) -> Iterator[LoadedModel]:
        """The loaded model for the duration of the block; it cannot be unloaded meanwhile.

        ``device`` and ``compute_type`` as asked (``auto`` allowed): the engine
        places the model, and a job is told when the CPU stands in for a GPU.
        """
        slot = self._acquire(spec, device, compute_type, progress)
        try:
            yield slot.model
        finally:
            with self._state:
                slot.leases -= 1
                slot.last_used = time.monotonic()
                self._state.notify_all()

    def get(self, spec: ModelSpec, device: str, progress: Progress | None = None, *,
            compute_type: ComputeType = ComputeType.AUTO) -> LoadedModel:
        """Load (once) without holding a lease: for preloading and the Load button."""
        with self.lease(spec, device, progress, compute_type=compute_type) as model:
            return model

    def _acquire(self, spec: ModelSpec, device: str, compute_type: ComputeType,
                 progress: Progress | None) -> _Slot:
        engine = get_engine(spec.engine, self._retrier, self._layout.xdg_cache / "home")
        with job_progress.job(progress):
            placement = engine.place(device, compute_type)
            self._tell(placement)
        key = (spec.name, placement.device, placement.compute_type)
        with self._state:
            slot = self._slots.get(key)
            if slot is not None:
                slot.leases += 1
                return slot
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one load per model; other models load or serve meanwhile
            with self._state:
                slot = self._slots.get(key)
                if slot is not None:
                    slot.leases += 1
                    return slot
                self._loading[spec.name] = time.monotonic()
            try:
                with job_progress.job(progress):
                    model = self._load(engine, spec, placement)
            finally:
                with self._state:
                    self._loading.pop(spec.name, None)
            with self._state:
                slot = self._slots[key] = _Slot(model, leases=1)
            return slot

    def _tell(self, placement: Placement) -> None:
        """The job hears why the CPU stands in for a GPU; the log warns once a process."""
        if placement.note is None:
            return
        first = placement.note not in self._told
        self._told.add(placement.note)
        job_progress.note(NoteKind.DEVICE, placement.note, logger=log,
                          level=logging.WARNING if first else logging.INFO)

    def _load(self, engine: Engine, spec: ModelSpec, placement: Placement) -> LoadedModel:
        try:
            job_progress.stage(Stage.LOADING, f"{spec.name}: getting the files")
            model_dir = store.local_model_dir(spec, self._layout, self._retrier)
            job_progress.stage(Stage.LOADING, f"{spec.name} on {placement.device}")
            return engine.load(spec, model_dir, placement)
        except OSError as exc:
            path = exc.filename or self._layout.root
            raise translate_os_error(
                exc, action=f"load the model {spec.name}", path=path,
                cache_dir=self._layout.root,
            ) from exc

    # -- letting go ----------------------------------------------------------------
    def unload(self, name: str, wait_s: float = 0.0) -> bool:
        """Unload every device's copy of ``name``; False if none was loaded.

        A model in use is unloaded once its leases end, waiting up to
        ``wait_s``; after that :class:`ModelInUseError` says so.
        """
        deadline = time.monotonic() + wait_s
        with self._state:
            keys = [k for k in self._slots if k[0] == name]
            if not keys:
                return False
            announced = False
            while any(self._slots[k].leases for k in keys if k in self._slots):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ModelInUseError(
                        f"{name} is being used by a transcription right now, so it was not "
                        "unloaded",
                        remedies=("Wait for the transcription to finish (or cancel it), "
                                  "then unload it",),
                    )
                if not announced:
                    job_progress.note(NoteKind.WAITING,
                                      f"waiting for the transcription using {name} to finish",
                                      logger=log, level=logging.INFO)
                    announced = True
                self._state.wait(min(left, 0.5))
            models = [self._slots.pop(k).model for k in keys if k in self._slots]
        for model in models:
            model.close()
        release_memory()
        log.info("unloaded %s", name)
        return True

    def unload_idle(self, ttl_s: float) -> list[str]:
        """Unload the models nobody has used for ``ttl_s``; returns their names."""
        now = time.monotonic()
        with self._state:
            idle = [k for k, s in self._slots.items() if not s.leases and now - s.last_used >= ttl_s]
            models = [(k[0], self._slots.pop(k).model) for k in idle]
        for name, model in models:
            model.close()
            log.info("unloaded %s after %.0f s without use", name, ttl_s)
        if models:
            release_memory()
        return [name for name, _ in models]

    def start_reaper(self, ttl_s: float) -> None:
        """Unload idle models in the background (the web UI; the CLI never needs it)."""
        if self._reaper is not None:
            return
        interval_s = min(max(ttl_s / 4, 0.05), 30.0)

        def reap() -> None:
            while not self._stop_reaper.wait(interval_s):
                try:
                    self.unload_idle(ttl_s)
                except Exception:  # noqa: BLE001 - a reaper never dies of one bad unload
                    log.exception("unloading idle models failed")

        self._reaper = threading.Thread(target=reap, name="stt-studio-model-reaper", daemon=True)
        self._reaper.start()

    def stop_reaper(self) -> None:
        self._stop_reaper.set()

    # -- what is there -------------------------------------------------------------
    def loaded(self) -> list[LoadedEntry]:
        now = time.monotonic()
        with self._state:
            return [LoadedEntry(s.model.spec.name, s.model.spec.engine.value, s.model.device,
                                s.leases, now - s.last_used, s.model.compute_type)
                    for s in self._slots.values()]

    def loading(self) -> dict[str, float]:
        """Models being loaded now: name -> seconds since the load started."""
        now = time.monotonic()
        with self._state:
            return {name: now - started for name, started in self._loading.items()}
