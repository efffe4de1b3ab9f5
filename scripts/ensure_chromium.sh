#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through pip's playwright (no
# `playwright install`: that downloads a browser and fails offline). The API
# tests also run curl, as users do.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v curl >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "setup: install Chromium first: apt-get install -y chromium" >&2; exit 1; }
  SUDO="sudo"
fi
echo "setup: installing Debian's chromium and curl for the browser and API tests"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q chromium curl >/dev/null
command -v chromium >/dev/null && command -v curl >/dev/null
