"""Long recordings and batches: the figures issue 8 asks for, one system per process.

(c) One hour of speech (the group B file repeated) through stt-studio's
    defaults, plain sequential faster-whisper and plain
    ``BatchedInferencePipeline``: wall time, RTFx, WER, peak RSS. Then stt-studio
    on three hours, for the memory bound.
(d) A folder of the group A clips through a NeMo model of >= 100 M parameters
    (random weights, built by the script): batched vs one file at a time.

Each measurement runs in a fresh subprocess so its peak RSS is its own. Run
through ``make bench`` (all sections) or ``python bench/long_form.py``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
AUDIO = ROOT.parent / "shared" / "audio"
B_FILE = AUDIO / "B_long" / "CONSTRUCTED_ljspeech_LJ001-0001_to_0032_concatenated.wav"


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM: getrusage's survives exec on Linux)."""
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reference_b() -> str:
    for line in (AUDIO / "manifest.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        if row["audio"].startswith("B_long/"):
            return str(row["text"])
    raise SystemExit("no group B file in the manifest")


def long_wav(repeats: int) -> Path:
    """The group B file ``repeats`` times end to end, as a 16-bit WAV at its own rate."""
    import av
    import numpy as np

    target = WORK / f"long_b_x{repeats}.wav"
    if target.exists():
        return target
    with av.open(str(B_FILE)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
    once = np.concatenate(frames).astype(np.int16)
    partial = target.with_suffix(".partial.wav")
    with av.open(str(partial), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        for _ in range(repeats):
            for start in range(0, len(once), rate * 10):
                frame = av.AudioFrame.from_ndarray(once[None, start:start + rate * 10],
                                                   format="s16", layout="mono")
                frame.sample_rate = rate
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    partial.replace(target)
    return target


# -- workers (run in their own process) -----------------------------------------------
def worker(system: str, audio: Path, extra: str) -> dict[str, object]:
    sys.path.insert(0, str(ROOT / "src"))
    from stt_studio.cache import prepare_cache

    layout = prepare_cache(WORK / "cache")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if system in ("studio", "studio-unchecked"):
        from stt_studio import completeness
        from stt_studio.domain import TranscriptionOptions
        from stt_studio.service import Studio
        from stt_studio.settings import Settings

        if system == "studio-unchecked":  # every window accepted as it came (issue 15)
            completeness.complete = (  # type: ignore[assignment]
                lambda _l, _a, outputs, *_x, **_k: [completeness.Checked(o) for o in outputs])
        studio = Studio(Settings(cache_dir=layout.root, device="cpu"), layout)
        studio.load("tiny.en")
        started = time.perf_counter()
        result = studio.transcribe_file(audio, "tiny.en", TranscriptionOptions())
        wall_s = time.perf_counter() - started
        text = result.transcript.text
        duration_s = result.transcript.duration_s
    elif system.startswith("plain"):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        from stt_studio.models.store import bundled_whisper_dir

        model = WhisperModel(str(bundled_whisper_dir()), device="cpu", compute_type="int8")
        words = system.endswith("+words")
        started = time.perf_counter()
        if system.startswith("plain-batched"):
            segments, info = BatchedInferencePipeline(model).transcribe(
                str(audio), batch_size=8, beam_size=5, word_timestamps=words)
        else:
            segments, info = model.transcribe(str(audio), beam_size=5, word_timestamps=words)
        text = " ".join(s.text.strip() for s in segments)
        wall_s = time.perf_counter() - started
        duration_s = info.duration
    elif system.startswith("nemo-folder"):
        from stt_studio.domain import TranscriptionOptions
        from stt_studio.service import Studio
        from stt_studio.settings import Settings

        batch_size = int(system.rsplit("-", 1)[1])
        files = [AUDIO / line for line in extra.split(",")]
        studio = Studio(Settings(cache_dir=layout.root, device="cpu"), layout)
        studio.load(str(audio))
        list(studio.transcribe_many(files[:2], str(audio), TranscriptionOptions(batch_size=1)))
        started = time.perf_counter()
        outcomes = list(studio.transcribe_many(files, str(audio),
                                               TranscriptionOptions(batch_size=batch_size)))
        wall_s = time.perf_counter() - started
        failed = [str(p) for p, r in outcomes if isinstance(r, Exception)]
        if failed:
            raise SystemExit(f"failed: {failed}")
        text = ""
        duration_s = sum(r.transcript.duration_s for _, r in outcomes)  # type: ignore[union-attr]
    else:
        raise SystemExit(f"unknown system {system}")
    return {"system": system, "wall_s": wall_s, "audio_s": duration_s, "text": text,
            "peak_rss_mb": peak_rss_mb()}


#: "system@file-stem" keys to measure again; the others reuse a result of this run's
#: files when one is stored (``--fresh KEY,KEY``; empty: measure everything)
FRESH: set[str] | None = None
REUSED: list[str] = []


def run_worker(system: str, audio: Path, extra: str = "") -> dict[str, object]:
    key = f"{system}@{audio.stem}"
    stored = WORK / "results" / f"{key}.json"
    if FRESH is not None and key not in FRESH and stored.exists():
        kept: dict[str, object] = json.loads(stored.read_text("utf-8"))
        print(f"  {key}: reusing the stored result", flush=True)
        REUSED.append(key)
        return kept
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, __file__, "worker", system, str(audio), extra],
        check=True, capture_output=True, text=True, env=env,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"  {system} on {audio.name}: {result['wall_s']:.1f} s, "
          f"{result['peak_rss_mb']:.0f} MB", flush=True)
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text(json.dumps(result), "utf-8")
    return result


# -- the two sections ------------------------------------------------------------------
def bench_long(hours_1_repeats: int = 16, hours_3_repeats: int = 48) -> str:
    from stt_studio.evaluation import NORMALIZER_NAME, word_error_rate

    one_hour = long_wav(hours_1_repeats)
    reference = " ".join([reference_b()] * hours_1_repeats)
    rows = []
    for system in ("studio", "plain-batched+words", "plain-batched", "plain-sequential"):
        r = run_worker(system, one_hour)
        if "wer" not in r:
            r["wer"] = word_error_rate([(reference, str(r["text"]))]).wer
        rows.append(r)
    three = run_worker("studio", long_wav(hours_3_repeats))
    by = {str(r["system"]): r for r in rows}

    def rtfx(r: dict[str, object]) -> float:
        return float(r["audio_s"]) / float(r["wall_s"])  # type: ignore[arg-type]

    studio = by["studio"]
    vs_batched = rtfx(studio) / rtfx(by["plain-batched+words"])
    vs_batched_bare = rtfx(studio) / rtfx(by["plain-batched"])
    wer_gap = (float(studio["wer"]) - float(by["plain-sequential"]["wer"])) * 100  # type: ignore[arg-type]
    rss_1h = float(studio["peak_rss_mb"])  # type: ignore[arg-type]
    rss_3h = float(three["peak_rss_mb"])  # type: ignore[arg-type]
    names = {
        "studio": "stt-studio defaults (VAD, blocks, batched, batch 8, word timestamps)",
        "plain-batched+words": "plain BatchedInferencePipeline, batch 8, word timestamps",
        "plain-batched": "plain BatchedInferencePipeline, batch 8, no word timestamps",
        "plain-sequential": "plain sequential faster-whisper (no word timestamps, its best WER)",
    }
    lines = [
        "## (c) One hour of speech: stt-studio vs plain faster-whisper",
        "",
        f"File: the group B file repeated {hours_1_repeats}x "
        f"({float(studio['audio_s']) / 60:.1f} min, 22.05 kHz 16-bit WAV), Whisper tiny.en, "  # type: ignore[arg-type]
        "int8 on CPU, beam 5. Each system in a fresh process; the model is loaded before "
        "timing; decoding the file is included; peak RSS is the whole process's. "
        f"WER normaliser: `{NORMALIZER_NAME}`.",
        "",
        "| system | wall (s) | RTFx | WER | peak RSS (MB) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {names[str(r['system'])]} | {float(r['wall_s']):.1f} | "  # type: ignore[arg-type]
                     f"{rtfx(r):.1f} | {float(r['wer']) * 100:.2f} % | "  # type: ignore[arg-type]
                     f"{float(r['peak_rss_mb']):.0f} |")  # type: ignore[arg-type]
    lines += [
        f"| stt-studio defaults on 3 h (the file {hours_3_repeats}x) | "
        f"{float(three['wall_s']):.1f} | {rtfx(three):.1f} | – | {rss_3h:.0f} |",  # type: ignore[arg-type]
        "",
        f"- Throughput: stt-studio = **{vs_batched:.3f}x** the plain batched pipeline with the "
        f"same outputs (word timestamps), {vs_batched_bare:.2f}x the pipeline without word "
        "timestamps (target >= 0.95x): "
        f"**{'met' if vs_batched >= 0.95 else 'NOT met'}**.",
        f"- WER: stt-studio {float(studio['wer']) * 100:.2f} % vs plain sequential "  # type: ignore[arg-type]
        f"{float(by['plain-sequential']['wer']) * 100:.2f} % ({wer_gap:+.2f} points; target "  # type: ignore[arg-type]
        f"<= +0.5): **{'met' if wer_gap <= 0.5 else 'NOT met'}**.",
        f"- Memory: 1 h peak RSS {rss_1h:.0f} MB (target <= 1200 MB): "
        f"**{'met' if rss_1h <= 1200 else 'NOT met'}**; 3 h {rss_3h:.0f} MB, "
        f"{rss_3h - rss_1h:+.0f} MB over 1 h (target within 150 MB): "
        f"**{'met' if abs(rss_3h - rss_1h) <= 150 else 'NOT met'}**.",
        "",
    ]
    if REUSED:
        lines += [f"Measured in two sittings the same day on the same machine: "
                  f"{', '.join(REUSED)} kept from the first (`--fresh` re-measured the rest "
                  "after a change to stt-studio).", ""]
    return "\n".join(lines)


def bench_nemo_folder(kind: str = "large_tdt") -> str:
    sys.path.insert(0, str(ROOT))
    from tests.support.nemo_models import build_model

    model = WORK / f"{kind}.nemo"
    if not model.exists():
        build_model(kind, model)
    clips = []
    for line in (AUDIO / "manifest.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        if row["group"] == "A":
            clips.append(row["audio"])
    extra = ",".join(clips)
    one = run_worker("nemo-folder-1", model, extra)
    batched = run_worker("nemo-folder-8", model, extra)
    speedup = float(one["wall_s"]) / float(batched["wall_s"])  # type: ignore[arg-type]
    return "\n".join([
        "## (d) A folder of short files through a NeMo model: batched vs one at a time",
        "",
        f"Files: the {len(clips)} group A clips ({float(one['audio_s']):.0f} s). Model: "  # type: ignore[arg-type]
        f"`{kind}` from tests/support/nemo_models.py (random-weight FastConformer TDT, "
        ">= 100 M parameters), CPU. `stt-studio transcribe FOLDER` through "
        "`Studio.transcribe_many`; model loaded and warmed before timing.",
        "",
        "| mode | wall (s) | RTFx | peak RSS (MB) |",
        "|---|---|---|---|",
        f"| one file at a time (`--batch-size 1`) | {float(one['wall_s']):.1f} | "  # type: ignore[arg-type]
        f"{float(one['audio_s']) / float(one['wall_s']):.1f} | {float(one['peak_rss_mb']):.0f} |",  # type: ignore[arg-type]
        f"| batched (`--batch-size 8`, the default) | {float(batched['wall_s']):.1f} | "  # type: ignore[arg-type]
        f"{float(batched['audio_s']) / float(batched['wall_s']):.1f} | "  # type: ignore[arg-type]
        f"{float(batched['peak_rss_mb']):.0f} |",  # type: ignore[arg-type]
        "",
        f"Speed-up: **{speedup:.2f}x** (target >= 2x): **{'met' if speedup >= 2 else 'NOT met'}**.",
        "",
    ])


def main() -> int:
    if len(sys.argv) >= 4 and sys.argv[1] == "worker":
        print(json.dumps(worker(sys.argv[2], Path(sys.argv[3]),
                                sys.argv[4] if len(sys.argv) > 4 else "")))
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "src"))
    args = sys.argv[1:]
    if "--fresh" in args:  # measure only these again: --fresh studio@long_b_x16,...
        at = args.index("--fresh")
        global FRESH
        FRESH = set(args[at + 1].split(","))
        del args[at:at + 2]
    which = args or ["long", "nemo-folder"]
    sections = WORK / "sections"
    sections.mkdir(exist_ok=True)
    if "long" in which:
        (sections / "c_long.md").write_text(bench_long(), "utf-8")
    if "nemo-folder" in which:
        (sections / "d_nemo_folder.md").write_text(bench_nemo_folder(), "utf-8")
    results = ROOT / "bench" / "RESULTS.md"
    head = results.read_text("utf-8") if results.exists() else "# Benchmark results\n"
    head = head.split("## (c)", 1)[0]
    head = "\n".join(line for line in head.splitlines()
                     if not line.startswith("Command: `make bench` (sections c")).rstrip() + "\n\n"
    ours = "\n".join(part.read_text("utf-8") for part in sorted(sections.glob("*.md")))
    stamp = (f"Command: `make bench` (sections c and d: `python bench/long_form.py`), "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n")
    results.write_text(head + stamp + ours, "utf-8")
    print(stamp + ours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
