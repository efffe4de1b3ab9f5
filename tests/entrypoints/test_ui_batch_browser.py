"""Several recordings at once, the zip of all outputs, and Cancel, in a real browser."""

from __future__ import annotations

import json
import time
import zipfile

import pytest
import srt

from tests.conftest import SHARED_AUDIO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

A = SHARED_AUDIO / "A_short_en"
CLIPS = [A / "ljspeech" / "LJ001-0013.wav", A / "librivox_pocketsphinx" /
         "sense_and_sensibility_01_austen_64kb-0880.wav", A / "librispeech" / "61-70968-0000.flac"]
LONG = SHARED_AUDIO / "B_long" / "CONSTRUCTED_ljspeech_LJ001-0001_to_0032_concatenated.wav"
IS_WORKING_ON_THE_LONG_FILE = """(name) => {
  const box = document.querySelector('#status textarea');
  return box.value.startsWith(`⏳ file 2 of 3: ${name} — transcribing…`);
}"""


def zip_members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def test_three_files_at_once_give_a_table_and_a_zip_of_every_output(studio_url, open_page,
                                                                     tmp_path):
    page = open_page(studio_url)
    page.upload(CLIPS)
    page.page.locator("#formats").get_by_label("json").check()
    status = page.transcribe()
    assert status.startswith("✓ Transcribed 3 files\n"), status
    assert page.table("results") == [[CLIPS[0].name, "2.6 s", "done"],
                                     [CLIPS[1].name, "3.0 s", "done"],
                                     [CLIPS[2].name, "4.9 s", "done"]]

    members = zip_members(page.download("#zip a[download]", tmp_path))
    assert set(members) == {f"{clip.stem}.{fmt}" for clip in CLIPS
                            for fmt in ("srt", "txt", "json")}
    for clip in CLIPS:
        text = members[f"{clip.stem}.txt"].decode("utf-8").strip()
        assert text and json.loads(members[f"{clip.stem}.json"])["text"].split() == text.split()
        cues = list(srt.parse(members[f"{clip.stem}.srt"].decode("utf-8")))
        assert " ".join(c.content for c in cues).split() == text.split()
    # the first file is shown; a click on the last row shows the last one
    assert page.transcript() == members[f"{CLIPS[0].stem}.txt"].decode("utf-8").strip()
    page.page.locator("#results [data-testid='cell-2-0']").click()
    page.page.wait_for_function(
        "(text) => document.querySelector('#transcript textarea').value === text",
        arg=members[f"{CLIPS[2].stem}.txt"].decode("utf-8").strip())
    page.page.wait_for_selector(f"#downloads a[download='{CLIPS[2].stem}.srt']")
    assert page.page.locator("#show-file input").input_value() == CLIPS[2].name


def test_cancel_stops_a_long_job_and_the_page_is_ready_again(studio_url, open_page, tmp_path,
                                                             jfk):
    page = open_page(studio_url)
    assert page.page.locator("#cancel").is_disabled()  # nothing to cancel yet
    page.upload([CLIPS[0], LONG, CLIPS[1]])
    page.page.get_by_text("Advanced").click()
    page.set_number("batch-size", 1)  # sequential: a checkpoint every 30 s of audio
    page.page.evaluate("document.querySelector('#status textarea').value = ''")
    page.page.click("#transcribe")
    page.page.wait_for_function(IS_WORKING_ON_THE_LONG_FILE, arg=LONG.name, timeout=60_000)
    assert page.page.locator("#transcribe").is_disabled()
    page.page.click("#cancel")
    clicked = time.monotonic()
    status = page.wait_done(timeout_s=60)
    assert time.monotonic() - clicked < 10, status  # far less than the rest of the file
    lines = status.splitlines()
    assert lines[0].startswith("⏹ Cancelled while transcribing") and LONG.name in lines[0]
    assert f"  finished: {CLIPS[0].name} — their outputs stay downloadable" in lines
    assert f"  stopped: {LONG.name} — nothing was written for it" in lines
    assert f"  not run: {CLIPS[1].name}" in lines
    assert [row[2] for row in page.table("results")] == ["done", "cancelled", "not run"]
    members = zip_members(page.download("#zip a[download]", tmp_path))
    assert set(members) == {f"{CLIPS[0].stem}.srt", f"{CLIPS[0].stem}.txt"}

    # ready for the next job: Transcribe is back, and a short file goes through
    page.page.wait_for_function("() => !document.querySelector('#transcribe').disabled")
    assert page.page.locator("#cancel").is_disabled()
    page.clear_upload()
    page.upload(jfk)
    status = page.transcribe()
    assert status.startswith("✓ Transcribed jfk.flac\n"), status
    assert "fellow Americans" in page.transcript()
    assert page.table("results") == [["jfk.flac", "11 s", "done"]]
