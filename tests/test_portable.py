"""The package imports and runs on Windows as on Linux: checked in its source with ``ast``.

No module imports a POSIX-only module (fcntl, termios, ...) or a Windows-only one
(winreg, msvcrt) where the other platform would run the import: only inside the
branch of a platform check that the other platform skips, or inside a ``try``
that catches ImportError. And every platform check goes through
:mod:`stt_studio.system`, called through the module, so that monkeypatching
``system.is_windows`` really switches the platform for the whole package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

SRC = ROOT / "src" / "stt_studio"
POSIX_ONLY = frozenset({"fcntl", "termios", "tty", "pty", "resource", "pwd", "grp", "posix",
                        "syslog", "crypt"})
WINDOWS_ONLY = frozenset({"winreg", "_winreg", "msvcrt", "winsound", "_winapi", "nt"})
BOUNDARY = SRC / "system.py"
PLATFORM_FUNCTIONS = ("is_windows", "is_macos")


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _says_windows(test: ast.expr) -> bool | None:
    """True if ``test`` holds on Windows only, False if everywhere but Windows, None if
    it is no platform check."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _says_windows(test.operand)
        return None if inner is None else not inner
    if isinstance(test, ast.Call):
        name = test.func.attr if isinstance(test.func, ast.Attribute) else getattr(
            test.func, "id", None)
        if name == "is_windows":
            return True
        if name == "is_macos":
            return False
        return None
    if (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.comparators[0], ast.Constant)):
        left, value = ast.unparse(test.left), test.comparators[0].value
        windows_value = {"sys.platform": "win32", "os.name": "nt"}.get(left)
        if windows_value is None:
            return None
        if isinstance(test.ops[0], ast.Eq):
            return value == windows_value
        if isinstance(test.ops[0], ast.NotEq):
            return value != windows_value
    return None


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        names = ([handler.type] if not isinstance(handler.type, ast.Tuple)
                 else list(handler.type.elts)) if handler.type is not None else []
        if handler.type is None or any(getattr(n, "id", None) in (
                "ImportError", "ModuleNotFoundError") for n in names):
            return True
    return False


def unguarded_imports(source: str) -> Iterator[tuple[int, str]]:
    """(line, module) for each platform-only import that the other platform would run."""

    def visit(node: ast.AST, on_windows: bool, on_posix: bool) -> Iterator[tuple[int, str]]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""])
            for name in names:
                top = name.split(".")[0]
                if (top in POSIX_ONLY and on_windows) or (top in WINDOWS_ONLY and on_posix):
                    yield node.lineno, top
            return
        if isinstance(node, ast.If) and (windows := _says_windows(node.test)) is not None:
            yield from visit_all(node.body, on_windows and windows, on_posix and not windows)
            yield from visit_all(node.orelse, on_windows and not windows, on_posix and windows)
            return
        if isinstance(node, ast.Try) and _catches_import_error(node):
            yield from visit_all(node.body, False, False)
            for rest in (*node.handlers, *node.orelse, *node.finalbody):
                yield from visit(rest, on_windows, on_posix)
            return
        for child in ast.iter_child_nodes(node):
            yield from visit(child, on_windows, on_posix)

    def visit_all(nodes: list[ast.stmt], on_windows: bool,
                  on_posix: bool) -> Iterator[tuple[int, str]]:
        for child in nodes:
            yield from visit(child, on_windows, on_posix)

    yield from visit(ast.parse(source), True, True)


def platform_checks(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) for each platform question asked outside :mod:`stt_studio.system`,
    and each ``from stt_studio.system import is_windows`` (a copy a test cannot switch)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and ast.unparse(node) in (
                "sys.platform", "os.name", "platform.system", "platform.platform"):
            yield node.lineno, ast.unparse(node)
        if (isinstance(node, ast.ImportFrom) and node.module == "stt_studio.system"
                and any(a.name in PLATFORM_FUNCTIONS for a in node.names)):
            yield node.lineno, f"from stt_studio.system import {node.names[0].name}"


# -- the package ---------------------------------------------------------------------------------
def test_no_platform_only_import_runs_on_the_other_platform():
    found = [f"{path.relative_to(ROOT)}:{line}: import {module}" for path in _modules()
             for line, module in unguarded_imports(path.read_text("utf-8"))]
    assert found == [], ("platform-only imports outside a guard (`if not system.is_windows():`"
                         ", `try: ... except ImportError`):\n" + "\n".join(found))


def test_every_platform_check_goes_through_the_system_module():
    found = [f"{path.relative_to(ROOT)}:{line}: {text}" for path in _modules()
             if path != BOUNDARY for line, text in platform_checks(path.read_text("utf-8"))]
    assert found == [], ("ask stt_studio.system.is_windows() / is_macos() instead:\n"
                         + "\n".join(found))


def test_the_scan_sees_every_module():
    names = {path.relative_to(SRC).as_posix() for path in _modules()}
    assert {"system.py", "hazards.py", "entrypoints/server.py", "entrypoints/cli.py"} <= names
    assert len(names) > 40


# -- the checker itself bites --------------------------------------------------------------------
@pytest.mark.parametrize("source", [
    "import fcntl",
    "from termios import tcgetattr",
    "def f():\n    import pwd\n    return pwd",
    "import os, resource",
    "if system.is_windows():\n    import grp",
    "if sys.platform == 'win32':\n    pass\nelse:\n    pass\nimport pty",
    "try:\n    pass\nexcept ImportError:\n    import fcntl",  # the handler runs on Windows
    "try:\n    import fcntl\nexcept OSError:\n    pass",
    "import winreg",
    "if not system.is_windows():\n    import msvcrt",
])
def test_an_unguarded_platform_import_is_found(source):
    assert list(unguarded_imports(source)), source


@pytest.mark.parametrize("source", [
    "if not system.is_windows():\n    import fcntl",
    "if system.is_windows():\n    import winreg\nelse:\n    import fcntl",
    "if sys.platform != 'win32':\n    import termios",
    "if os.name == 'nt':\n    import msvcrt\nelse:\n    import pwd",
    "if system.is_macos():\n    import resource",
    "try:\n    import fcntl\nexcept ImportError:\n    fcntl = None",
    "try:\n    import msvcrt\nexcept (ImportError, AttributeError):\n    msvcrt = None",
    "def lock():\n    if not is_windows():\n        import fcntl\n        return fcntl",
    "import os\nimport sys",
])
def test_a_guarded_platform_import_passes(source):
    assert list(unguarded_imports(source)) == [], source


def test_platform_checks_outside_the_boundary_are_found():
    assert [t for _, t in platform_checks("import sys\nif sys.platform == 'win32': pass")] == [
        "sys.platform"]
    assert [t for _, t in platform_checks("import os\nwindows = os.name == 'nt'")] == ["os.name"]
    assert list(platform_checks("from stt_studio.system import is_windows"))
    assert list(platform_checks("from stt_studio import system\nsystem.is_windows()")) == []
