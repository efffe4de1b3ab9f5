"""Speakers on voices never heard (issue 17): the count, DER, and what diarization costs.

    python bench/speaker_count.py [--quick] [--skip-cost]

1. Leave-voices-out. The shared voices are in two folds
   (tests/support/conversations.FOLDS): "known" (the six the old distance
   threshold, 0.4, was calibrated on) and "unseen" (seven others from groups A,
   C and D). Conversations of each fold (``meeting``: 2-5 speakers, turns of
   1.5-5 s cut from their readings, pauses 0.2-0.9 s, 50 s or 120 s; and single
   readings), as read, through a noisy room (white noise 15 dB under the
   speech) and through a telephone band (``through``). Each is heard once by
   the studio's VAD and voice encoder; its windows are then clustered by
   the studio's NME-SC and by the old threshold (average linkage, cosine 0.4,
   small clusters absorbed, as it was before this issue).
2. Calibration. The one measured constant of the count,
   ``clustering.MAX_NEIGHBOUR_SHARE``, swept over 0.15-0.35: the value that is
   best on one fold, reported on the other, both ways.
3. Cost. Whisper tiny.en on a 3-minute and a one-hour four-person recording,
   plain and with ``--diarize``, each run a process of its own (wall time; peak
   RSS from /proc VmHWM); two runs each, interleaved.

Results: bench/work/results/speaker_count{-quick}.json and the section
"## Speakers on unseen voices (issue 17)" of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sections  # bench/sections.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION_FILE = WORK / "sections" / "g_speaker_count.md"
HEADING = "## Speakers on unseen voices (issue 17)"
SHARES = (0.15, 0.2, 0.25, 0.3, 0.35)
OLD_THRESHOLD = 0.4

sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
from stt_studio.cache import prepare_cache  # noqa: E402  (the cache before heavy imports)

LAYOUT = prepare_cache(WORK / "cache")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@dataclass(frozen=True, slots=True)
class Heard:
    fold: str
    channel: str
    speakers: int
    duration_s: float
    reference: tuple[Any, ...]
    embeddings: Any
    windows_s: list[tuple[float, float]]
    speech_s: list[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class Scored:
    fold: str
    channel: str
    speakers: int
    found: int
    der: float
    missed: float
    false_alarm: float


def conversations(quick: bool) -> list[Heard]:
    import numpy as np
    from tests.support.conversations import (
        CHANNELS,
        FOLDS,
        Conversation,
        RefTurn,
        meeting,
        speech_of,
        through,
    )

    from stt_studio.audio import vad
    from stt_studio.diarize.tracker import ClusteringTracker

    out = []
    for fold, voices in FOLDS.items():
        for channel in CHANNELS:
            for speakers in (1, 2, 3, 4, 5):
                for seed in range((3 if quick else 16) if channel == "clean" else (2 if quick else 5)):
                    rng = np.random.default_rng([len(fold), CHANNELS.index(channel), speakers, seed])
                    total_s = 50.0 if seed % 2 == 0 else 120.0
                    if speakers == 1:
                        voice = voices[seed % len(voices)]
                        reading = speech_of(voice)[:int(total_s * 16_000)]
                        conv = Conversation(np.concatenate([np.zeros(8000, np.float32), reading]),
                                            (RefTurn(0.5, 0.5 + len(reading) / 16_000, voice),))
                    else:
                        chosen = [voices[i] for i in rng.permutation(len(voices))[:speakers]]
                        conv = meeting(chosen, seed=int(rng.integers(1 << 30)), total_s=total_s)
                    samples = through(conv.samples, channel, seed=seed)
                    tracker = ClusteringTracker()
                    tracker.add(0.0, samples, vad.detect_speech(samples, max_span_s=30.0))
                    embeddings = (np.concatenate(tracker._embeddings) if tracker._embeddings
                                  else np.zeros((0, 256), np.float32))
                    out.append(Heard(fold, channel, speakers, conv.duration_s, conv.turns,
                                     embeddings, list(tracker._windows_s),
                                     list(tracker._speech_s)))
        print(f"  heard the {fold} fold: {sum(h.fold == fold for h in out)} recordings", flush=True)
    return out


def old_threshold(embeddings: Any, _windows_s: Any) -> Any:
    """The count as it was before issue 17: average linkage cut at cosine 0.4."""
    import numpy as np
    from scipy.cluster.hierarchy import fcluster, linkage

    from stt_studio.diarize import clustering

    if len(embeddings) < 2:
        return np.zeros(len(embeddings), dtype=np.int64)
    unit = clustering._unit(np.asarray(embeddings, dtype=np.float64))
    tree = linkage(unit, method="average", metric="cosine")
    labels = np.asarray(fcluster(tree, OLD_THRESHOLD, criterion="distance"), dtype=np.int64) - 1
    return clustering._by_appearance(clustering._absorb_small(unit, labels))


def nme_sc(embeddings: Any, windows_s: Any) -> Any:
    from stt_studio.diarize.base import SpeakerBounds
    from stt_studio.diarize.clustering import cluster

    return cluster(embeddings, SpeakerBounds(), windows_s=windows_s)


def score(heard: list[Heard], method: Callable[[Any, Any], Any]) -> list[Scored]:
    from tests.support.conversations import der

    from stt_studio.diarize.base import label
    from stt_studio.diarize.tracker import _joined
    from stt_studio.diarize.turns import frame_turns

    out = []
    for h in heard:
        labels = method(h.embeddings, h.windows_s)
        turns = frame_turns(_joined(h.speech_s), h.windows_s, labels)
        hypothesis = [(t.start_s, t.end_s, label(t.speaker)) for t in turns]
        missed, false_alarm = parts(h.reference, hypothesis, h.duration_s)
        out.append(Scored(h.fold, h.channel, h.speakers, len({t.speaker for t in turns}),
                          der(h.reference, hypothesis, h.duration_s), missed, false_alarm))
    return out


def parts(reference: Any, hypothesis: Any, duration_s: float) -> tuple[float, float]:
    import numpy as np

    frames = int(np.ceil(duration_s / 0.01)) + 1
    ref = np.zeros(frames, bool)
    hyp = np.zeros(frames, bool)
    for turn in reference:
        ref[int(turn.start_s / 0.01):int(turn.end_s / 0.01)] = True
    for start, end, _ in hypothesis:
        hyp[int(start / 0.01):int(end / 0.01)] = True
    speech = max(int(ref.sum()), 1)
    return float((ref & ~hyp).sum()) / speech, float((~ref & hyp).sum()) / speech


def right(rows: list[Scored]) -> int:
    return sum(r.found == r.speakers for r in rows)


def calibrate(heard: list[Heard]) -> dict[str, dict[float, int]]:
    """Counts right per fold for each MAX_NEIGHBOUR_SHARE of the sweep."""
    from stt_studio.diarize import clustering

    kept = clustering.MAX_NEIGHBOUR_SHARE
    out: dict[str, dict[float, int]] = {"known": {}, "unseen": {}}
    try:
        for share in SHARES:
            clustering.MAX_NEIGHBOUR_SHARE = share
            rows = score(heard, nme_sc)
            for fold in out:
                out[fold][share] = right([r for r in rows if r.fold == fold])
    finally:
        clustering.MAX_NEIGHBOUR_SHARE = kept
    return out


# -- cost: plain and diarized transcriptions, each in a process of its own -----------------

PROBE = r'''
import json, sys, time
from pathlib import Path
sys.path[:0] = [sys.argv[4]]
from stt_studio.cache import prepare_cache
layout = prepare_cache(Path(sys.argv[2]))
from stt_studio.domain import TranscriptionOptions
from stt_studio.service import Studio
from stt_studio.settings import Settings
studio = Studio(Settings(cache_dir=layout.root, device="cpu"), layout)
studio.load("tiny.en")
started = time.perf_counter()
result = studio.transcribe_file(Path(sys.argv[1]), "tiny.en",
                                TranscriptionOptions(diarize=sys.argv[3] == "1"))
wall = time.perf_counter() - started
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
speakers = {s.speaker for s in result.transcript.segments}
print(json.dumps({"wall_s": wall, "peak_mb": peak / 1024, "speakers": len(speakers)}))
'''


def recording(minutes: float) -> Path:
    """A four-person English conversation of both folds' voices, ~3 minutes, repeated to ``minutes``."""
    import numpy as np
    from tests.support import longaudio
    from tests.support.conversations import meeting

    path = WORK / f"speaker_count_{int(minutes)}min.wav"
    if not path.exists():
        one = meeting(("lj", "mfa", "ls2412", "austen"), seed=4, total_s=170.0).samples
        repeats = int(np.ceil(minutes * 60 * 16_000 / len(one)))
        longaudio.write_wav(path, [one] * repeats)
    return path


def probe(path: Path, diarize: bool) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", PROBE, str(path), str(LAYOUT.root),
                           "1" if diarize else "0", str(ROOT / "src")],
                          capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def cost(minutes: tuple[float, ...], runs: int) -> list[dict[str, Any]]:
    out = []
    for length in minutes:
        path = recording(length)
        plain, diarized = [], []
        for _ in range(runs):
            plain.append(probe(path, False))
            diarized.append(probe(path, True))
        row = {"minutes": length, "plain": plain, "diarized": diarized}
        out.append(row)
        best_p = min(p["wall_s"] for p in plain)
        best_d = min(d["wall_s"] for d in diarized)
        print(f"  {length:.0f} min: plain {best_p:.1f} s, diarized {best_d:.1f} s "
              f"({best_d / best_p - 1:+.1%}); peak {max(p['peak_mb'] for p in plain):.0f} / "
              f"{max(d['peak_mb'] for d in diarized):.0f} MB", flush=True)
    return out


# -- the section -----------------------------------------------------------------------

def table(rows: list[Scored], title: str) -> list[str]:
    import numpy as np

    lines = [f"**{title}**", "",
             "| fold | channel | recordings | count right | found for 1 / 2 / 3 / 4 / 5 true "
             "| DER mean | median | max | of the mean: missed / false alarm / confusion |",
             "|---|---|---|---|---|---|---|---|---|"]
    for fold in ("known", "unseen"):
        for channel in ("clean", "noise", "phone"):
            sel = [r for r in rows if r.fold == fold and r.channel == channel]
            if not sel:
                continue
            ders = [r.der for r in sel]
            missed = float(np.mean([r.missed for r in sel]))
            false_alarm = float(np.mean([r.false_alarm for r in sel]))
            found = " / ".join(",".join(str(r.found) for r in sel if r.speakers == k)
                               for k in (1, 2, 3, 4, 5))
            lines.append(
                f"| {fold} | {channel} | {len(sel)} | {right(sel)} ({right(sel) / len(sel):.0%}) "
                f"| {found} | {np.mean(ders):.1%} | {np.median(ders):.1%} | {max(ders):.1%} "
                f"| {missed:.1%} / {false_alarm:.1%} / {np.mean(ders) - missed - false_alarm:.1%} |")
    return lines


def section(meta: dict[str, Any], new: list[Scored], old: list[Scored],
            calibration: dict[str, dict[float, int]], costs: list[dict[str, Any]]) -> str:
    import numpy as np

    def fitted(fold: str) -> float:
        return max(SHARES, key=lambda s: (calibration[fold][s], -abs(s - 0.25)))

    other = {"known": "unseen", "unseen": "known"}
    per_fold = {f: sum(1 for r in new if r.fold == f) for f in ("known", "unseen")}
    lines = [HEADING, "", f"Command: `{meta['command']}`, {meta['date']}; load average at the "
             f"start {meta['load_avg'][0]:.2f}{' (quick run)' if meta['quick'] else ''}.", "",
             "Leave-voices-out conversations (see the script's docstring): the folds are "
             "tests/support/conversations.FOLDS, *known* = the six voices the old threshold "
             "was calibrated on, *unseen* = seven others (groups A, C, D; English, German, "
             "Spanish). Turns of 1.5-5 s, pauses 0.2-0.9 s, 50 s or 120 s; 1 speaker = one "
             "reading. DER: frame-level, no collar, best mapping, on the diarizer's turns. "
             "'found' lists the count found for each recording, by true count.", ""]
    lines += table(new, "The studio's NME-SC (this issue)") + [""]
    lines += table(old, f"The old count: average linkage cut at cosine {OLD_THRESHOLD}") + [""]
    lines += ["**Calibration of `MAX_NEIGHBOUR_SHARE`** (counts right, all channels):", "",
              "| share | " + " | ".join(f"{s}" for s in SHARES) + " |",
              "|---|" + "---|" * len(SHARES)]
    for fold in ("known", "unseen"):
        lines.append(f"| {fold} (of {per_fold[fold]}) | "
                     + " | ".join(str(calibration[fold][s]) for s in SHARES) + " |")
    lines.append("")
    for fold in ("known", "unseen"):
        s = fitted(fold)
        lines.append(f"- Fitted on *{fold}*: {s} ({calibration[fold][s]}/{per_fold[fold]}); "
                     f"reported on *{other[fold]}*: {calibration[other[fold]][s]}/"
                     f"{per_fold[other[fold]]}.")
    lines.append(f"- The studio ships {meta['share']} (fitted on *known*).")
    if costs:
        lines += ["", "**Cost** (Whisper tiny.en, int8, 2 CPU cores; a 4-person conversation "
                  "of lj, mfa, ls2412 and austen (English: tiny.en is English-only), 170 s, repeated; each run its own process, the "
                  f"best of {meta['runs']}; peak RSS = VmHWM):", "",
                  "| recording | plain (s) | diarized (s) | added | peak plain (MB) | "
                  "peak diarized (MB) | added (MB) | speakers found |", "|---|---|---|---|---|---|---|---|"]
        for row in costs:
            p = min(x["wall_s"] for x in row["plain"])
            d = min(x["wall_s"] for x in row["diarized"])
            pm = max(x["peak_mb"] for x in row["plain"])
            dm = max(x["peak_mb"] for x in row["diarized"])
            lines.append(f"| {row['minutes']:.0f} min | {p:.1f} | {d:.1f} | {d / p - 1:+.1%} "
                         f"| {pm:.0f} | {dm:.0f} | {dm - pm:+.0f} | "
                         f"{row['diarized'][0]['speakers']} |")
        lines += ["", "Targets: at most +25 % time and +150 MB peak memory."]
    clean_new = {f: right([r for r in new if r.fold == f]) for f in ("known", "unseen")}
    clean_old = {f: right([r for r in old if r.fold == f]) for f in ("known", "unseen")}
    lines += ["", f"- Counts right, all channels: NME-SC known {clean_new['known']}, unseen "
              f"{clean_new['unseen']}; old threshold known {clean_old['known']}, unseen "
              f"{clean_old['unseen']} (of {per_fold['known']} / {per_fold['unseen']}).",
              f"- Unseen voices, clean: DER median "
              f"{np.median([r.der for r in new if r.fold == 'unseen' and r.channel == 'clean']):.1%}"
              " (target <= 15 %)."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer conversations, 3 and 10 min")
    parser.add_argument("--skip-cost", action="store_true", help="no timed transcriptions")
    args = parser.parse_args()
    command = "python bench/speaker_count.py" + "".join(f" {a}" for a in sys.argv[1:])
    load_avg = os.getloadavg()
    from stt_studio.diarize import clustering

    print("leave-voices-out conversations", flush=True)
    heard = conversations(args.quick)
    new = score(heard, nme_sc)
    old = score(heard, old_threshold)
    print("calibration sweep", flush=True)
    calibration = calibrate(heard)
    runs = 1 if args.quick else 2
    costs = [] if args.skip_cost else cost((3.0, 10.0) if args.quick else (3.0, 60.0), runs)
    meta = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "quick": args.quick, "load_avg": load_avg, "runs": runs,
            "share": clustering.MAX_NEIGHBOUR_SHARE}
    stored = WORK / "results" / f"speaker_count{'-quick' if args.quick else ''}.json"
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text(json.dumps({
        "meta": meta, "nme_sc": [_row(r) for r in new],
        "old": [_row(r) for r in old], "calibration": calibration, "cost": costs},
        indent=1, default=str), "utf-8")
    text = section(meta, new, old, calibration, costs)
    sections.compose(text, heading=HEADING, section_file=SECTION_FILE, results=RESULTS)
    print(text)
    print(f"stored {stored}")
    return 0


def _row(r: Scored) -> dict[str, Any]:
    return {f: getattr(r, f) for f in Scored.__dataclass_fields__}


if __name__ == "__main__":
    sys.exit(main())
