"""Live transcription over the realtime API (issue 18): latency, words, lag, memory.

    python bench/live.py [--speed 1.0] [--sessions 1,2] [--memory-min 0]

`stt-studio serve` runs as its own process (tiny.en, CPU). The 222 s group B
reading is streamed to ``/v1/realtime?intent=transcription`` through the
official ``openai`` SDK in 100 ms appends at real-time pace (``--speed``),
server_vad with OpenAI's defaults. Measured, per run:

* completed latency: a turn's ``completed`` event after the moment its speech
  stopped (``audio_end_ms`` on the sender's clock), p50 and p95;
* first-text latency: a turn's first ``delta`` after its speech started;
* the largest lag of any delta behind the audio sent;
* WER of the completed turns against the reference, and of the same file
  through ``/v1/audio/transcriptions`` on the same server (offline);
* with ``--sessions 1,2``: the same with two sessions at once (each its own
  connection, the same file);
* with ``--memory-min N``: one session of N minutes (the file looped, sent at
  ``--speed``), the server's RSS after the first minute and at the end.

Results: bench/work/results/live.json and the section "## Live transcription
(issue 18)" of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import sections  # bench/sections.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION_FILE = WORK / "sections" / "h_live.md"
HEADING = "## Live transcription (issue 18)"
AUDIO = ROOT.parent / "shared" / "audio" / "B_long" / \
    "CONSTRUCTED_ljspeech_LJ001-0001_to_0032_concatenated.wav"
CHUNK_S = 0.1

sys.path[:0] = [str(ROOT / "src"), str(ROOT)]


def reference() -> str:
    for line in (ROOT.parent / "shared" / "audio" / "manifest.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        if row["audio"].endswith(AUDIO.name):
            return str(row["text"])
    raise SystemExit(f"{AUDIO.name} is not in the manifest")


def pcm24(path: Path) -> bytes:
    from stt_studio.audio.decode import decode_file

    samples = decode_file(path).samples
    n = int(len(samples) * 1.5)
    up = np.interp(np.arange(n) / 24_000.0, np.arange(len(samples)) / 16_000.0, samples)
    return (np.clip(up, -1, 1) * 32767).astype("<i2").tobytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STT_STUDIO_CACHE_DIR": str(WORK / "cache"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "stt-studio"), "serve", "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not get ready")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def stream(port: int, pcm: bytes, speed: float, loops: int = 1,
                 on_minute: Any = None) -> dict[str, Any]:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused",
                         max_retries=0)
    step = int(24_000 * CHUNK_S) * 2
    pieces = [base64.b64encode(pcm[i:i + step]).decode() for i in range(0, len(pcm), step)]
    pieces = pieces * loops + [base64.b64encode(b"\0\0" * 24_000).decode()] * 10
    arrivals: list[tuple[float, Any]] = []
    async with client.realtime.connect(extra_query={"intent": "transcription",
                                                    "model": "tiny.en"}) as conn:
        await conn.recv()
        await conn.session.update(session={"type": "transcription", "audio": {"input": {
            "transcription": {"model": "tiny.en", "language": "en"},
            "turn_detection": {"type": "server_vad"}}}})
        t0 = time.monotonic()

        async def reader() -> None:
            async for event in conn:
                arrivals.append((time.monotonic(), event))

        task = asyncio.create_task(reader())
        minute_told = False
        for i, piece in enumerate(pieces):
            wait = t0 + i * CHUNK_S / speed - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await conn.input_audio_buffer.append(audio=piece)
            if on_minute is not None and not minute_told and i * CHUNK_S >= 60:
                on_minute()
                minute_told = True
        sent_s = len(pieces) * CHUNK_S
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            committed = {e.item_id for _, e in arrivals if e.type == "input_audio_buffer.committed"}
            done = {e.item_id for _, e in arrivals if e.type.endswith("transcription.completed")}
            if committed and committed <= done and time.monotonic() > t0 + sent_s / speed + 1:
                break
            await asyncio.sleep(0.2)
        task.cancel()
    return summarise(arrivals, t0, speed)


def summarise(arrivals: list[tuple[float, Any]], t0: float, speed: float) -> dict[str, Any]:
    def at(ms: int) -> float:  # when the sender sent that moment of audio
        return t0 + ms / 1000 / speed

    started: dict[str, int] = {}
    stopped: dict[str, int] = {}
    first_delta: dict[str, float] = {}
    completed: dict[str, tuple[float, str]] = {}
    lags: list[float] = []
    for when, e in arrivals:
        if e.type == "input_audio_buffer.speech_started":
            started[e.item_id] = e.audio_start_ms
        elif e.type == "input_audio_buffer.speech_stopped":
            stopped[e.item_id] = e.audio_end_ms
        elif e.type.endswith("transcription.delta"):
            first_delta.setdefault(e.item_id, when)
            lags.append((when - t0) * speed)  # audio time of arrival
        elif e.type.endswith("transcription.completed"):
            completed[e.item_id] = (when, e.transcript)
    after_stop = [completed[i][0] - at(stopped[i]) for i in completed if i in stopped]
    first_text = [first_delta[i] - at(started[i]) for i in first_delta if i in started]
    text = " ".join(t for _, t in sorted(completed.values()))
    errors = [e.error.code for _, e in arrivals if e.type == "error"]
    return {"turns": len(completed), "errors": errors, "text": text,
            "completed_after_stop_s": pct(after_stop), "first_text_after_start_s": pct(first_text)}


def pct(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values)
    return {"p50": round(float(np.percentile(arr, 50)), 2),
            "p95": round(float(np.percentile(arr, 95)), 2), "max": round(float(arr.max()), 2)}


def offline_text(port: int) -> str:
    from openai import OpenAI

    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)
    with AUDIO.open("rb") as audio:
        return client.audio.transcriptions.create(file=audio, model="tiny.en",
                                                  language="en").text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--sessions", default="1,2")
    parser.add_argument("--memory-min", type=float, default=0.0)
    args = parser.parse_args()
    from stt_studio.cache import prepare_cache
    from stt_studio.evaluation import word_error_rate

    prepare_cache(WORK / "cache")
    ref = reference()
    pcm = pcm24(AUDIO)
    port = free_port()
    server = start_server(port)
    out: dict[str, Any] = {"speed": args.speed, "audio_s": round(len(pcm) / 48_000, 1)}
    try:
        offline = offline_text(port)
        out["offline_wer"] = round(word_error_rate([(ref, offline)]).wer * 100, 2)
        for n in (int(x) for x in args.sessions.split(",") if x):
            async def many(n: int = n) -> list[dict[str, Any]]:
                return list(await asyncio.gather(*(stream(port, pcm, args.speed)
                                                   for _ in range(n))))
            runs = asyncio.run(many())
            for run in runs:
                run["wer"] = round(word_error_rate([(ref, run.pop("text"))]).wer * 100, 2)
            out[f"sessions_{n}"] = runs
            print(n, json.dumps(runs), flush=True)
        if args.memory_min > 0:
            loops = max(1, round(args.memory_min * 60 / (len(pcm) / 48_000)))
            marks: dict[str, float] = {}
            run = asyncio.run(stream(port, pcm, args.speed, loops,
                                     on_minute=lambda: marks.setdefault(
                                         "after_1_min_mb", rss_mb(server.pid))))
            marks["end_mb"] = rss_mb(server.pid)
            run.pop("text")
            out["memory"] = {"minutes": round(loops * len(pcm) / 48_000 / 60, 1), **marks,
                             "turns": run["turns"], "errors": run["errors"]}
    finally:
        server.terminate()
        server.wait(30)
    (WORK / "results").mkdir(parents=True, exist_ok=True)
    stored = WORK / "results" / "live.json"
    stored.write_text(json.dumps(out, indent=2), "utf-8")
    text = render(out)
    sections.compose(text, heading=HEADING, section_file=SECTION_FILE, results=RESULTS)
    print(text)
    print(f"stored {stored}")
    return 0


def render(out: dict[str, Any]) -> str:
    lines = [HEADING, "",
             f"`python bench/live.py` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"2 cores, tiny.en int8 on CPU): the {out['audio_s']} s group B reading streamed "
             f"to `/v1/realtime` by the openai SDK at {out['speed']:g}× real time, server_vad "
             "defaults. Latencies on the sender's clock.", "",
             "| sessions | session | turns | WER % (offline " + f"{out['offline_wer']}) | "
             "completed after speech stop p50 / p95 s | first text after speech start "
             "p50 / p95 s | errors |", "|---|---|---|---|---|---|---|"]
    for key in sorted(k for k in out if k.startswith("sessions_")):
        for i, run in enumerate(out[key], 1):
            c, f = run["completed_after_stop_s"], run["first_text_after_start_s"]
            lines.append(f"| {key.split('_')[1]} | {i} | {run['turns']} | {run['wer']} | "
                         f"{c.get('p50')} / {c.get('p95')} | {f.get('p50')} / {f.get('p95')} | "
                         f"{', '.join(run['errors']) or 'none'} |")
    if "memory" in out:
        m = out["memory"]
        lines += ["", f"Memory, one session of {m['minutes']} min: server RSS "
                      f"{m.get('after_1_min_mb', float('nan')):.0f} MB after the first minute, "
                      f"{m['end_mb']:.0f} MB at the end ({m['turns']} turns)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
