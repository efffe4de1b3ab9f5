#!/usr/bin/env bash
# Create .venv (Python 3.11) and install stt-studio with every extra and the test
# tools, through the same pip command the README gives everyone:
#   pip install -c constraints.txt -e ".[all,test]"
# constraints.txt is the exact set the tests passed with (torch 2.13.0 CPU among it).
# Idempotent: does nothing when the installed set matches pyproject + constraints.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY=$candidate; break
    fi
  done
fi
[ -n "$PY" ] || { echo "setup: Python 3.11 is required for the tested set (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

stamp=.venv/.stt-studio-installed
want=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/stt-studio ]; then
  exit 0
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install -q -c constraints.txt -e ".[all,test]"
.venv/bin/python -m pip check >/dev/null || .venv/bin/python -m pip check || true
.venv/bin/python -c 'import torch; assert torch.__version__.startswith("2.13.0"), torch.__version__'
echo "$want" > "$stamp"
echo "setup: .venv ready"
