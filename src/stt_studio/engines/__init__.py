"""Engines, imported lazily: only the module of the engine in use is loaded."""

from __future__ import annotations

import importlib
from pathlib import Path

from stt_studio import advice, system
from stt_studio.domain import EngineKind
from stt_studio.engines.base import Engine
from stt_studio.errors import EngineMissingError
from stt_studio.retry import Retrier

#: engine -> (its module, the package it imports, the requirement that installs it)
_MODULES = {
    EngineKind.WHISPER: ("stt_studio.engines.whisper", "faster_whisper",
                         "faster-whisper==1.2.1"),
    EngineKind.NEMO: ("stt_studio.engines.nemo", "nemo.collections.asr",
                      "nemo_toolkit[asr]==3.0.0"),
}
#: the studio's extra that brings an engine, for a studio installed outside a checkout
_EXTRAS = {EngineKind.NEMO: "nemo"}


def install_command(kind: EngineKind) -> str:
    """The command that installs ``kind`` into this studio's environment."""
    requirement = _MODULES[kind][2]
    extra = _EXTRAS.get(kind)
    if extra is not None and system.project_root() is None:
        requirement = advice.studio_extra(extra)
    return advice.pip_install(requirement)


def engine_available(kind: EngineKind) -> bool:
    import importlib.util

    top = _MODULES[kind][1].split(".")[0]
    return importlib.util.find_spec(top) is not None


def get_engine(kind: EngineKind, retrier: Retrier, scratch_home: Path) -> Engine:
    """The engine for ``kind``; ``scratch_home`` is a cache folder that stands in
    for the user's home while noisy dependencies import."""
    module_name, package, _requirement = _MODULES[kind]
    if not engine_available(kind):
        set_up = advice.set_up_again()
        raise EngineMissingError(
            f"the {kind.value} engine needs the Python package {package.split('.')[0]}",
            causes=("stt-studio was installed without this engine's extras",),
            remedies=(f"Install it into the studio's environment: {install_command(kind)}",
                      *([f"Or run {set_up}, which installs everything"] if set_up else [])),
        )
    module = importlib.import_module(module_name)
    engine: Engine = module.create_engine(retrier, scratch_home)
    return engine
