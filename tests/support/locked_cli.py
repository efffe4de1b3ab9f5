"""Run the ``stt-studio`` CLI in this process with one OS call made to fail like a lock.

``python -m tests.support.locked_cli ARGS...`` (from the project root) runs
``stt_studio.entrypoints.cli.main(ARGS)`` after patching the call named in the
``STT_TEST_LOCK`` environment variable, a JSON object::

    {"call": "shutil.move", "contains": ".incomplete", "shape": "WinError 32",
     "failures": 2, "report": "/tmp/.../faults.json"}

Calls whose first argument contains ``contains`` raise the lock ``shape``
(see :func:`tests.support.faults.lock_shape`) the first ``failures`` times
(``null``: always). ``report`` receives how often the call matched and raised.
This is how a test injects a lock into code that must run in a fresh process,
such as huggingface_hub, which reads ``HF_ENDPOINT`` once at import.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil  # noqa: F401 - imported before os is patched: it inspects os at import
import sys
from pathlib import Path
from typing import Any

from tests.support.faults import Flaky, lock_shape

SPEC_VARIABLE = "STT_TEST_LOCK"


def install(spec: dict[str, Any]) -> Flaky:
    module_name, _, attribute = str(spec["call"]).rpartition(".")
    module = importlib.import_module(module_name)
    needle = str(spec["contains"])

    def match(*args: Any, **kwargs: Any) -> bool:
        return bool(args) and needle in os.fsdecode(args[0])

    flaky = Flaky(getattr(module, attribute), spec["failures"], lock_shape(spec["shape"]),
                  match)
    setattr(module, attribute, flaky)
    return flaky


def main(argv: list[str]) -> int:
    spec = json.loads(os.environ[SPEC_VARIABLE])
    flaky = install(spec)
    from stt_studio.entrypoints.cli import main as cli_main

    try:
        return cli_main(argv)
    finally:
        Path(spec["report"]).write_text(
            json.dumps({"matched": flaky.matched, "raised": flaky.raised}), "utf-8")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
