"""Nothing said is lost (issue 15): conversations, the check's constant, and its cost.

Run through ``make bench`` (all sections) or ``python bench/completeness.py``
(``--quick``: 4 conversations and no one-hour runs; its section says so).

1. **Conversations.** Sixteen built from the group A clips at bench time
   (``tests.support.conversations.spoken``: whole clips, a change of speaker
   at every clip, pauses of 0.3-1.2 s, ~95-120 s each). In one process with
   Whisper tiny.en (bundled, int8, CPU) loaded and warmed, one run each of
   the studio's defaults (``Studio.transcribe_audio``: VAD, pieces of 30 s,
   batch 8, the check), plain ``BatchedInferencePipeline`` (batch 8, word
   timestamps, its own VAD) and plain sequential faster-whisper (word
   timestamps, no VAD): WER (``lowercase+strip-punctuation``), seconds of
   speech with no text (turns of which fewer than half the words were heard
   in their time), wall time.
2. **The constants.** :data:`stt_studio.completeness.GAP_S` was fitted on the
   even-numbered conversations; the odd ones are held out. For each half:
   every batched window the studio plans (before the check), whether the
   batch lost a turn in it, and its longest stretch of speech without a
   word; then, at GAP_S, the windows decoded again needlessly and the lost
   windows the check would miss. The same for :data:`stt_studio.audio.vad.RELISTEN_S`:
   each turn's share of the VAD's speech, with one pass and with pauses heard afresh.
3. **Nothing slowed down.** The group B file in this process, the studio
   with the check against the studio with the check switched off (every
   window accepted as it came), interleaved, best of 3; and the one-hour
   file (group B 16x) in fresh processes (bench/long_form.py's workers):
   the studio with and without the check, and plain batched.

Results: bench/work/results/completeness{-quick}.json and the section
"## Nothing said is lost (issue 15)" of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sections  # bench/sections.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION_FILE = WORK / "sections" / "g_completeness.md"
HEADING = "## Nothing said is lost (issue 15)"
SEEDS = tuple(range(16))
QUICK_SEEDS = (1, 4, 5, 8)
TARGET_SLOWER = 0.05

sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
from stt_studio.cache import prepare_cache  # noqa: E402  (the cache before heavy imports)

LAYOUT = prepare_cache(WORK / "cache")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@dataclass(frozen=True, slots=True)
class Run:
    seed: int
    system: str
    wer: float
    lost_s: float
    lost_turns: int
    wall_s: float
    audio_s: float
    redone: int = 0


@dataclass(frozen=True, slots=True)
class Window:
    seed: int
    length_s: float
    longest_run_s: float
    lost: bool


def wer_of(reference: str, hypothesis: str) -> float:
    from stt_studio.evaluation import word_error_rate

    return word_error_rate([(reference, hypothesis)]).wer


def lost_of(talk: Any, words: list[tuple[float, float]]) -> tuple[float, int]:
    from tests.support import conversations

    turns = conversations.turns_without_text(talk, words)
    return sum(t.end_s - t.start_s for t in turns), len(turns)


def conversation_runs(studio: Any, loaded: Any, seeds: tuple[int, ...]) -> list[Run]:
    from faster_whisper import BatchedInferencePipeline
    from tests.support import conversations

    from stt_studio.domain import SAMPLE_RATE_HZ, Audio, TranscriptionOptions

    pipeline = BatchedInferencePipeline(loaded.model)
    runs = []
    for seed in seeds:
        talk = conversations.spoken(seed)
        started = time.perf_counter()
        counted = _count_redone()
        transcript = studio.transcribe_audio(Audio(talk.samples, SAMPLE_RATE_HZ), loaded,
                                             TranscriptionOptions())
        wall_s = time.perf_counter() - started
        words = [(w.start_s, w.end_s) for s in transcript.segments for w in s.words]
        runs.append(Run(seed, "studio", wer_of(talk.text, transcript.text),
                        *lost_of(talk, words), wall_s, talk.duration_s, counted()))
        started = time.perf_counter()
        careful = studio.transcribe_audio(Audio(talk.samples, SAMPLE_RATE_HZ), loaded,
                                          TranscriptionOptions(batch_size=1))
        wall_s = time.perf_counter() - started
        words = [(w.start_s, w.end_s) for s in careful.segments for w in s.words]
        runs.append(Run(seed, "studio-batch1", wer_of(talk.text, careful.text),
                        *lost_of(talk, words), wall_s, talk.duration_s))
        for system in ("plain-batched", "plain-sequential"):
            started = time.perf_counter()
            if system == "plain-batched":
                segments, _ = pipeline.transcribe(talk.samples, language="en", batch_size=8,
                                                  beam_size=5, word_timestamps=True)
            else:
                segments, _ = loaded.model.transcribe(talk.samples, language="en", beam_size=5,
                                                      word_timestamps=True)
            segments = list(segments)
            wall_s = time.perf_counter() - started
            text = " ".join(s.text.strip() for s in segments)
            words = [(w.start, w.end) for s in segments for w in s.words]
            runs.append(Run(seed, system, wer_of(talk.text, text), *lost_of(talk, words),
                            wall_s, talk.duration_s))
        print(" ".join(f"{r.system} {r.wer:.1%} lost {r.lost_s:.0f}s {r.wall_s:.1f}s"
                       for r in runs[-4:]), f"(seed {seed})", flush=True)
    return runs


def _count_redone() -> Any:
    """Counts the stretches the studio decodes again from now on."""
    import logging

    seen = []

    class Counter(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "decoding it again" in record.getMessage():
                seen.append(1)

    handler = Counter(logging.INFO)
    logger = logging.getLogger("stt_studio.completeness")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)

    def count() -> int:
        logger.removeHandler(handler)
        return len(seen)

    return count


def _short_of(turn: Any, words: list[tuple[float, float]], own: tuple[float, float]) -> bool:
    """Of the turn's time inside what the window owns (2 s or more), under half the words
    its share of the turn's text would give were heard there."""
    a_s, b_s = max(turn.start_s, own[0]), min(turn.end_s, own[1])
    if b_s - a_s < 2.0:
        return False
    expected = len(turn.text.split()) * (b_s - a_s) / (turn.end_s - turn.start_s)
    heard = sum(1 for start, end in words if a_s - 0.3 <= (start + end) / 2 <= b_s + 0.3)
    return heard < 0.5 * expected


def window_stats(loaded: Any, seeds: tuple[int, ...]) -> list[Window]:
    """Every batched window the studio plans, before the check: lost a turn?, longest run."""
    from dataclasses import replace

    from tests.support import conversations

    from stt_studio import completeness
    from stt_studio.audio import pieces, vad
    from stt_studio.domain import SAMPLE_RATE_HZ, Audio, TranscriptionOptions

    options = TranscriptionOptions()
    out = []
    for seed in seeds:
        talk = conversations.spoken(seed)
        spans = vad.detect_speech(talk.samples, max_span_s=30.0)
        planned = pieces.plan(talk.samples, spans, max_piece_s=30.0)
        outputs = loaded.transcribe_batch([Audio(p.samples, SAMPLE_RATE_HZ) for p in planned],
                                          replace(options, word_timestamps=True))
        for piece, output in zip(planned, outputs):
            runs = completeness._runs(output.segments, piece.duration_s, has_timestamps=True)
            merged = pieces.merge([piece], [output.segments])
            words = [(w.start_s, w.end_s) for s in merged for w in s.words]
            own = (piece.own_start / SAMPLE_RATE_HZ, piece.own_end / SAMPLE_RATE_HZ)
            lost = any(_short_of(t, words, own) for t in talk.turns)
            out.append(Window(seed, piece.duration_s,
                              max((r.length_s for r in runs or ()), default=0.0), lost))
    return out


@dataclass(frozen=True, slots=True)
class Heard:
    """One turn of one conversation: how much of it the VAD took for speech."""

    seed: int
    relisten_s: float
    covered: float
    longest_out_s: float


RELISTEN_TRIED = (float("inf"), 8.0, 4.0, 2.0, 1.0)


def vad_stats(seeds: tuple[int, ...]) -> list[Heard]:
    """Each turn's share of the VAD's speech, for each tried RELISTEN_S (inf: one pass)."""
    import numpy as np
    from tests.support import conversations

    from stt_studio.audio import vad
    from stt_studio.domain import SAMPLE_RATE_HZ

    real = vad.RELISTEN_S
    out = []
    for seed in seeds:
        talk = conversations.spoken(seed)
        for relisten_s in RELISTEN_TRIED:
            vad.RELISTEN_S = relisten_s
            spans = vad.detect_speech(talk.samples, max_span_s=30.0)
            heard = np.zeros(len(talk.samples), bool)
            for span in spans:
                heard[span.start_sample:span.end_sample] = True
            for turn in talk.turns:
                mine = heard[int(turn.start_s * SAMPLE_RATE_HZ):int(turn.end_s * SAMPLE_RATE_HZ)]
                edges = np.flatnonzero(np.diff(np.concatenate([[1], mine.astype(int), [1]])))
                runs = edges[1::2] - edges[::2]  # lengths of the runs left out
                out.append(Heard(seed, relisten_s, float(mine.mean()),
                                 float(runs.max(initial=0)) / SAMPLE_RATE_HZ))
    vad.RELISTEN_S = real
    return out


def vad_lines(heard: list[Heard]) -> list[str]:
    from stt_studio.audio.vad import RELISTEN_S

    lines = ["| RELISTEN_S | half | turns | under 80 % in the VAD's speech | under 50 % | "
             "longest stretch of a turn left out |", "|---|---|---|---|---|---|"]
    for relisten_s in RELISTEN_TRIED:
        for name, parity in (("fit (even)", 0), ("held out (odd)", 1)):
            mine = [h for h in heard if h.relisten_s == relisten_s and h.seed % 2 == parity]
            label = "one pass" if relisten_s == float("inf") else f"{relisten_s:g} s"
            if relisten_s == RELISTEN_S:
                label = f"**{label}** (chosen)"
            lines.append(f"| {label} | {name} | {len(mine)} | "
                         f"{sum(h.covered < 0.8 for h in mine)} | "
                         f"{sum(h.covered < 0.5 for h in mine)} | "
                         f"{max(h.longest_out_s for h in mine):.1f} s |")
    return lines


def group_b_cost(studio: Any, loaded: Any, repeats: int) -> dict[str, Any]:
    """The group B file through the studio with the check and with it switched off."""
    from tests.support.longaudio import B_LONG

    from stt_studio import completeness
    from stt_studio.domain import TranscriptionOptions

    real = completeness.complete

    def accept(_loaded: Any, _audios: Any, outputs: Any, *_a: Any, **_k: Any) -> Any:
        return [completeness.Checked(o) for o in outputs]

    times: dict[str, list[float]] = {"checked": [], "unchecked": []}
    for _ in range(repeats):
        for mode in ("checked", "unchecked"):
            completeness.complete = real if mode == "checked" else accept  # type: ignore
            started = time.perf_counter()
            studio.transcribe_file(B_LONG, "tiny.en", TranscriptionOptions())
            times[mode].append(time.perf_counter() - started)
    completeness.complete = real
    return {mode: min(values) for mode, values in times.items()} | {"all": times}


def one_hour(quick: bool) -> dict[str, Any]:
    """The group B file 16x in fresh processes: studio (checked, unchecked), plain batched."""
    if quick:
        return {}
    import long_form  # bench/long_form.py

    audio = long_form.long_wav(16)
    reference = " ".join([long_form.reference_b()] * 16)
    out = {}
    for system in ("studio", "studio-unchecked", "plain-batched+words"):
        result = dict(long_form.run_worker(system, audio))
        result["wer"] = wer_of(reference, str(result.pop("text")))
        out[system] = result
    return out


def fit_lines(windows: list[Window]) -> list[str]:
    from stt_studio.completeness import GAP_S

    lines = ["| half | windows | lost a turn | longest run in a window that lost nothing | "
             "shortest longest-run in a window that lost a turn | decoded again needlessly "
             f"at GAP_S = {GAP_S:g} s | lost windows missed |", "|---|---|---|---|---|---|---|"]
    for name, parity in (("fit (even seeds)", 0), ("held out (odd seeds)", 1)):
        half = [w for w in windows if w.seed % 2 == parity]
        fine = [w for w in half if not w.lost]
        lost = [w for w in half if w.lost]
        needless = sum(1 for w in fine if w.longest_run_s >= GAP_S)
        missed = sum(1 for w in lost if w.longest_run_s < GAP_S)
        lines.append(
            f"| {name} | {len(half)} | {len(lost)} | "
            f"{max((w.longest_run_s for w in fine), default=0):.2f} s | "
            f"{min((w.longest_run_s for w in lost), default=float('nan')):.2f} s | "
            f"{needless} of {len(fine)} | {missed} of {len(lost)} |")
    return lines


def render(runs: list[Run], windows: list[Window], heard: list[Heard], cost: dict[str, Any],
           hour: dict[str, Any], quick: bool, load_avg: float) -> str:
    systems = ("studio", "studio-batch1", "plain-batched", "plain-sequential")
    by = {(r.seed, r.system): r for r in runs}
    seeds = sorted({r.seed for r in runs})
    lines = [HEADING, "",
             f"Command: `make bench` (`python bench/completeness.py{' --quick' if quick else ''}`),"
             f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average at the "
             f"start {load_avg:.2f}.", "",
             f"### Conversations{' (quick: 4 only)' if quick else ''}", "",
             "Whole group A clips of ten speakers, a change of speaker at every clip (3-27 s), "
             "pauses of 0.3-1.2 s (`tests.support.conversations.spoken(seed)`). Whisper tiny.en, "
             "int8, 2 CPU cores, one run each, model loaded and warmed first. *studio*: the "
             "defaults (VAD, pieces of <= 30 s, batch 8, the check); *studio -b1*: the studio "
             "with `--batch-size 1` (faster-whisper's sequential decoder on the VAD's speech); "
             "*plain batched*: `BatchedInferencePipeline` (batch 8, word timestamps, its own "
             "VAD); *plain sequential*: `WhisperModel.transcribe` (word timestamps, no VAD). "
             "WER normaliser: `lowercase+strip-punctuation`. *No text*: speech of the turns of "
             "which fewer than half the words were heard in their time.", "",
             "| seed | audio (s) | studio WER | no text (s) | wall (s) | decoded again | "
             "studio -b1 WER | wall (s) | plain batched WER | no text (s) | wall (s) | "
             "plain sequential WER | no text (s) | wall (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for seed in seeds:
        s, c, b, q = (by[(seed, name)] for name in systems)
        lines.append(f"| {seed} | {s.audio_s:.0f} | {s.wer:.1%} | {s.lost_s:.1f} | "
                     f"{s.wall_s:.1f} | {s.redone} | {c.wer:.1%} | {c.wall_s:.1f} | "
                     f"{b.wer:.1%} | {b.lost_s:.1f} | {b.wall_s:.1f} | {q.wer:.1%} | "
                     f"{q.lost_s:.1f} | {q.wall_s:.1f} |")
    totals = {}
    for name in systems:
        mine = [r for r in runs if r.system == name]
        totals[name] = (sum(r.wer for r in mine) / len(mine), sum(r.lost_s for r in mine),
                        sum(r.lost_turns for r in mine), sum(r.wall_s for r in mine))
    audio_s = sum(by[(seed, "studio")].audio_s for seed in seeds)
    lines.append(f"| all | {audio_s:.0f} | {totals['studio'][0]:.1%} (mean) | "
                 f"{totals['studio'][1]:.1f} | {totals['studio'][3]:.1f} | "
                 f"{sum(r.redone for r in runs)} | {totals['studio-batch1'][0]:.1%} | "
                 f"{totals['studio-batch1'][3]:.1f} | {totals['plain-batched'][0]:.1%} | "
                 f"{totals['plain-batched'][1]:.1f} | {totals['plain-batched'][3]:.1f} | "
                 f"{totals['plain-sequential'][0]:.1%} | {totals['plain-sequential'][1]:.1f} | "
                 f"{totals['plain-sequential'][3]:.1f} |")
    worst = max(by[(seed, "studio")].wer - by[(seed, "studio-batch1")].wer for seed in seeds)
    worst_plain = max(by[(seed, "studio")].wer - by[(seed, "plain-sequential")].wer
                      for seed in seeds)
    lines += ["",
              f"- Turns without text: studio **{totals['studio'][2]}**, studio -b1 "
              f"{totals['studio-batch1'][2]}, plain batched {totals['plain-batched'][2]} "
              f"({totals['plain-batched'][1]:.0f} s of speech), plain sequential "
              f"{totals['plain-sequential'][2]}.",
              f"- Studio WER minus `--batch-size 1`'s, worst conversation: **{worst:+.1%}** "
              f"(target <= +2 points on each). Minus plain sequential's (no VAD): "
              f"{worst_plain:+.1%}: the VAD leaves out parts of the hoarse `cold_corpus` voice "
              "whatever the decoder (see below).",
              f"- What the re-decodes cost: the studio took {totals['studio'][3]:.1f} s against "
              f"plain batched's {totals['plain-batched'][3]:.1f} s "
              f"({totals['studio'][3] / totals['plain-batched'][3] - 1:+.0%}), `--batch-size 1`'s"
              f" {totals['studio-batch1'][3]:.1f} s and plain sequential's "
              f"{totals['plain-sequential'][3]:.1f} s, for "
              f"{sum(r.redone for r in runs)} stretches decoded again.", "",
              "### The constant, fitted and held out", "",
              "Every batched window the studio plans (VAD speech in pieces of <= 30 s), decoded "
              "by the batch before any check; a window *lost a turn* when a turn in it has fewer "
              "than half the words of its share of a turn (2 s or more of the turn inside what the "
              "window owns) in the batch's output.", "", *fit_lines(windows), "",
              "### The VAD, heard afresh", "",
              "Silero carries what it heard before: after a loud reader, a hoarse voice (the "
              "shared `cold_corpus` clip) scores under the threshold for 8-12 s of its turn, "
              "which then reaches no decoder at all. A pause the VAD leaves of "
              "`vad.RELISTEN_S` or more is listened to again on its own. Each turn's share of "
              "the VAD's speech (the turns' own time; 0.4 s of padding each side is not "
              "counted), fitted on the even conversations, the odd ones held out:", "",
              *vad_lines(heard), ""]
    checked, unchecked = cost["checked"], cost["unchecked"]
    lines += ["### Where nothing is wrong", "",
              f"The group B file (221.7 s, one reader), `Studio.transcribe_file`, defaults, "
              f"in this process, interleaved, best of {len(cost['all']['checked'])}: with the "
              f"check {checked:.2f} s, with every window accepted as it came {unchecked:.2f} s: "
              f"**{checked / unchecked - 1:+.1%}** (target <= +{TARGET_SLOWER:.0%}).", ""]
    if hour:
        lines += ["The group B file 16x (59.1 min), each system in a fresh process "
                  "(bench/long_form.py's workers), one run each:", "",
                  "| system | wall (s) | RTFx | WER | peak RSS (MB) |", "|---|---|---|---|---|"]
        names = {"studio": "stt-studio defaults (the check on)",
                 "studio-unchecked": "stt-studio, every window accepted as it came",
                 "plain-batched+words": "plain BatchedInferencePipeline, batch 8, word timestamps"}
        for system, result in hour.items():
            lines.append(f"| {names[system]} | {result['wall_s']:.1f} | "
                         f"{result['audio_s'] / result['wall_s']:.1f} | {result['wer']:.2%} | "
                         f"{result['peak_rss_mb']:.0f} |")
        ratio = hour["studio"]["wall_s"] / hour["studio-unchecked"]["wall_s"] - 1
        lines += ["", f"- The check on one hour: **{ratio:+.1%}** "
                      f"(target <= +{TARGET_SLOWER:.0%}); the studio against plain batched at "
                      f"equal completeness (both keep every word here): "
                      f"{hour['plain-batched+words']['wall_s'] / hour['studio']['wall_s']:.3f}x "
                      "its throughput."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from stt_studio.service import Studio
    from stt_studio.settings import Settings

    load_avg = os.getloadavg()[0]
    studio = Studio(Settings(cache_dir=LAYOUT.root, device="cpu"), LAYOUT)
    loaded = studio.load("tiny.en")
    seeds = QUICK_SEEDS if args.quick else SEEDS
    from tests.support.longaudio import JFK, speech

    from stt_studio.domain import SAMPLE_RATE_HZ, Audio, TranscriptionOptions

    studio.transcribe_audio(Audio(speech(JFK), SAMPLE_RATE_HZ), loaded, TranscriptionOptions())
    runs = conversation_runs(studio, loaded, seeds)
    windows = window_stats(loaded, seeds)
    heard = vad_stats(seeds)
    cost = group_b_cost(studio, loaded, 1 if args.quick else args.repeats)
    hour = one_hour(args.quick)
    text = render(runs, windows, heard, cost, hour, args.quick, load_avg)
    stored = WORK / "results" / f"completeness{'-quick' if args.quick else ''}.json"
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text(json.dumps({"runs": [asdict(r) for r in runs],
                                  "windows": [asdict(w) for w in windows],
                                  "heard": [asdict(h) for h in heard], "cost": cost,
                                  "hour": hour}, indent=1), "utf-8")
    sections.compose(text, heading=HEADING, section_file=SECTION_FILE, results=RESULTS)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
