"""The studio UI in a real browser: the normal path, bad audio, locked files."""

from __future__ import annotations

import io
import wave

import srt

from stt_studio.retry import RetryPolicy
from tests.conftest import SHARED_AUDIO, make_studio
from tests.support.browser import serving
from tests.support.faults import inject

pytestmark = [__import__("pytest").mark.browser, __import__("pytest").mark.slow]

CORRUPT = SHARED_AUDIO / "D_awkward" / "evil_corrupt.wav"
EMPTY = SHARED_AUDIO / "D_awkward" / "null_zero_samples.wav"
VIDEO = SHARED_AUDIO / "D_awkward" / "formats" / "p001.mp4"


def _seconds(clock: str) -> float:
    """``1:02.3`` (the segment table's clock) in seconds."""
    minutes, seconds = clock.split(":")
    return int(minutes) * 60 + float(seconds)


def _words(text: str) -> set[str]:
    return {w.strip(".,!?;:").lower() for w in text.split()}


def test_upload_transcribe_and_download_srt(studio_url, open_page, jfk, tmp_path):
    page = open_page(studio_url)
    page.upload(jfk)
    status = page.transcribe()
    assert status.startswith("✓ Transcribed jfk.flac"), status
    for part in ("audio: 11 s", "real time", "model: tiny.en (whisper) on cpu", "jfk.srt"):
        assert part in status
    assert {"fellow", "americans", "country"} <= _words(page.transcript())

    link = page.page.locator("#downloads a[download='jfk.srt']")
    with page.page.expect_download() as info:
        link.click()
    saved = tmp_path / "jfk.srt"
    info.value.save_as(saved)
    subtitles = list(srt.parse(saved.read_text("utf-8")))
    assert subtitles and all(s.start < s.end for s in subtitles)
    assert subtitles[-1].end.total_seconds() <= 11.1
    assert "fellow Americans" in " ".join(s.content for s in subtitles)

    rows = page.table("segments")  # the table and the subtitles say the same words
    assert " ".join(r[2] for r in rows).split() == " ".join(
        s.content for s in subtitles).split()
    last = len(rows) - 1
    page.page.locator(f"#segments [data-testid='cell-{last}-2']").click()
    # the player now holds exactly that segment's audio
    link = page.page.locator("#segment-player a[href*='gradio_api/file='][href$='.wav']")
    clip = page.page.request.get(link.get_attribute("href")).body()
    with wave.open(io.BytesIO(clip)) as wav:
        clip_s = wav.getnframes() / wav.getframerate()
    start, end = (_seconds(clock) for clock in rows[last][:2])
    assert abs(clip_s - (end - start)) < 0.11  # the table shows tenths of a second


def test_video_container_upload(studio_url, open_page):
    page = open_page(studio_url)
    page.upload(VIDEO)
    status = page.transcribe()
    assert status.startswith("✓ Transcribed p001.mp4"), status
    assert {"fairest", "creatures"} <= _words(page.transcript())


def test_microphone_recording(studio_url, open_page):
    page = open_page(studio_url)
    page.page.get_by_role("tab", name="Record").click()
    page.page.locator("#mic").get_by_role("button", name="Record").click()
    page.page.wait_for_timeout(6000)
    page.page.locator("#mic").get_by_role("button", name="Stop").click()
    page.page.get_by_role("tab", name="Upload").click()
    page.page.wait_for_selector("#audio a[href*='gradio_api/file=']")
    status = page.transcribe()
    assert status.startswith("✓ Transcribed"), status
    # six seconds from wherever the fake microphone's loop of JFK happens to be
    heard = _words(page.transcript())
    assert heard & {"fellow", "americans", "america", "ask", "country"}, heard


def test_no_recording_says_what_to_do(studio_url, open_page):
    page = open_page(studio_url)
    page.page.click("#transcribe")
    page.page.wait_for_function(
        "() => document.querySelector('#status textarea').value.startsWith('No recording')")
    assert "upload an audio or video file" in page.status()


def test_corrupt_audio_shows_the_audio_error(studio_url, open_page):
    page = open_page(studio_url)
    page.upload(CORRUPT)
    status = page.transcribe()
    assert status.startswith("✗ Failed while decoding audio (evil_corrupt.wav)"), status
    assert "Cannot read the audio" in status and "What to do:" in status
    assert "Cache folder:" in status
    assert page.transcript() == ""


def test_empty_audio_shows_the_audio_error(studio_url, open_page):
    page = open_page(studio_url)
    page.upload(EMPTY)
    status = page.transcribe()
    # the stream finds the file empty when it first reads from it (decoding or transcribing)
    assert status.startswith("✗ Failed while ") and status.splitlines()[0].endswith(
        " (null_zero_samples.wav)"), status
    assert "Cannot read the audio" in status and "no audio" in status.lower()


def test_lock_released_after_two_tries(open_page, fresh_layout, monkeypatch, jfk, caplog):
    import faster_whisper

    caplog.set_level("WARNING", logger="stt_studio")
    loader = inject(monkeypatch, faster_whisper, "WhisperModel", 2)
    studio = make_studio(fresh_layout, retry=RetryPolicy((0.1, 0.2, 0.3)))
    with serving(studio) as url:
        page = open_page(url)
        page.upload(jfk)
        status = page.transcribe()
    assert loader.raised == 2
    assert status.startswith("✓ Transcribed jfk.flac"), status
    assert "Recovered from a locked file after 2 retries" in status
    assert status.count("being used by another process") == 2
    assert {"fellow", "americans"} <= _words(page.transcript())
    assert len([r for r in caplog.records if "retry" in r.getMessage()]) == 2


def test_persistent_lock_shows_remedies_and_cache(open_page, fresh_layout, monkeypatch, jfk):
    import faster_whisper

    inject(monkeypatch, faster_whisper, "WhisperModel", None)
    studio = make_studio(fresh_layout, retry=RetryPolicy((0.1, 0.2, 0.3)))
    with serving(studio) as url:
        page = open_page(url)
        page.upload(jfk)
        status = page.transcribe()
    assert status.startswith("✗ Failed while"), status
    for phrase in ("A file is locked by another program", "antivirus", "OneDrive",
                   "Exclude the cache folder", str(fresh_layout.root), "retry 3/3"):
        assert phrase in status, phrase
    assert page.transcript() == ""


def test_language_and_task_follow_the_model(studio_url, open_page):
    page = open_page(studio_url)
    language = page.page.locator("#language")
    task = page.page.locator("#task")
    assert not language.is_visible() and not task.is_visible()  # tiny.en: English only

    page.page.locator("#model input").click()
    page.page.get_by_role(
        "option", name="nvidia/canary-180m-flash · nemo · download 730 MB").click()
    language.wait_for(state="visible")
    task.wait_for(state="visible", timeout=5000)
    page.page.locator("#target-language").wait_for(state="visible", timeout=5000)
    assert page.page.locator("#language input").input_value() == "en"
    page.page.locator("#language input").click()
    options = page.page.locator("#language [role=option]")
    options.first.wait_for()
    assert {o.strip("✓ ").strip() for o in options.all_inner_texts()} == {"en", "de", "es", "fr"}


def test_a_model_that_is_not_downloaded_offline_is_a_network_message(studio_url, open_page,
                                                                      jfk):
    page = open_page(studio_url)
    page.upload(jfk)
    page.page.locator("#model input").click()
    page.page.get_by_role("option", name="nvidia/parakeet-ctc-0.6b · nemo · download 2440 MB",
                          exact=True).click()
    status = page.transcribe()
    assert status.startswith("✗ Failed while"), status
    assert ("Network or download error: nvidia/parakeet-ctc-0.6b is not in the cache and "
            "downloads are turned off (HF_HUB_OFFLINE)") in status
    assert "Cache folder:" in status or "huggingface" in status


def test_a_misspelled_model_is_named(studio_url, open_page, jfk):
    page = open_page(studio_url)
    page.upload(jfk)
    page.type_model("parakeet-xl")  # matches no option: kept as typed
    status = page.transcribe()
    assert "Model not found: unknown model 'parakeet-xl'" in status
    assert "stt-studio models" in status and "nvidia/parakeet-tdt-0.6b-v2" in status
