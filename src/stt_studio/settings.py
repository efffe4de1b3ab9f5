"""One Settings object, read once at the entrypoint and passed down.

Every value can come from the environment (``STT_STUDIO_*``) or from a
command-line flag; nothing else in the package reads the environment for
configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stt_studio.retry import RetryPolicy

DEFAULT_MODEL = "tiny.en"
DEVICES = ("auto", "cpu", "cuda")


def project_root() -> Path | None:
    """The source checkout holding this package, if it runs from one."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "stt-studio"' in pyproject.read_text("utf-8"):
        return root
    return None


def default_cache_dir() -> Path:
    """``model_cache/`` beside the app: the project root, else the working dir."""
    return (project_root() or Path.cwd()) / "model_cache"


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration of one studio process.

    cache_dir: root of every file the studio writes (models, hub cache, temp).
    device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
    default_model: registry name or local path used when none is given.
    retry: backoff for lock-type file errors while loading.
    hub_url: the model hub that downloads go to (``HF_ENDPOINT`` honoured).
    hub_timeout_s: how long `doctor` waits for the hub to answer.
    long_audio_window_s: NeMo audio longer than this is transcribed in windows.
    host, port: where `stt-studio serve` listens (this machine only by default).
    """

    cache_dir: Path = field(default_factory=default_cache_dir)
    device: str = "auto"
    default_model: str = DEFAULT_MODEL
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    hub_url: str = "https://huggingface.co"
    hub_timeout_s: float = 3.0
    long_audio_window_s: float = 300.0
    host: str = "127.0.0.1"
    port: int = 7860

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {self.port}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.long_audio_window_s < 30:
            raise ValueError("long_audio_window_s must be at least 30 seconds")

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        cache_dir: Path | str | None = None,
        device: str | None = None,
    ) -> Settings:
        """Read ``STT_STUDIO_*`` variables; explicit arguments win over them."""
        env = os.environ if env is None else env
        chosen_cache = cache_dir or env.get("STT_STUDIO_CACHE_DIR") or default_cache_dir()
        retry = RetryPolicy()
        if env.get("STT_STUDIO_RETRY_DELAYS"):
            retry = RetryPolicy.parse(
                env["STT_STUDIO_RETRY_DELAYS"],
                float(env.get("STT_STUDIO_RETRY_MAX_S", retry.max_total_s)),
            )
        return cls(
            cache_dir=Path(chosen_cache).expanduser().resolve(),
            device=device or env.get("STT_STUDIO_DEVICE", "auto"),
            default_model=env.get("STT_STUDIO_DEFAULT_MODEL", DEFAULT_MODEL),
            retry=retry,
            hub_url=env.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/"),
            host=env.get("STT_STUDIO_HOST", "127.0.0.1"),
            port=_port(env.get("STT_STUDIO_PORT", "7860")),
        )


def _port(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"STT_STUDIO_PORT must be a number, not {text!r}") from None
