"""A cache folder the user may not write to, seen through the real server and browser.

Root ignores permission bits, so the server runs without the capabilities that
let it (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH): a read-only folder then bites
exactly as it does for a normal user whose cache an administrator created.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest

from stt_studio.cache import CacheLayout
from tests.conftest import ROOT
from tests.support.browser import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _as_plain_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *command]


@pytest.fixture()
def readonly_cache(tmp_path):
    """A complete cache tree, all of it read-only (as if made by another account)."""
    layout = CacheLayout(tmp_path / "cache")
    for folder in (layout.tmp_dir, layout.hf_hub_cache, layout.nemo_cache, layout.torch_home,
                   layout.extracted_dir, layout.locks_dir, layout.xdg_cache):
        folder.mkdir(parents=True, exist_ok=True)
    folders = sorted((p for p in layout.root.rglob("*") if p.is_dir()), reverse=True)
    for folder in [*folders, layout.root]:
        folder.chmod(0o555)
    yield layout
    for folder in [layout.root, *layout.root.rglob("*")]:
        if folder.is_dir():
            folder.chmod(0o755)


@pytest.fixture()
def restricted_server(readonly_cache, tmp_path):
    port = free_port()
    log_path = tmp_path / "server.log"
    (tmp_path / "systmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "systmp"), "HF_HUB_OFFLINE": "1",
           "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "stt_studio.entrypoints.cli", "serve", "--no-preload",
               "--port", str(port), "--cache-dir", str(readonly_cache.root)]
    with log_path.open("w") as log:
        proc = subprocess.Popen(_as_plain_user(command), cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the server did not start:\n{log_path.read_text()}")
            time.sleep(0.5)
    yield url, log_path
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_readonly_cache_is_named_in_the_status_box(open_page, restricted_server,
                                                   readonly_cache, tiny_nemo, jfk):
    url, log_path = restricted_server
    page = open_page(url)
    cache = str(readonly_cache.root)
    # said at once, before anything fails
    greeting = page.status()
    assert greeting.startswith("⚠ The cache folder is not writable"), greeting
    assert "Permission denied" in greeting and cache in greeting

    # the bundled model needs no cache writes: it still works
    page.upload(jfk)
    status = page.transcribe()
    assert status.startswith("✓ Transcribed jfk.flac"), status

    # a .nemo model must be unpacked into the cache: a readable permission error
    page.type_model(str(tiny_nemo["tdt"]))
    status = page.transcribe()
    assert status.startswith("✗ Failed while"), status
    assert "Permission denied: not allowed to" in status
    assert cache in status and "chmod -R u+rwX" in status and "--cache-dir" in status
    assert page.transcript() == ""
    console = log_path.read_text()
    assert "Traceback (most recent call last)" in console and "PermissionError" in console
