#!/usr/bin/env bash
# Create .venv (Python 3.11) and install stt-studio with everything it needs.
# Idempotent: does nothing when the installed set matches pyproject + constraints.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY=$candidate; break
    fi
  done
fi
[ -n "$PY" ] || { echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

stamp=.venv/.stt-studio-installed
want=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/stt-studio ]; then
  exit 0
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
# torch first, from its pinned CPU build; the constraints keep every other
# package from pulling a different torch (and gigabytes of CUDA wheels).
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -c constraints.txt -e ".[test]"
# speaker diarization: resemblyzer ships its voice encoder inside the wheel; its
# `webrtcvad` needs a compiler, so the prebuilt `webrtcvad-wheels` (same module) stands
# in, and neither may pull packages of its own (resemblyzer asks for `typing`, a
# Python 2 backport; its real needs, torch, librosa and scipy, are already here)
.venv/bin/python -m pip install -q --no-deps resemblyzer==0.1.4 webrtcvad-wheels==2.0.14.post1
.venv/bin/python -c 'import resemblyzer, webrtcvad' 2>/dev/null \
  || { echo "setup: resemblyzer did not import" >&2; exit 1; }
.venv/bin/python -m pip check >/dev/null || .venv/bin/python -m pip check || true
.venv/bin/python -c 'import torch; assert torch.__version__.startswith("2.13.0"), torch.__version__'
echo "$want" > "$stamp"
echo "setup: .venv ready"
