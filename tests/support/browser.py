"""Driving the studio's web UI in Debian's Chromium through pip's playwright.

No `playwright install`: the browser is /usr/bin/chromium (installed by
`make test`), started with flags that keep it off the network; every page
records its requests so a test can prove that nothing left 127.0.0.1.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OFFLINE_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
]
LOCAL = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/")
DONE_JS = """() => {
  const box = document.querySelector('#status textarea');
  return box && ['✓', '✗', '⏹'].some((mark) => box.value.startsWith(mark));
}"""
RUNNING_JS = """(last) => {
  const box = document.querySelector('#status textarea');
  return box && (box.value.startsWith('⏳')
                 || (box.value !== last && ['✓', '✗', '⏹'].some((m) => box.value.startsWith(m))));
}"""
UPLOADED_JS = """(n) =>
  document.querySelectorAll("#audio a[href*='gradio_api/file=']").length >= n"""
TABLE_JS = """(id) => {
  const grid = document.querySelector(`#${id} [role=grid]`);
  const rows = Number(grid.getAttribute('aria-rowcount')) - 1;
  const cols = Number(grid.getAttribute('aria-colcount'));
  const cell = (r, c) => grid.querySelector(`[data-testid='cell-${r}-${c}']`).innerText.trim();
  return Array.from({length: rows}, (_, r) => Array.from({length: cols}, (_, c) => cell(r, c)));
}"""


def mic_args(wav: Path) -> list[str]:
    return ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(studio: Any, heartbeat_s: float = 0.2, stale_after_s: float = 15.0,
            ) -> Iterator[Any]:
    """The studio's real app on a free loopback port; yields its URL (a str)."""
    served = start_app(studio, heartbeat_s, stale_after_s)
    try:
        yield served.url
    finally:
        served.close()


def start_app(studio: Any, heartbeat_s: float = 0.2, stale_after_s: float = 15.0) -> Any:
    from stt_studio.entrypoints.server import start

    return start(studio, "127.0.0.1", free_port(), heartbeat_s=heartbeat_s,
                 stale_after_s=stale_after_s)


@dataclass
class StudioPage:
    """One browser page on the studio, with the steps tests repeat."""

    page: Any
    url: str
    requests: list[str] = field(default_factory=list)

    def open(self) -> StudioPage:
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto(self.url)
        self.page.wait_for_selector("#transcribe")
        return self

    def outside_requests(self) -> list[str]:
        return [u for u in self.requests
                if not LOCAL.match(u) and not u.startswith(("data:", "blob:"))]

    def upload(self, path: Path | Sequence[Path]) -> None:
        """Put one or several files into the upload box at once; wait until all are up."""
        paths = [path] if isinstance(path, Path) else list(path)
        self.page.locator("#audio input[type=file]").set_input_files([str(p) for p in paths])
        self.page.wait_for_function(UPLOADED_JS, arg=len(paths), timeout=30_000)

    def clear_upload(self) -> None:
        """Empty the upload box (a new upload adds to the files already there)."""
        self.page.locator("#audio button[aria-label='Clear']").click()
        self.page.wait_for_function(
            "() => !document.querySelector(\"#audio a[href*='gradio_api/file=']\")")

    def table(self, elem_id: str) -> list[list[str]]:
        """The cells of a Dataframe, row by row (without the header)."""
        return [list(row) for row in self.page.evaluate(TABLE_JS, elem_id)]

    def download(self, link: str, folder: Path) -> Path:
        """Click a download link as a user does; the saved file."""
        with self.page.expect_download() as info:
            self.page.locator(link).click()
        target = folder / info.value.suggested_filename
        info.value.save_as(target)
        return target

    def set_number(self, elem_id: str, value: int) -> None:
        """Type a value into a slider's number box (its accordion must be open).

        The box takes the value when it loses focus; until the accordion has
        settled, Gradio may put the old value back, so this checks and retries.
        """
        box = self.page.locator(f"#{elem_id} input[type=number]")
        slider = self.page.locator(f"#{elem_id} input[type=range]")
        box.wait_for(state="visible")
        for _ in range(5):
            box.fill(str(value))
            box.press("Tab")
            self.page.wait_for_timeout(300)
            if box.input_value() == slider.input_value() == str(value):
                return
        raise AssertionError(f"#{elem_id} did not take the value {value}")

    def type_model(self, value: str) -> None:
        box = self.page.locator("#model input")
        box.click()
        box.fill(value)
        box.press("Enter")
        self.page.locator("#status").click()  # blur: Gradio commits a custom value
        # and renders it back once its state holds it: a click before that sends the old
        # model (a fresh clone's run transcribed with tiny.en again, "✓" for the nemo step)
        self.page.wait_for_function(
            "(v) => document.querySelector('#model input').value === v", arg=value,
            timeout=10_000)
        self.page.wait_for_timeout(300)

    def transcribe(self, timeout_s: float = 120) -> str:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        # forget the last outcome, so the wait below sees only this run's
        last = self.status()
        self.page.evaluate("document.querySelector('#status textarea').value = ''")
        self.page.click("#transcribe")
        # Gradio may render the last outcome back before this run's first "⏳" line
        # (seen on a busy machine): wait for this run to show (working, or an outcome
        # other than the last one), then for its outcome
        try:
            self.page.wait_for_function(RUNNING_JS, arg=last, timeout=15_000)
        except PlaywrightTimeout:
            pass  # the same outcome, word for word, as the last run's
        return self.wait_done(timeout_s)

    def wait_done(self, timeout_s: float = 120) -> str:
        self.page.wait_for_function(DONE_JS, timeout=timeout_s * 1000)
        return self.status()

    def status(self) -> str:
        return str(self.page.locator("#status textarea").input_value())

    def transcript(self) -> str:
        return str(self.page.locator("#transcript textarea").input_value())
