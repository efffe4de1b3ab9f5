"""Take docs/studio.png: the studio after transcribing a sample, in Debian's Chromium.

    .venv/bin/python scripts/screenshot.py [AUDIO] [--out docs/studio.png]
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "audio" / "A_short_en" / "jfk" / "jfk.flac"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("audio", nargs="?", type=Path, default=SAMPLE)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "studio.png")
    args = parser.parse_args()

    from stt_studio.cache import prepare_cache
    from stt_studio.settings import Settings

    settings = Settings.from_env()
    layout = prepare_cache(settings.cache_dir)
    from playwright.sync_api import sync_playwright

    from stt_studio.entrypoints.server import start
    from stt_studio.service import Studio

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    served = start(Studio(settings, layout), "127.0.0.1", port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(served.url)
            page.locator("#audio input[type=file]").set_input_files(str(args.audio))
            page.wait_for_selector("#audio a[href*='gradio_api/file=']")
            page.click("#transcribe")
            page.wait_for_function(
                "() => /^[✓✗]/.test(document.querySelector('#status textarea').value)",
                timeout=300_000)
            page.locator("#segments [data-testid='cell-0-2']").click()
            page.wait_for_selector("#segment-player a[href*='.wav']")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
    finally:
        served.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
