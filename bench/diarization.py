"""Speaker diarization for issue 10: DER, speakers found, speed, and the time it adds.

Run through ``make bench`` (all sections) or ``python bench/diarization.py``
(``--quick``: ~1 min conversations, one repeat; its section says so).

Three conversations built from the shared clips with known turns
(tests/support/conversations.py): 2, 3 and 4 speakers, ~2.5 min each, turns of
2-9 s (seeded) in rounds where each speaks once, pauses of ~0.6 s. The voices are the four with the most speech
(LJ Speech, the MFA speaker, LibriSpeech 2412 and 1221); a voice's speech is
reused cyclically once it runs out, so later turns repeat earlier audio.

For each, in one process with Whisper tiny.en (bundled, int8, CPU) loaded and
warmed: a plain transcription and one with ``diarize=True`` (the studio's
defaults otherwise, word timestamps on in both), interleaved, ``--repeats``
times; the best of each. The diarizer the studio builds is wrapped so the
time spent in its ``add()`` (energy trim, windows, mel, GE2E embeddings) and
``turns()`` (clustering, frames, turns) is measured inside the real run, and
its turns are kept:

- DER: frame-level (10 ms), missed + false alarm + confusion over the
  reference speech, best speaker mapping, no collar (``conversations.der``),
  on the diarizer's turns (speech as the studio's VAD found it);
- words: share of words whose speaker is the reference turn's they fall in;
- diarization RTFx: audio seconds / (add + turns) seconds;
- added time: diarized wall / plain wall - 1 (target <= 25 %).

Results: bench/work/results/diarization{-quick}.json and the section
"## Speaker diarization (issue 10)" of bench/RESULTS.md (kept in
bench/work/sections/f_diarization.md, so bench/long_form.py keeps it too).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sections  # bench/sections.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION_FILE = WORK / "sections" / "f_diarization.md"
HEADING = "## Speaker diarization (issue 10)"
MODEL = "tiny.en"
TARGET_ADDED = 0.25
TARGET_DER = 0.15
VOICES = ("lj", "mfa", "ls2412", "ls1221")

sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
from stt_studio.cache import prepare_cache  # noqa: E402  (the cache before heavy imports)

LAYOUT = prepare_cache(WORK / "cache")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@dataclass(frozen=True, slots=True)
class Figures:
    speakers: int
    audio_s: float
    turns: int
    plain_s: list[float]
    diarized_s: list[float]
    add_s: list[float]  # the tracker's add() calls, per diarized run
    turns_s: list[float]  # its turns() call, per diarized run
    der: float
    missed: float  # of the DER: reference speech the diarizer calls silence
    false_alarm: float
    missed_outside_vad: float  # share of the missed speech the VAD did not pass on
    found: int
    words: int
    word_agreement: float
    found_given_count: int  # speakers=N given: what came out

    @property
    def best_plain_s(self) -> float:
        return min(self.plain_s)

    @property
    def best_diarized_s(self) -> float:
        return min(self.diarized_s)

    @property
    def diarize_s(self) -> float:
        return min(a + t for a, t in zip(self.add_s, self.turns_s))

    @property
    def added(self) -> float:
        return self.best_diarized_s / self.best_plain_s - 1

    @property
    def added_median(self) -> float:
        return statistics.median(self.diarized_s) / statistics.median(self.plain_s) - 1


def pattern(speakers: int, total_s: float, seed: int) -> list[tuple[str, float]]:
    """Rounds in which everyone speaks once, in a shuffled order; turns of 2-9 s.

    The next speaker is never the one who just spoke (two turns of one voice
    would be one turn).
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    voices = list(VOICES[:speakers])
    out: list[tuple[str, float]] = []
    spoken = 0.0
    while spoken < total_s:
        order = [voices[i] for i in rng.permutation(len(voices))]
        if out and order[0] == out[-1][0]:
            order.append(order.pop(0))
        for voice in order:
            seconds = round(float(rng.uniform(2.0, 9.0)), 2)
            out.append((voice, seconds))
            spoken += seconds
    return out


def der_parts(reference: Any, hypothesis: list[tuple[float, float, str]],
              vad_s: list[tuple[float, float]], duration_s: float,
              frame_s: float = 0.01) -> tuple[float, float, float]:
    """DER's missed speech and false alarm (shares of the reference speech), and the
    share of the missed speech that the studio's VAD never passed on."""
    import numpy as np

    frames = int(np.ceil(duration_s / frame_s)) + 1

    def mask(spans: Any) -> Any:
        out = np.zeros(frames, dtype=bool)
        for start, end in spans:
            out[int(start / frame_s):int(end / frame_s)] = True
        return out

    ref = mask((t.start_s, t.end_s) for t in reference)
    hyp = mask((start, end) for start, end, _ in hypothesis)
    missed = ref & ~hyp
    speech = max(int(ref.sum()), 1)
    outside = float((missed & ~mask(vad_s)).sum()) / max(int(missed.sum()), 1)
    return float(missed.sum()) / speech, float((~ref & hyp).sum()) / speech, outside


def write_wav(samples: Any, path: Path) -> Path:
    from tests.support import longaudio

    longaudio.write_wav(path, [samples])
    return path


class Timed:
    """The studio's tracker, its add() and turns() timed, its turns kept."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.add_s = 0.0
        self.turns_s = 0.0
        self.result: tuple[Any, ...] = ()
        self.vad_s: list[tuple[float, float]] = []  # the VAD's speech it was given

    def add(self, offset_s: float, samples: Any, speech: Any) -> None:
        started = time.perf_counter()
        self.inner.add(offset_s, samples, speech)
        self.add_s += time.perf_counter() - started
        self.vad_s += [(offset_s + s.start_sample / 16_000, offset_s + s.end_sample / 16_000)
                       for s in speech]

    def turns(self, bounds: Any) -> tuple[Any, ...]:
        started = time.perf_counter()
        self.result = self.inner.turns(bounds)
        self.turns_s += time.perf_counter() - started
        return self.result


TRACKERS: list[Timed] = []


def install_timing() -> None:
    from stt_studio.diarize import session

    make = session.tracker

    def timed(device: str = "cpu") -> Any:
        TRACKERS.append(Timed(make(device)))
        return TRACKERS[-1]

    session.tracker = timed  # type: ignore[assignment]  # the service looks it up here


def measure(studio: Any, speakers: int, total_s: float, repeats: int) -> Figures:
    from tests.diarize.cases import word_agreement
    from tests.support.conversations import build, der

    from stt_studio.diarize.base import label
    from stt_studio.domain import TranscriptionOptions

    conv = build(pattern(speakers, total_s, seed=speakers), seed=speakers)
    path = write_wav(conv.samples, WORK / f"diarization_{speakers}spk_{int(total_s)}s.wav")
    plain, diarized, adds, turns_s = [], [], [], []
    transcript = None
    found_turns: tuple[Any, ...] = ()
    vad_s: list[tuple[float, float]] = []
    for _ in range(repeats):  # interleaved: drift hits both alike
        started = time.perf_counter()
        studio.transcribe_file(path, MODEL, TranscriptionOptions())
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        transcript = studio.transcribe_file(path, MODEL,
                                            TranscriptionOptions(diarize=True)).transcript
        diarized.append(time.perf_counter() - started)
        tracker = TRACKERS[-1]
        adds.append(tracker.add_s)
        turns_s.append(tracker.turns_s)
        found_turns, vad_s = tracker.result, tracker.vad_s
    assert transcript is not None
    given = studio.transcribe_file(path, MODEL, TranscriptionOptions(
        diarize=True, speakers=speakers)).transcript
    agreement, words = word_agreement(transcript, conv.turns)
    hypothesis = [(t.start_s, t.end_s, label(t.speaker)) for t in found_turns]
    missed, false_alarm, outside_vad = der_parts(conv.turns, hypothesis, vad_s,
                                                 conv.duration_s)
    figures = Figures(
        speakers=speakers, audio_s=conv.duration_s, turns=len(conv.turns),
        plain_s=plain, diarized_s=diarized, add_s=adds, turns_s=turns_s,
        der=der(conv.turns, hypothesis, conv.duration_s), missed=missed,
        false_alarm=false_alarm, missed_outside_vad=outside_vad,
        found=len({t.speaker for t in found_turns}), words=words, word_agreement=agreement,
        found_given_count=len({s.speaker for s in given.segments}),
    )
    print(f"  {speakers} speakers, {conv.duration_s:.0f} s: DER {figures.der:.1%} (missed "
          f"{missed:.1%}, false alarm {false_alarm:.1%}), found "
          f"{figures.found}, plain {figures.best_plain_s:.2f} s, diarized "
          f"{figures.best_diarized_s:.2f} s (+{figures.added:.1%}), diarizer "
          f"{figures.diarize_s:.2f} s (RTFx {conv.duration_s / figures.diarize_s:.0f})",
          flush=True)
    return figures


def section(meta: dict[str, Any], rows: list[Figures]) -> str:
    quick = " — **quick run** (`--quick`: shorter conversations, one repeat)" if meta[
        "quick"] else ""
    lines = [
        HEADING, "",
        f"Command: `{meta['command']}`, {meta['date']}{quick}", "",
        f"Conversations built from the shared clips with known turns "
        f"(tests/support/conversations.py): {', '.join(VOICES)} as speakers 1-4, in rounds "
        "where each speaks once in a shuffled order, turns of 2-9 s (seeded), pauses ~0.6 s; "
        "a voice's speech is reused cyclically once it runs out. "
        f"Whisper {MODEL} (bundled), int8 on CPU ({os.cpu_count()} cores), model loaded "
        "and warmed first; the studio's defaults (VAD, word timestamps) in both runs. "
        f"{meta['repeats']} interleaved repeat(s), the best of each (medians in brackets). "
        "The diarizer's own time is its `add()` (trim, windows, mel, GE2E embeddings) plus "
        "`turns()` (clustering, turns), timed inside the diarized run. DER: frame-level, "
        "no collar, best mapping, on the diarizer's turns; words: share whose speaker is "
        "the reference turn's they fall in. The diarizer labels only the speech the "
        "studio's VAD passes on (what Whisper hears too), trimmed to the voice: 'missed' "
        "is reference speech outside that, and the column after it says how much of it "
        "the VAD itself left out (the rest: quiet edges and pauses inside a turn, which "
        "the reference marks as speech).",
        "",
        "| speakers | audio (s) | turns | DER | of which missed / false alarm / confusion "
        "| missed outside the VAD's speech | found | found with `speakers=N` | words right | plain (s) | diarized (s) | added "
        "| diarizer (s) | diarizer RTFx |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.speakers} | {r.audio_s:.1f} | {r.turns} | {r.der:.1%} "
            f"| {r.missed:.1%} / {r.false_alarm:.1%} / {max(r.der - r.missed - r.false_alarm, 0):.1%} "
            f"| {r.missed_outside_vad:.0%} | {r.found} "
            f"| {r.found_given_count} | {r.word_agreement:.1%} of {r.words} "
            f"| {r.best_plain_s:.2f} ({statistics.median(r.plain_s):.2f}) "
            f"| {r.best_diarized_s:.2f} ({statistics.median(r.diarized_s):.2f}) "
            f"| +{r.added:.1%} (+{r.added_median:.1%}) | {r.diarize_s:.2f} "
            f"| {r.audio_s / r.diarize_s:.0f} |")
    total_plain = sum(r.best_plain_s for r in rows)
    total_diarized = sum(r.best_diarized_s for r in rows)
    added = total_diarized / total_plain - 1
    worst_der = max(r.der for r in rows)
    counts_right = sum(r.found == r.speakers for r in rows)
    lines += [
        "",
        f"- Added time over a plain {MODEL} transcription, all three together: "
        f"**+{added:.1%}** (target <= +{TARGET_ADDED:.0%}): "
        f"**{'met' if added <= TARGET_ADDED else 'NOT met'}**.",
        f"- DER at most **{worst_der:.1%}** (target <= {TARGET_DER:.0%}): "
        f"**{'met' if worst_der <= TARGET_DER else 'NOT met'}**; speaker count found "
        f"automatically in {counts_right} of {len(rows)}.",
        f"- The voice encoder's first load (resemblyzer's GE2E in numpy, CPU): {meta['encoder_load_s']:.2f} s "
        "(once per process, before the timed runs). Load average at the start: "
        f"{meta['load_avg'][0]:.2f}.",
        "",
    ]
    return "\n".join(lines)


def compose(text: str) -> None:
    sections.compose(text, heading=HEADING, section_file=SECTION_FILE, results=RESULTS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: ~1 min conversations, 1 repeat (section marked as such)")
    parser.add_argument("--repeats", type=int, default=None, help="default 3 (quick: 1)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="speech per conversation (default 150; quick: 50)")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    total_s = args.seconds or (50.0 if args.quick else 150.0)
    command = "make bench" if len(sys.argv) == 1 else "python bench/diarization.py " + " ".join(
        sys.argv[1:])
    load_avg = os.getloadavg()

    from tests.support.conversations import build

    from stt_studio.domain import TranscriptionOptions
    from stt_studio.service import Studio
    from stt_studio.settings import Settings

    install_timing()
    studio = Studio(Settings(cache_dir=LAYOUT.root, device="cpu"), LAYOUT)
    studio.load(MODEL)
    warm = write_wav(build([("lj", 3.0), ("mfa", 3.0)], seed=0).samples,
                     WORK / "diarization_warmup.wav")
    started = time.perf_counter()
    from stt_studio.diarize import ge2e

    ge2e.encoder()
    encoder_load_s = time.perf_counter() - started
    studio.transcribe_file(warm, MODEL, TranscriptionOptions())
    studio.transcribe_file(warm, MODEL, TranscriptionOptions(diarize=True))
    print(f"{total_s:.0f} s of speech per conversation, {repeats} repeat(s)", flush=True)
    rows = [measure(studio, n, total_s, repeats) for n in (2, 3, 4)]
    meta = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "quick": args.quick, "repeats": repeats, "speech_s": total_s,
            "encoder_load_s": encoder_load_s, "load_avg": load_avg,
            "cpu_count": os.cpu_count()}
    stored = WORK / "results" / f"diarization{'-quick' if args.quick else ''}.json"
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text(json.dumps({"meta": meta, "rows": [
        {**asdict(r), "diarize_s": r.diarize_s, "added": r.added} for r in rows]}, indent=1),
        "utf-8")
    text = section(meta, rows)
    compose(text)
    print(text)
    print(f"stored {stored}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
