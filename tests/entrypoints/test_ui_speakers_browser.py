"""Speakers in a real browser: choose a count, see who said what, rename, download."""

from __future__ import annotations

import zipfile

import pytest
import srt

from tests.entrypoints.test_ui_speakers import conversation_wav

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: the background colour of a segment-table cell (the cell, or the cell it sits in)
CELL_COLOUR_JS = """([row, col]) => {
  let el = document.querySelector(`#segments [data-testid='cell-${row}-${col}']`);
  while (el && el.id !== 'segments') {
    const colour = getComputedStyle(el).backgroundColor;
    if (colour && colour !== 'rgba(0, 0, 0, 0)' && colour !== 'transparent') return colour;
    el = el.parentElement;
  }
  return null;
}"""


def test_two_speakers_renamed_reach_the_downloaded_srt(studio_url, open_page, tmp_path):
    audio = conversation_wav(tmp_path)
    page = open_page(studio_url)
    page.upload(audio)
    assert page.page.locator("#speaker-names").is_hidden()
    page.page.locator("#speakers input").click()
    page.page.get_by_role("option", name="2", exact=True).click()
    status = page.transcribe(timeout_s=180)
    assert status.startswith("✓ Transcribed conversation.wav\n"), status
    assert " · 2 speakers" in status

    rows = page.table("segments")
    assert all(len(row) == 4 for row in rows)
    assert {row[2] for row in rows} == {"Speaker 1", "Speaker 2"}
    first = next(n for n, row in enumerate(rows) if row[2] == "Speaker 1")
    second = next(n for n, row in enumerate(rows) if row[2] == "Speaker 2")
    colours = [page.page.evaluate(CELL_COLOUR_JS, [n, 2]) for n in (first, second)]
    assert None not in colours and colours[0] != colours[1], colours
    assert page.transcript().startswith("Speaker 1: ")

    name = page.page.locator("#speaker-name-1").locator("input, textarea")
    assert page.page.locator("#speaker-name-1 label, #speaker-name-1 span").first.inner_text() \
        .startswith("Speaker 1")
    assert page.page.locator("#speaker-name-3").is_hidden()  # two speakers, two boxes
    name.fill("Alice")
    page.page.evaluate("document.querySelector('#status textarea').value = ''")
    page.page.click("#rename")
    page.page.wait_for_function("""() => document.querySelector('#status textarea').value
                                   .startsWith('✓ Speaker names applied')""")
    page.page.wait_for_function(
        "() => document.querySelector('#transcript textarea').value.startsWith('Alice: ')")
    assert {row[2] for row in page.table("segments")} == {"Alice", "Speaker 2"}

    subtitles = page.download("#downloads a[download='conversation.srt']", tmp_path).read_text(
        "utf-8")
    assert "[Alice]" in subtitles and "[Speaker 1]" not in subtitles, subtitles
    assert list(srt.parse(subtitles))[0].content.startswith("[Alice] ")
    zipped = page.download("#zip a[download]", tmp_path / "zip")
    with zipfile.ZipFile(zipped) as archive:
        assert archive.read("conversation.srt").decode("utf-8") == subtitles
