"""The project-local cache, and the environment that keeps files inside it.

:func:`prepare_cache` must run before torch, NeMo, huggingface_hub or
faster-whisper are imported: ``import torch`` freezes ``tempfile.gettempdir()``
and ``huggingface_hub`` reads ``HF_HOME`` once at import. Pointing all of them
under the cache keeps NeMo's extractions out of ``%TEMP%``, where antivirus
and cloud-sync tools lock files.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_HEAVY_MODULES = ("torch", "nemo", "huggingface_hub", "faster_whisper")

#: the system's temp folder as it was before :func:`prepare_cache` redirected it;
#: only a fallback for small UI files when the cache itself is not writable
SYSTEM_TEMP_DIR = Path(tempfile.gettempdir())


@dataclass(frozen=True, slots=True)
class CacheLayout:
    """Where each kind of file lives under the cache root."""

    root: Path

    @property
    def torch_home(self) -> Path:
        return self.root / "torch"

    @property
    def hf_home(self) -> Path:
        return self.root / "huggingface"

    @property
    def hf_hub_cache(self) -> Path:
        return self.hf_home / "hub"

    @property
    def nemo_cache(self) -> Path:
        return self.root / "nemo"

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    @property
    def ui_dir(self) -> Path:
        """The web UI's uploads and download files (it clears them itself)."""
        return self.tmp_dir / "ui"

    @property
    def extracted_dir(self) -> Path:
        """One folder per ``.nemo`` archive, named by its content hash."""
        return self.root / "extracted"

    @property
    def locks_dir(self) -> Path:
        return self.root / "locks"

    @property
    def xdg_cache(self) -> Path:
        return self.root / "xdg"

    def folders(self) -> tuple[Path, ...]:
        return (self.root, self.tmp_dir, self.hf_hub_cache, self.nemo_cache, self.torch_home,
                self.extracted_dir, self.locks_dir, self.xdg_cache)

    def ensure(self) -> None:
        """(Re)create the cache folders: a user may delete the cache while a studio runs."""
        for folder in self.folders():
            folder.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        """The variables that steer every library's cache and temp files."""
        tmp = str(self.tmp_dir)
        return {
            "TORCH_HOME": str(self.torch_home),
            "HF_HOME": str(self.hf_home),
            "HF_HUB_CACHE": str(self.hf_hub_cache),
            "NEMO_CACHE_DIR": str(self.nemo_cache),
            "TMPDIR": tmp,
            "TEMP": tmp,
            "TMP": tmp,
            # numba, matplotlib and friends otherwise write under ~/.cache
            "XDG_CACHE_HOME": str(self.xdg_cache),
            "MPLCONFIGDIR": str(self.xdg_cache / "matplotlib"),
            "NUMBA_CACHE_DIR": str(self.xdg_cache / "numba"),
        }


def check_writable(folder: Path) -> None:
    """Raise the OSError that writing a file into ``folder`` meets (creating it first)."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".write-probe-{os.getpid()}"
    probe.write_bytes(b"")
    probe.unlink()


def prepare_cache(root: Path) -> CacheLayout:
    """Create the cache folders and point every library at them.

    Call first in every entrypoint. Raises OSError when the cache cannot be
    created; the caller translates it for its medium.
    """
    layout = CacheLayout(Path(root).expanduser().resolve())
    layout.ensure()
    os.environ.update(layout.env())
    tempfile.tempdir = str(layout.tmp_dir)
    early = [m for m in _HEAVY_MODULES if m in sys.modules]
    if early:
        log.warning(
            "%s imported before the cache was prepared; their temp/cache paths may "
            "not follow %s", ", ".join(early), layout.root,
        )
    return layout
