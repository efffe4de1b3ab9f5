"""The one place that asks which platform this is, and where the studio is installed.

Every platform branch in the package calls :func:`is_windows` or :func:`is_macos`
through this module (``system.is_windows()``, never a copy imported by name), so
a test plays Windows or macOS on Linux by monkeypatching these two functions
alone; ``tests/test_portable.py`` fails on a ``sys.platform`` or ``os.name``
check anywhere else. Nothing here imports beyond the standard library.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

#: the folder name under the platform's cache folder
APP_NAME = "stt-studio"


def is_windows() -> bool:
    return sys.platform == "win32"


def is_macos() -> bool:
    return sys.platform == "darwin"


def project_root() -> Path | None:
    """The source checkout holding this package, if it runs from one (an editable
    install counts; a wheel in site-packages does not)."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    try:
        if pyproject.is_file() and 'name = "stt-studio"' in pyproject.read_text("utf-8"):
            return root
    except (OSError, UnicodeDecodeError):
        pass  # an unreadable file beside site-packages is nobody's checkout
    return None


def user_cache_dir(env: Mapping[str, str]) -> Path:
    """This user's cache folder for the studio, the platform's way.

    Windows: ``%LOCALAPPDATA%\\stt-studio`` (``%USERPROFILE%\\AppData\\Local`` when
    the variable is missing); macOS: ``~/Library/Caches/stt-studio``; elsewhere
    ``$XDG_CACHE_HOME/stt-studio``, or ``~/.cache/stt-studio`` when the variable is
    unset or relative (the XDG spec ignores a relative value). Read from ``env``
    so a test can point each variable at a folder of its own.
    """
    if is_windows():
        local = env.get("LOCALAPPDATA", "").strip()
        base = Path(local) if local else _home(env) / "AppData" / "Local"
        return base / APP_NAME
    if is_macos():
        return _home(env) / "Library" / "Caches" / APP_NAME
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / APP_NAME
    return _home(env) / ".cache" / APP_NAME


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("USERPROFILE" if is_windows() else "HOME", "").strip()
    return Path(home) if home else Path.home()
