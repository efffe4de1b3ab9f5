"""The HTTP API's figures for issue 9: throughput under 8 clients, overhead against the CLI.

Run through ``make bench`` (all sections) or ``python bench/api_bench.py``
(``--quick`` for a smoke run: a few files, one repeat; its section says so).
On the group A clips of ../shared/audio, Whisper tiny.en (bundled), CPU:

1. A real ``stt-studio serve`` in its own process on 127.0.0.1 (model loaded,
   ``/ready`` = 200, one warm-up request), then 8 client threads, each with
   its own official ``openai`` client, taking the next file from a shared list
   (every clip ``--passes`` times), ``response_format=json``: wall time,
   requests per minute, audio seconds per wall second, p50/p95/max latency,
   where the latency goes (the server's ``x-stt-studio-elapsed-s`` header via
   ``with_raw_response``), and the WER of the API's transcripts.
2. The server's overhead against the CLI on the same files, both warm, same
   model and options (word timestamps off on both: the API's ``json`` default,
   the CLI's ``--no-word-timestamps``): one sequential ``openai`` client against
   the warm server (total wall) vs the CLI's own path (``Studio.transcribe_many``
   + ``write_outputs`` txt, as ``stt-studio transcribe`` runs them) timed in a
   warm worker process. Interleaved repeats; the best of each. A real
   ``stt-studio transcribe`` process is run once as a cross-check.

Results: bench/work/results/api@group_a.json (``api-quick@...`` for --quick) and
the section "## HTTP API (issue 9)" of bench/RESULTS.md (kept in
bench/work/sections/e_api.md, so bench/long_form.py keeps it too).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sections  # bench/sections.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
CACHE = WORK / "cache"
AUDIO = ROOT.parent / "shared" / "audio"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION_FILE = WORK / "sections" / "e_api.md"
HEADING = "## HTTP API (issue 9)"
MODEL = "tiny.en"
#: how long the server may take to load its default model
READY_TIMEOUT_S = 300.0
TARGET_OVERHEAD = 0.05


@dataclass(frozen=True, slots=True)
class Clip:
    path: Path
    text: str
    duration_s: float


@dataclass(frozen=True, slots=True)
class Reply:
    """One API request as the client saw it (``server_s``: the elapsed header)."""

    clip: int
    client: int
    sent_s: float  # since the phase started
    latency_s: float
    server_s: float
    audio_s: float
    text: str
    error: str = ""


def load_clips(limit: int | None) -> list[Clip]:
    clips = []
    for line in (AUDIO / "manifest.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        if row["group"] == "A" and row.get("text"):
            clips.append(Clip(AUDIO / row["audio"], str(row["text"]), float(row["duration_s"])))
    return clips[:limit] if limit else clips


def studio_command() -> list[str]:
    script = Path(sys.executable).with_name("stt-studio")
    return [str(script if script.exists() else ROOT / ".venv" / "bin" / "stt-studio")]


def child_env() -> dict[str, str]:
    """The same environment for the server, the CLI and the worker: offline, nothing else."""
    return dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT / "src"))


def percentile(values: list[float], pct: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- the server ---------------------------------------------------------------------------
def _hear_ctrl_c() -> None:
    """In the server's process before exec: a shell's background job ignores SIGINT, and
    Python then never turns it into KeyboardInterrupt, so close() could not stop it cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Server:
    """``stt-studio serve`` in its own process, on a free port, until closed."""

    def __init__(self) -> None:
        self.base_url = ""  # known once the server says where it listens
        self.cpu_s: list[float] = []  # the server's CPU seconds in each sequential run
        self.client_cpu_s: list[float] = []  # and the client's
        self.log_path = WORK / "api_server.log"
        self._log = open(self.log_path, "w", encoding="utf-8", buffering=1)
        started = time.perf_counter()
        self.proc = subprocess.Popen(  # port 0: the OS picks a free one, no race for it
            [*studio_command(), "serve", "--port", "0", "--cache-dir", str(CACHE)],
            stdout=self._log, stderr=subprocess.STDOUT, env=child_env(),
            preexec_fn=_hear_ctrl_c)
        try:
            self._wait_ready()
        except BaseException:
            self.close()
            raise
        self.ready_s = time.perf_counter() - started

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited ({self.proc.returncode}); see {self.log_path}")
            if not self.base_url:
                said = re.search(r"OpenAI-compatible API: (http://\S+/)v1",
                                 self.log_path.read_text("utf-8", errors="replace"))
                if said is None:
                    time.sleep(0.2)
                    continue
                self.base_url = said.group(1)
            try:
                with urllib.request.urlopen(self.base_url + "ready", timeout=5) as answer:
                    if answer.status == 200:
                        return
                    last = f"HTTP {answer.status}"
            except (urllib.error.URLError, OSError) as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise SystemExit(f"the server was not ready in {READY_TIMEOUT_S:.0f} s ({last}); "
                         f"see {self.log_path}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # its own clean stop (Ctrl+C)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                print(f"the server did not stop on Ctrl+C in 30 s: killed; see {self.log_path}",
                      flush=True)
        self._log.close()


def client_for(server: Server) -> Any:  # an openai.OpenAI (imported late)
    from openai import OpenAI

    return OpenAI(base_url=server.base_url + "v1", api_key="unused-on-loopback",
                  max_retries=0, timeout=600)


def send(client: Any, clips: list[Clip], index: int, who: int, t0: float) -> Reply:
    import openai

    clip = clips[index]
    sent = time.perf_counter()
    try:
        with clip.path.open("rb") as audio:
            raw = client.audio.transcriptions.with_raw_response.create(
                file=audio, model=MODEL, response_format="json")
        text = raw.parse().text
    except openai.APIError as exc:
        return Reply(index, who, sent - t0, time.perf_counter() - sent, 0.0, 0.0, "",
                     f"{type(exc).__name__}: {exc}")
    latency = time.perf_counter() - sent
    return Reply(index, who, sent - t0, latency, float(raw.headers["x-stt-studio-elapsed-s"]),
                 float(raw.headers["x-stt-studio-audio-s"]), text)


def concurrent(server: Server, clips: list[Clip], clients: int,
               passes: int) -> tuple[float, list[Reply]]:
    """``clients`` threads, each taking the next file of the list until it is empty."""
    order = iter([i for _ in range(passes) for i in range(len(clips))])
    lock = threading.Lock()
    replies: list[Reply] = []
    handles = [client_for(server) for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    t0 = 0.0

    def run(who: int) -> None:
        start.wait()
        while True:
            with lock:
                index = next(order, None)
            if index is None:
                return
            reply = send(handles[who], clips, index, who, t0)
            with lock:
                replies.append(reply)

    threads = [threading.Thread(target=run, args=(k,), name=f"client-{k}")
               for k in range(clients)]
    for thread in threads:
        thread.start()
    t0 = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    for handle in handles:
        handle.close()
    return wall, sorted(replies, key=lambda r: r.sent_s)


def sequential(server: Server, clips: list[Clip]) -> tuple[float, list[Reply]]:
    """One client, one file at a time, warm server: the wall time of the whole list."""
    client = client_for(server)
    send(client, clips, 0, 0, 0.0)  # warm: the first request after a pause
    server_cpu, client_cpu = cpu_s(server.proc.pid), time.process_time()
    t0 = time.perf_counter()
    replies = [send(client, clips, i, 0, t0) for i in range(len(clips))]
    wall = time.perf_counter() - t0
    server.cpu_s.append(cpu_s(server.proc.pid) - server_cpu)
    server.client_cpu_s.append(time.process_time() - client_cpu)
    client.close()
    return wall, replies


# -- the CLI -----------------------------------------------------------------------------
def cli_worker(files: list[Path]) -> dict[str, Any]:
    """What ``stt-studio transcribe FILES --format txt --no-word-timestamps`` runs, warm."""
    from stt_studio.cache import prepare_cache
    from stt_studio.domain import TranscriptionOptions
    from stt_studio.service import Result, Studio
    from stt_studio.settings import Settings

    settings = Settings.from_env(cache_dir=CACHE)  # as the CLI builds them
    studio = Studio(settings, prepare_cache(settings.cache_dir))
    studio.load(MODEL)
    options = TranscriptionOptions(word_timestamps=False)
    with tempfile.TemporaryDirectory(prefix="api-bench-cli-") as out:
        for _, warm in studio.transcribe_many(files[:1], MODEL, options):
            assert isinstance(warm, Result), warm
        texts, elapsed = [], []
        cpu = time.process_time()
        started = time.perf_counter()
        for n, (path, outcome) in enumerate(studio.transcribe_many(files, MODEL, options)):
            if not isinstance(outcome, Result):
                raise SystemExit(f"{path}: {outcome}")
            studio.write_outputs(outcome.transcript, Path(out), f"{n:03d}-{path.stem}", ("txt",))
            texts.append(outcome.transcript.text)
            elapsed.append(outcome.elapsed_s)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
    return {"wall_s": wall, "cpu_s": cpu, "texts": texts, "elapsed_s": elapsed}


def run_cli_worker(clips: list[Clip]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "cli-worker", *[str(c.path) for c in clips]],
        check=True, capture_output=True, text=True, env=child_env())
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def real_cli(clips: list[Clip]) -> dict[str, Any]:
    """The real command once: its whole wall time and the per-file times it logs."""
    with tempfile.TemporaryDirectory(prefix="api-bench-cli-") as out:
        started = time.perf_counter()
        done = subprocess.run(
            [*studio_command(), "transcribe", "--cache-dir", str(CACHE), "--format", "txt",
             "--no-word-timestamps", "--overwrite", "--output-dir", out,
             *[str(c.path) for c in clips]],
            check=True, capture_output=True, text=True, env=child_env())
        wall = time.perf_counter() - started
    per_file = [float(s) for s in re.findall(r"s of audio in ([\d.]+) s", done.stderr)]
    return {"wall_s": wall, "files_logged": len(per_file), "per_file_s_sum": sum(per_file)}


# -- the figures ---------------------------------------------------------------------------
def wer_of(clips: list[Clip], texts: dict[int, str]) -> float:
    from stt_studio.evaluation import word_error_rate

    return word_error_rate((clips[i].text, texts[i]) for i in sorted(texts)).wer


def concurrency_figures(clips: list[Clip], wall: float, replies: list[Reply],
                        solo: dict[int, float]) -> dict[str, Any]:
    good = [r for r in replies if not r.error]
    latencies = [r.latency_s for r in good]
    total = sum(latencies) or 1.0
    outside = sum(r.latency_s - r.server_s for r in good)  # HTTP, upload, form, JSON
    waiting = sum(max(0.0, r.server_s - solo[r.clip]) for r in good)  # the model's turn
    return {
        "requests": len(replies), "failed": len(replies) - len(good), "wall_s": wall,
        "requests_per_min": len(good) / wall * 60, "audio_s": sum(r.audio_s for r in good),
        "audio_s_per_wall_s": sum(r.audio_s for r in good) / wall,
        "p50_s": percentile(latencies, 50), "p95_s": percentile(latencies, 95),
        "max_s": max(latencies), "mean_s": statistics.fmean(latencies),
        "share_outside_studio": outside / total, "share_waiting_for_turn": waiting / total,
        "latency_minus_header_p50_s": percentile([r.latency_s - r.server_s for r in good], 50),
        "wer": wer_of(clips, {r.clip: r.text for r in good}),
        "errors": sorted({r.error for r in replies if r.error})[:5],
    }


def overhead_figures(clips: list[Clip], api_runs: list[tuple[float, list[Reply]]],
                     cli_runs: list[dict[str, Any]], server: Server) -> dict[str, Any]:
    """Walls, and CPU seconds (less sensitive to other work on the machine than walls)."""
    api_walls = [wall for wall, _ in api_runs]
    cli_walls = [float(run["wall_s"]) for run in cli_runs]
    best_api, best_cli = min(api_walls), min(cli_walls)
    api_best_run = api_runs[api_walls.index(best_api)][1]
    cli_best_run = cli_runs[cli_walls.index(best_cli)]
    api_server_s = sum(r.server_s for r in api_best_run)
    cli_studio_s = sum(cli_best_run["elapsed_s"])
    return {
        "api_walls_s": api_walls, "cli_walls_s": cli_walls,
        "api_best_s": best_api, "cli_best_s": best_cli,
        "overhead": best_api / best_cli - 1,
        "overhead_median": statistics.median(api_walls) / statistics.median(cli_walls) - 1,
        "api_server_elapsed_sum_s": api_server_s, "cli_studio_elapsed_sum_s": cli_studio_s,
        "api_outside_studio_s": best_api - api_server_s,
        "cli_outside_studio_s": best_cli - cli_studio_s,
        "api_wer": wer_of(clips, {r.clip: r.text for r in api_best_run if not r.error}),
        "cli_wer": wer_of(clips, dict(enumerate(cli_best_run["texts"]))),
        "api_failed": sum(bool(r.error) for _, run in api_runs for r in run),
        "cli_cpu_s": min(float(run["cpu_s"]) for run in cli_runs),
        "server_cpu_s": min(server.cpu_s), "client_cpu_s": min(server.client_cpu_s),
        "cpu_overhead": min(server.cpu_s) / min(float(run["cpu_s"]) for run in cli_runs) - 1,
    }


def section(meta: dict[str, Any], conc: dict[str, Any], over: dict[str, Any],
            cli: dict[str, Any], quick: bool) -> str:
    from stt_studio.evaluation import NORMALIZER_NAME

    c, o = conc, over
    audio_s = float(meta["audio_s"])
    repeats = int(meta["repeats"])
    verdict = "met" if float(o["overhead"]) <= TARGET_OVERHEAD else "NOT met"
    lines = [HEADING, ""]
    if quick:
        lines += [
            "> **SMOKE RUN ONLY (`--quick`) — not the benchmark's figures.** "
            f"{meta['files']} files, {repeats} repeat(s), measured while other work shared "
            "the machine. Run `make bench` (or `python bench/api_bench.py`) on a quiet "
            "machine for the real section.",
            "",
        ]
    lines += [
        f"Command: `{meta['command']}`, {meta['date']}",
        "",
        f"Files: {meta['files']} group A clips of ../shared/audio ({audio_s:.0f} s of speech). "
        f"Whisper {MODEL} (bundled), int8 on CPU. The server is a real `stt-studio serve` "
        f"process on 127.0.0.1 (ready {float(meta['ready_s']):.1f} s after start, peak RSS "
        f"{float(meta['server_peak_rss_mb']):.0f} MB); the clients are the official `openai` "
        f"package ({meta['openai']}), `response_format=json` (no word timestamps, the "
        f"API's default for json). WER normaliser: `{NORMALIZER_NAME}`.",
        "",
        f"### {meta['clients']} concurrent clients",
        "",
        f"{meta['clients']} threads, each with its own client, take the next file from one "
        f"list holding every clip {meta['passes']}x; one warm-up request before.",
        "",
        "| requests | wall (s) | requests/min | audio s per wall s | p50 latency (s) "
        "| p95 (s) | max (s) | WER |",
        "|---|---|---|---|---|---|---|---|",
        f"| {c['requests']}{' (' + str(c['failed']) + ' failed)' if c['failed'] else ''} "
        f"| {float(c['wall_s']):.1f} | {float(c['requests_per_min']):.1f} | "
        f"{float(c['audio_s_per_wall_s']):.1f} | {float(c['p50_s']):.2f} | {float(c['p95_s']):.2f} | "
        f"{float(c['max_s']):.2f} | {float(c['wer']) * 100:.2f} % |",
        "",
        f"Where the latency goes (summed over the requests): "
        f"{float(c['share_waiting_for_turn']) * 100:.0f} % waiting for the model's turn "
        "(requests for one model run one at a time, first come first served: the elapsed "
        "header minus the same file's time alone in the sequential run), "
        f"{float(c['share_outside_studio']) * 100:.1f} % outside the studio (upload, form, "
        "JSON, client: latency minus the server's `x-stt-studio-elapsed-s`, median "
        f"{float(c['latency_minus_header_p50_s']) * 1000:.0f} ms), the rest transcribing. "
        "The header's time starts before the request waits for its turn, so it includes "
        "that wait.",
        "",
        "### Server overhead against the CLI",
        "",
        "Same files, same model and options (word timestamps off on both: the API's json "
        "default, the CLI's `--no-word-timestamps`), both warm (model loaded, one file "
        f"transcribed untimed first). {repeats} interleaved repeat(s); the best of each "
        "(median in brackets).",
        "",
        "| path | wall (s) | RTFx | of which the studio's own time (s) | WER |",
        "|---|---|---|---|---|",
        f"| CLI: `stt-studio transcribe FILES --format txt --no-word-timestamps` "
        "(its `Studio.transcribe_many` + `write_outputs` loop, in a warm worker process) | "
        f"{float(o['cli_best_s']):.2f} ({statistics.median(o['cli_walls_s']):.2f}) | "
        f"{audio_s / float(o['cli_best_s']):.1f} | {float(o['cli_studio_elapsed_sum_s']):.2f} | "
        f"{float(o['cli_wer']) * 100:.2f} % |",
        "| API: one `openai` client sending the files one at a time to the warm server | "
        f"{float(o['api_best_s']):.2f} ({statistics.median(o['api_walls_s']):.2f}) | "
        f"{audio_s / float(o['api_best_s']):.1f} | {float(o['api_server_elapsed_sum_s']):.2f} | "
        f"{float(o['api_wer']) * 100:.2f} % |",
        "",
        f"Server overhead = API / CLI - 1 = **{float(o['overhead']) * 100:+.1f} %** (medians: "
        f"{float(o['overhead_median']) * 100:+.1f} %; target <= +5 %): **{verdict}**. "
        f"Outside the studio's own time: API {float(o['api_outside_studio_s']):.2f} s "
        f"(HTTP, multipart upload, saving the upload, JSON, the client), CLI "
        f"{float(o['cli_outside_studio_s']):.2f} s (writing the txt files).",
        "",
        f"For reference, CPU seconds over the same runs (least of the repeats): CLI worker {float(o['cli_cpu_s']):.1f} s, "
        f"server process {float(o['server_cpu_s']):.1f} s "
        f"({float(o['cpu_overhead']) * 100:+.1f} %), plus the `openai` client's "
        f"{float(o['client_cpu_s']):.1f} s. The idle server used "
        f"{max(meta['server_cpu_s_while_cli_ran']):.2f} CPU s at most while a CLI run went "
        "on beside it.",
        "",
        f"Cross-check, the real command once: `stt-studio transcribe` on the same files took "
        f"{float(cli['wall_s']):.1f} s as a whole process (start-up and model load included); "
        f"the per-file times it logs sum to {float(cli['per_file_s_sum']):.1f} s "
        f"({cli['files_logged']} files, the first one cold).",
        "",
    ]
    return "\n".join(lines)


def compose(text: str) -> None:
    sections.compose(text, heading=HEADING, section_file=SECTION_FILE, results=RESULTS)


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "cli-worker":
        print(json.dumps(cli_worker([Path(p) for p in sys.argv[2:]])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 10 files, 1 pass, 1 repeat (section marked as such)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--passes", type=int, default=None,
                        help="times each file is sent in the concurrent phase (default 2)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="repeats of the overhead comparison (default 3)")
    parser.add_argument("--files", type=int, default=None, help="only the first N clips")
    args = parser.parse_args()
    passes = args.passes or (1 if args.quick else 2)
    repeats = args.repeats or (1 if args.quick else 3)
    clips = load_clips(args.files or (10 if args.quick else None))
    sys.path.insert(0, str(ROOT / "src"))
    from stt_studio.cache import prepare_cache

    prepare_cache(CACHE)
    import openai

    command = "make bench" if len(sys.argv) == 1 else "python bench/api_bench.py " + " ".join(
        sys.argv[1:])
    print(f"{len(clips)} clips, {args.clients} clients x {passes} pass(es), "
          f"{repeats} repeat(s)", flush=True)
    server = Server()
    try:
        print(f"server ready on {server.base_url} in {server.ready_s:.1f} s", flush=True)
        solo_runs: list[tuple[float, list[Reply]]] = []
        cli_runs: list[dict[str, Any]] = []
        idle_cpu: list[float] = []
        for n in range(repeats):  # interleaved, so drift hits both equally
            before = cpu_s(server.proc.pid)
            cli_runs.append(run_cli_worker(clips))
            idle_cpu.append(cpu_s(server.proc.pid) - before)
            solo_runs.append(sequential(server, clips))
            print(f"  repeat {n + 1}: CLI {float(cli_runs[-1]['wall_s']):.2f} s, "
                  f"API sequential {solo_runs[-1][0]:.2f} s (server CPU while the CLI ran: "
                  f"{idle_cpu[-1]:.2f} s)", flush=True)
        solo = {r.clip: min(run[1][r.clip].server_s for run in solo_runs)
                for r in solo_runs[0][1]}
        with client_for(server) as warm:
            send(warm, clips, 0, 0, 0.0)
        wall, replies = concurrent(server, clips, args.clients, passes)
        print(f"  {args.clients} clients: {len(replies)} requests in {wall:.1f} s", flush=True)
        rss = peak_rss_mb(server.proc.pid)
    finally:
        server.close()
    cli = real_cli(clips)
    print(f"  real CLI: {float(cli['wall_s']):.1f} s", flush=True)
    meta: dict[str, Any] = {
        "command": command, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "quick": args.quick, "files": len(clips), "audio_s": sum(c.duration_s for c in clips),
        "clients": args.clients, "passes": passes, "repeats": repeats,
        "openai": openai.__version__, "ready_s": server.ready_s, "server_peak_rss_mb": rss,
        "server_cpu_s_while_cli_ran": idle_cpu, "load_avg": os.getloadavg(),
    }
    conc = concurrency_figures(clips, wall, replies, solo)
    over = overhead_figures(clips, solo_runs, cli_runs, server)
    stored = WORK / "results" / f"api{'-quick' if args.quick else ''}@group_a.json"
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text(json.dumps({
        "meta": meta, "concurrent": conc, "overhead": over, "real_cli": cli,
        "replies": [asdict(r) for r in replies],
        "sequential": [[asdict(r) for r in run] for _, run in solo_runs],
        "cli_runs": cli_runs,
    }, indent=1), "utf-8")
    text = section(meta, conc, over, cli, args.quick)
    compose(text)
    print(text)
    print(f"stored {stored}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
