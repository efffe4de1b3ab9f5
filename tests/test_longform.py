"""Long recordings with the bundled tiny.en: streamed, VAD-gated, in blocks, batched.

The long files are assembled at test time from the group B file (32 LJ Speech
sentences, 222 s, with its reference text): repeated 4x (15 min) for timestamps
across many blocks, followed by a quiet room up to 10 and 60 minutes for memory.
Transcriptions are shared through module fixtures: each runs once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from stt_studio import longform
from stt_studio import service as service_module
from stt_studio.audio import pieces
from stt_studio.domain import SAMPLE_RATE_HZ, Transcript, TranscriptionOptions, Word
from stt_studio.evaluation import normalize_text, word_error_rate
from tests.conftest import ROOT, make_studio
from tests.support.longaudio import (
    B_LONG,
    assert_monotonic,
    low_noise,
    speech,
    words_of,
    write_wav,
)

pytestmark = pytest.mark.slow  # tiny.en on several minutes of speech

#: tiny.en's WER on the group B file is ~6 % (lowercase+strip-punctuation)
WER_BOUND = 0.08
PROBE = ROOT / "tests" / "support" / "rss_probe.py"


@dataclass(frozen=True, slots=True)
class Run:
    transcript: Transcript
    wer: float


@pytest.fixture(scope="module")
def reference(manifest) -> str:
    (clip,) = [c for c in manifest if c.group == "B"]
    assert clip.path == B_LONG and clip.text
    return clip.text


def run(studio, path: Path, reference: str, options: TranscriptionOptions) -> Run:
    transcript = studio.transcribe_file(path, "tiny.en", options).transcript
    return Run(transcript, word_error_rate([(reference, transcript.text)]).wer)


@pytest.fixture(scope="module")
def default_run(session_studio, reference) -> Run:
    """Default settings: the whole 222 s file is one block, VAD pieces batched by 8."""
    return run(session_studio, B_LONG, reference, TranscriptionOptions())


@pytest.fixture(scope="module")
def blocked_run(session_layout, reference) -> Run:
    """The same with 60 s blocks: four blocks, each cut at a pause."""
    return run(make_studio(session_layout, block_s=60), B_LONG, reference, TranscriptionOptions())


@pytest.fixture(scope="module")
def no_vad_run(session_studio, reference) -> Run:
    """No VAD: 30 s pieces cut through speech every 26 s, each hearing 2 s past its seams."""
    return run(session_studio, B_LONG, reference, TranscriptionOptions(vad=False))


@pytest.fixture(scope="module")
def sequential_run(session_studio, reference) -> Run:
    return run(session_studio, B_LONG, reference, TranscriptionOptions(batch_size=1))


@dataclass(frozen=True, slots=True)
class LongRun:
    transcript: Transcript
    file_s: float
    blocks_s: tuple[tuple[float, float], ...]  # (offset, duration) of each block


@pytest.fixture(scope="module")
def long_run(session_layout, tmp_path_factory) -> LongRun:
    """The group B file 4x (~15 min) in 60 s blocks (16 of them), the blocks seen on their way."""
    path = tmp_path_factory.mktemp("longform") / "b_x4.wav"
    file_s = write_wav(path, [speech(B_LONG)] * 4)
    seen: list[tuple[float, float]] = []
    real_blocks = service_module.blocks

    def watched(*args, **kwargs):
        for block in real_blocks(*args, **kwargs):
            seen.append((block.offset_s, block.duration_s))
            yield block

    # greedy decoding: what is under test is the blocks, and it saves 40 % of the time
    options = TranscriptionOptions(beam_size=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service_module, "blocks", watched)
        transcript = make_studio(session_layout, block_s=60).transcribe_file(
            path, "tiny.en", options).transcript
    path.unlink()
    return LongRun(transcript, file_s, tuple(seen))


# -- long file ------------------------------------------------------------------------

def test_a_15_minute_file_in_60_s_blocks_keeps_time_in_order(long_run, reference):
    transcript = long_run.transcript
    assert long_run.file_s > 880
    assert len(long_run.blocks_s) >= 15
    assert all(duration <= 60.0 for _, duration in long_run.blocks_s)
    assert transcript.duration_s == pytest.approx(long_run.file_s, abs=1e-3)
    assert_monotonic(transcript.segments, transcript.duration_s)
    # the last copy is heard to its end, in the last 222 s
    last_words = [t.word for t in words_of(transcript.segments)][-5:]
    assert all(w.start_s > long_run.file_s - 222 for w in last_words)
    assert word_error_rate([(" ".join([reference] * 4), transcript.text)]).wer <= WER_BOUND


def test_blocks_cost_no_accuracy(default_run, blocked_run):
    assert default_run.wer <= WER_BOUND
    assert abs(blocked_run.wer - default_run.wer) <= 0.005, (blocked_run.wer, default_run.wer)
    for r in (default_run, blocked_run):
        assert r.transcript.duration_s == pytest.approx(221.746, abs=0.01)
        assert_monotonic(r.transcript.segments, r.transcript.duration_s)


# -- seams through words ---------------------------------------------------------------

def seams_without_vad(studio, total_s: float) -> list[float]:
    """Where the studio cuts the group B file with VAD off, from its own plan."""
    loaded = studio.load("tiny.en")
    options = TranscriptionOptions(vad=False)
    chosen = longform.choose(loaded.info, loaded.spec, options, total_s, studio.settings)
    assert chosen.overlap_s == longform.SEAM_OVERLAP_S > 0
    samples = speech(B_LONG)
    planned = pieces.plan(samples, chosen.speech(samples), max_piece_s=chosen.max_piece_s,
                          overlap_s=chosen.overlap_s)
    return [p.own_end / SAMPLE_RATE_HZ for p in planned[:-1]]


def trigrams(words: list[str]) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i:i + 3]) for i in range(len(words) - 2))


def test_pieces_cut_through_speech_keep_each_word_once(session_studio, no_vad_run, default_run,
                                                      reference):
    transcript = no_vad_run.transcript
    seams = seams_without_vad(session_studio, transcript.duration_s)
    assert len(seams) >= 7
    words: list[Word] = sorted((t.word for t in words_of(transcript.segments)),
                               key=lambda w: w.start_s)
    for a, b in zip(words, words[1:]):  # the same word twice, at the same time
        if normalize_text(a.text) == normalize_text(b.text):
            assert b.start_s >= a.end_s, f"{a} doubled as {b}"
    in_reference = trigrams(normalize_text(reference).split())
    for seam in seams:  # a phrase heard by both pieces of a seam comes back once
        near = [w for w in words if seam - 6.0 <= (w.start_s + w.end_s) / 2 <= seam + 6.0]
        assert len(near) >= 10, f"no speech around the seam at {seam:.1f} s"
        texts = normalize_text(" ".join(w.text for w in near)).split()
        repeated = {g: n for g, n in trigrams(texts).items() if n > max(in_reference[g], 1)}
        assert not repeated, f"doubled at the seam at {seam:.1f} s: {repeated}"
    assert no_vad_run.wer <= default_run.wer + 0.01, (no_vad_run.wer, default_run.wer)
    assert_monotonic(transcript.segments, transcript.duration_s)


def test_cut_pieces_without_word_timestamps_still_join_on_words(session_studio, no_vad_run):
    """Words are asked of the engine for the merge, then dropped: no segment comes twice."""
    plain = session_studio.transcribe_file(
        B_LONG, "tiny.en", TranscriptionOptions(vad=False, word_timestamps=False)).transcript
    assert plain.segments and all(seg.words == () for seg in plain.segments)
    assert plain.text == no_vad_run.transcript.text
    for a, b in zip(plain.segments, plain.segments[1:]):
        assert b.start_s >= a.end_s - 0.05, f"{a.text!r} and {b.text!r} overlap: heard twice"


# -- batched and sequential ------------------------------------------------------------

def test_batched_and_sequential_are_both_accurate_and_in_order(default_run, sequential_run):
    for r in (default_run, sequential_run):  # default batch_size is 8
        assert r.wer <= WER_BOUND, r.wer
        assert_monotonic(r.transcript.segments, r.transcript.duration_s)
        assert r.transcript.language == "en"


# -- memory ----------------------------------------------------------------------------

def probe(mode: str, recording: Path, cache: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(PROBE), mode, str(recording), str(cache), *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def peak(process: subprocess.Popen[str]) -> dict[str, float]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_memory_does_not_grow_with_the_recording(tmp_path):
    """10 and 60 minutes (B once, then a quiet room) peak within 100 MB of each other.

    Each run is a process of its own (peak RSS from getrusage); the three run at
    once. The third holds the 60-minute recording decoded, as the old studio
    did, to show the bound would catch that (230 MB of float32).
    """
    spoken = speech(B_LONG)
    speech_s = len(spoken) / SAMPLE_RATE_HZ
    files = {}
    for minutes in (10, 60):
        files[minutes] = tmp_path / f"b_then_quiet_{minutes}min.wav"
        write_wav(files[minutes], [spoken, low_noise(minutes * 60 - speech_s, seed=minutes)])
    cache = tmp_path / "cache"
    running: list[subprocess.Popen[str]] = []
    try:
        running += [probe("stream", files[10], cache), probe("stream", files[60], cache),
                   probe("whole", files[60], cache, f"{speech_s:.3f}")]
        ten, sixty, whole = (peak(p) for p in running)
    finally:
        for p in running:
            if p.poll() is None:
                p.kill()
        for path in files.values():
            path.unlink()
    assert ten["duration_s"] == pytest.approx(600.0, abs=0.01)
    assert sixty["duration_s"] == pytest.approx(3600.0, abs=0.01)
    assert ten["words"] > 500 and sixty["words"] == ten["words"]  # B heard, the quiet room not
    growth_mb = sixty["peak_rss_mb"] - ten["peak_rss_mb"]
    assert growth_mb < 100, (ten, sixty)
    assert sixty["peak_rss_mb"] < 1200, sixty
    # the same measurement catches a whole-file decode
    assert whole["peak_rss_mb"] - ten["peak_rss_mb"] > 150, (ten, whole)
