"""The commands a remedy tells people to run, in their own platform's words.

Linux and macOS get POSIX: ``chmod``, ``.venv/bin/python``, ``make``. Windows
gets what its PowerShell runs: ``icacls``, ``.venv\\Scripts\\python``, no
``make`` or ``bash``. ``make``, ``scripts/setup.sh`` and ``constraints.txt``
exist only in a source checkout, so a studio installed with pip, pipx or uv is
never told to use them: it is told to run the very interpreter it runs on (a
bare ``python`` or ``py`` in a new terminal is often another one), through uv
when that environment has no pip. The platform comes from :mod:`stt_studio.system`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from stt_studio import system

#: the name of the studio's own distribution (for its extras: ``stt-studio[nemo]``)
DISTRIBUTION = "stt-studio"


def make_writable(folder: Path | str, *, recursive: bool) -> str:
    """The command that gives this user write access to ``folder`` (and, when
    ``recursive``, everything in it)."""
    if system.is_windows():
        # (OI)(CI): files and folders created later inherit it; M: modify, not ownership
        tree = " /T" if recursive else ""
        return f'icacls "{folder}" /grant "${{env:USERNAME}}:(OI)(CI)M"{tree}'
    return f"chmod {'-R ' if recursive else ''}u+rwX {shlex.quote(str(folder))}"


def make_writable_hint(folder: Path | str, *, recursive: bool) -> str:
    """``make_writable`` with the words around it, for a remedy."""
    command = make_writable(folder, recursive=recursive)
    if system.is_windows():
        return f"in PowerShell `{command}`, or in Explorer: Properties → Security"
    return f"`{command}`"


def _checkout_venv() -> bool:
    """True when this runs from a source checkout on the checkout's own ``.venv``."""
    root = system.project_root()
    if root is None:
        return False
    try:
        return Path(sys.prefix).resolve() == (root / ".venv").resolve()
    except OSError:
        return False


def _interpreter() -> str:
    """This studio's Python as one shell word (the checkout's ``.venv`` relative)."""
    if _checkout_venv():
        return r".venv\Scripts\python" if system.is_windows() else ".venv/bin/python"
    if system.is_windows():
        return f'"{sys.executable}"' if " " in sys.executable else sys.executable
    return shlex.quote(sys.executable)


def python_command() -> str:
    """How the user's shell starts the Python this studio runs on."""
    word = _interpreter()
    # PowerShell takes a quoted word for a string, not a command, unless it follows &
    return f"& {word}" if system.is_windows() and word.startswith('"') else word


def pip_install(*requirements: str, options: Sequence[str] = ()) -> str:
    """The command that installs ``requirements`` into this studio's environment.

    In a checkout the tested pins of its ``constraints.txt`` apply; an environment
    made without pip (``uv venv``, ``uv tool``) is given uv's pip instead.
    """
    wanted = " ".join(f'"{r}"' for r in requirements)
    flags = "".join(f"{option} " for option in options)
    if system.project_root() is not None:
        flags += "-c constraints.txt "
    if importlib.util.find_spec("pip") is None:
        return f"uv pip install --python {_interpreter()} {flags}{wanted}"
    return f"{python_command()} -m pip install {flags}{wanted}"


def studio_extra(extra: str) -> str:
    """The requirement that adds ``extra`` to the installed studio, at its own version."""
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return f"{DISTRIBUTION}[{extra}]"
    return f"{DISTRIBUTION}[{extra}]=={version}"


def set_up_again() -> str | None:
    """The checkout's own set-up command, where there is one to give (POSIX checkouts:
    ``make`` runs ``scripts/setup.sh``); ``None`` for installed studios and Windows."""
    if system.project_root() is None or system.is_windows():
        return None
    return "`make run` (or `bash scripts/setup.sh`)"
