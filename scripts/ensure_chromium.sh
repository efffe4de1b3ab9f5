#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through pip's playwright (no
# `playwright install`: that downloads a browser and fails offline).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "setup: install Chromium first: apt-get install -y chromium" >&2; exit 1; }
  SUDO="sudo"
fi
echo "setup: installing Debian's chromium for the browser tests"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q chromium >/dev/null
command -v chromium >/dev/null
