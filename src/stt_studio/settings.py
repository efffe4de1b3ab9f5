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

from stt_studio import system
from stt_studio.domain import ComputeType
from stt_studio.retry import DEFAULT_DELAYS_S, DEFAULT_MAX_WAIT_S, RetryPolicy

DEFAULT_MODEL = "tiny.en"
#: the largest upload (page and API): about two hours of WAV, days of MP3
DEFAULT_MAX_UPLOAD_MB = 2048
DEVICES = ("auto", "cpu", "cuda")
COMPUTE_TYPES = tuple(c.value for c in ComputeType)


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``model_cache/`` beside the app in a source checkout; otherwise this user's
    cache folder (:func:`stt_studio.system.user_cache_dir`), never the working
    folder: one cache whatever folder the studio is started from, and none in
    ``C:\\Windows\\System32`` from an administrator's PowerShell."""
    root = system.project_root()
    if root is not None:
        return root / "model_cache"
    return system.user_cache_dir(os.environ if env is None else env)


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration of one studio process.

    cache_dir: root of every file the studio writes (models, hub cache, temp).
    device: ``auto`` (CUDA when a test on it works, else the CPU), ``cpu`` or ``cuda``.
    compute_type: how models compute unless a request says otherwise
        (``STT_STUDIO_COMPUTE_TYPE``; ``auto``: float16 on a GPU, int8 on the CPU
        for Whisper, float32 for NeMo).
    default_model: registry name or local path used when none is given.
    retry: backoff for lock-type file errors (``STT_STUDIO_RETRY_DELAYS`` and
        ``STT_STUDIO_RETRY_MAX_S``, each on its own).
    model_ttl_s: an idle model unloads itself after this long (``None``: never;
        ``STT_STUDIO_MODEL_TTL_S``, where 0 turns it off). The CLI keeps it off;
        ``serve`` defaults to :data:`SERVE_MODEL_TTL_S`.
    hub_url: the model hub that downloads go to (``HF_ENDPOINT`` honoured).
    hub_timeout_s: how long `doctor` waits for the hub to answer.
    long_audio_window_s: the longest window a NeMo model hears in windows mode
        (cut at pauses, decoded in batches; the model's own limit also applies).
    block_s: recordings are read and transcribed in blocks of at most this
        long, cut at pauses, so memory does not grow with the recording.
    host, port: where `stt-studio serve` listens (this machine only by default).
    api_key: what ``/v1`` requests must send as ``Authorization: Bearer``
        (``STT_STUDIO_API_KEY``; None: none on 127.0.0.1, a random token beyond).
    max_upload_mb: the largest upload the page and the API take
        (``STT_STUDIO_MAX_UPLOAD_MB``).
    """

    cache_dir: Path = field(default_factory=default_cache_dir)
    device: str = "auto"
    compute_type: ComputeType = ComputeType.AUTO
    default_model: str = DEFAULT_MODEL
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    model_ttl_s: float | None = None
    hub_url: str = "https://huggingface.co"
    hub_timeout_s: float = 3.0
    long_audio_window_s: float = 60.0
    block_s: float = 600.0
    host: str = "127.0.0.1"
    port: int = 7860
    api_key: str | None = None
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, not {self.port}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.long_audio_window_s < 30:
            raise ValueError("long_audio_window_s must be at least 30 seconds")
        if self.block_s < 60:
            raise ValueError("block_s must be at least 60 seconds")
        if self.max_upload_mb < 1:
            raise ValueError("the upload limit (--max-upload-mb, STT_STUDIO_MAX_UPLOAD_MB) "
                             f"must be at least 1 MB, not {self.max_upload_mb}")
        if self.api_key is not None and (not self.api_key.strip() or
                                         any(c.isspace() for c in self.api_key)):
            raise ValueError("the API key must be a non-empty word (no spaces)")
        if self.model_ttl_s is not None and self.model_ttl_s <= 0:
            raise ValueError("model_ttl_s must be > 0 seconds (or None for never)")

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        cache_dir: Path | str | None = None,
        device: str | None = None,
        compute_type: str | None = None,
        serving: bool = False,
        api_key: str | None = None,
        max_upload_mb: int | None = None,
    ) -> Settings:
        """Read ``STT_STUDIO_*`` variables; explicit arguments win over them.

        ``serving``: settings for `stt-studio serve`, where idle models unload
        after :data:`SERVE_MODEL_TTL_S` unless ``STT_STUDIO_MODEL_TTL_S`` says otherwise.
        """
        env = os.environ if env is None else env
        chosen_cache = cache_dir or env.get("STT_STUDIO_CACHE_DIR") or default_cache_dir(env)
        delays = env.get("STT_STUDIO_RETRY_DELAYS", "").strip()
        max_wait_s = _seconds(env, "STT_STUDIO_RETRY_MAX_S", DEFAULT_MAX_WAIT_S)
        retry = (RetryPolicy.parse(delays, max_wait_s) if delays
                 else RetryPolicy(DEFAULT_DELAYS_S, max_wait_s))
        ttl = _seconds(env, "STT_STUDIO_MODEL_TTL_S", SERVE_MODEL_TTL_S if serving else 0.0)
        return cls(
            cache_dir=Path(chosen_cache).expanduser().resolve(),
            device=device or env.get("STT_STUDIO_DEVICE", "auto"),
            compute_type=_compute_type(compute_type or env.get("STT_STUDIO_COMPUTE_TYPE", "")),
            default_model=env.get("STT_STUDIO_DEFAULT_MODEL", DEFAULT_MODEL),
            retry=retry,
            model_ttl_s=ttl if ttl > 0 else None,
            hub_url=env.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/"),
            long_audio_window_s=_seconds(env, "STT_STUDIO_NEMO_WINDOW_S", 60.0),
            block_s=_seconds(env, "STT_STUDIO_BLOCK_S", 600.0),
            host=env.get("STT_STUDIO_HOST", "127.0.0.1"),
            port=_port(env.get("STT_STUDIO_PORT", "7860")),
            api_key=api_key or env.get("STT_STUDIO_API_KEY") or None,
            max_upload_mb=(max_upload_mb if max_upload_mb is not None else
                           _megabytes(env, "STT_STUDIO_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB)),
        )


#: how long an idle model stays loaded in `stt-studio serve` unless told otherwise
SERVE_MODEL_TTL_S = 1800.0


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text!r}") from None


def _compute_type(text: str) -> ComputeType:
    try:
        return ComputeType(text.strip().lower() or ComputeType.AUTO.value)
    except ValueError:
        raise ValueError(f"the compute type (--compute-type, STT_STUDIO_COMPUTE_TYPE) must be "
                         f"one of {', '.join(COMPUTE_TYPES)}, not {text!r}") from None


def _port(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"STT_STUDIO_PORT must be a number, not {text!r}") from None


def _megabytes(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of megabytes, not {text!r}") from None
