"""A bounded load test of `/search`: N client threads for a fixed time, loopback only.

    python -m eval.load_test [--clients 16] [--duration 60] [--max-requests 200000] [--url URL]

Without --url it starts the real API (`python -m uvicorn api.app:app`, the packaged model, the
index at ONRECORD_INDEX_DIR or var/index) on a free loopback port, waits for /healthz, and stops it
afterwards. Each client asks the questions of eval/questions.jsonl in turn (each client starts at
a different one) until the time is up or the request cap is reached, after a few seconds of
untimed warm-up load (each server thread opens its own database connection and buffers then).
It reports throughput, latency percentiles, errors, and the server's resident memory before the
load, at the start and end of the timed run and its peak, writes eval/results/load.json, and
exits non-zero on any error.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = REPO_ROOT / "eval" / "questions.jsonl"
RESULTS = REPO_ROOT / "eval" / "results" / "load.json"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def load_questions(path: Path = QUESTIONS) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line)["question"] for line in fh if line.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process: psutil if installed, else /proc/<pid>/status (VmRSS)."""
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss
    except ImportError:
        pass
    except Exception:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class Server:
    """The real API in a subprocess on a free loopback port."""

    def __init__(self, index_dir: Path | None, startup_timeout: float = 300):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ}
        if index_dir is not None:
            env["ONRECORD_INDEX_DIR"] = str(index_dir)
        env.pop("ONRECORD_API_KEY", None)  # our own server: no key
        self._log_file = tempfile.NamedTemporaryFile(prefix="onrecord-load-server-", suffix=".log", delete=False)
        self.log = Path(self._log_file.name)  # the server's own output, for when it fails to start
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "warning", "--no-access-log"],
            cwd=REPO_ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT)
        self._wait_healthy(startup_timeout)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the API exited at start-up (code {self.process.returncode}); see {self.log}")
            try:
                r = httpx.get(f"{self.url}/healthz", timeout=5)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.TransportError as exc:
                last = str(exc)
            time.sleep(0.3)
        self.stop()
        raise SystemExit(f"the API did not become healthy in {timeout:.0f}s: {last}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _client(url: str, questions: list[str], start: int, stop_at: float, cap: int, tally: Tally, k: int) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        i = start
        while time.monotonic() < stop_at:
            with tally.lock:
                if tally.issued >= cap:
                    return
                tally.issued += 1
            q = questions[i % len(questions)]
            i += 1
            t0 = time.perf_counter()
            try:
                r = http.get("/search", params={"q": q, "k": k})
                ok = r.status_code == 200 and isinstance(r.json().get("passages"), list)
                problem = "" if ok else f"HTTP {r.status_code}: {r.text[:120]}"
            except Exception as exc:  # a transport error is an error of the run, not of this script
                problem = f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - t0
            with tally.lock:
                if problem:
                    tally.errors.append(problem)
                else:
                    tally.latencies.append(elapsed)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)  # nearest rank
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def _load(url: str, clients: int, seconds: float, cap: int, questions: list[str], k: int) -> tuple[Tally, float]:
    tally = Tally()
    started = time.monotonic()
    stop_at = started + seconds
    threads = [threading.Thread(target=_client, args=(url, questions, n * 7, stop_at, cap, tally, k), daemon=True)
               for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    return tally, time.monotonic() - started


class RssSampler(threading.Thread):
    """The server's resident memory once a second while the load runs."""

    def __init__(self, pid: int | None, every: float = 1.0):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int]] = []
        self._halt = threading.Event()
        self._t0 = time.monotonic()

    def run(self) -> None:
        while self.pid and not self._halt.is_set():
            value = rss_bytes(self.pid)
            if value is not None:
                self.samples.append((round(time.monotonic() - self._t0, 1), value))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def run(url: str, clients: int, duration: float, cap: int, questions: list[str], pid: int | None,
        k: int = 5, warmup: float = 5.0) -> dict:
    """Warm up (the same clients, `warmup` seconds, not timed: every server thread opens its connections
    and the model's buffers), then the timed run. Errors in either count."""
    with httpx.Client(base_url=url, timeout=60) as http:
        http.get("/search", params={"q": questions[0], "k": k}).raise_for_status()
        health = http.get("/healthz").json()
    rss_before = rss_bytes(pid) if pid else None
    warm, _ = _load(url, clients, warmup, cap, questions, k) if warmup > 0 else (Tally(), 0.0)
    rss_start = rss_bytes(pid) if pid else None
    sampler = RssSampler(pid)
    sampler.start()
    tally, wall = _load(url, clients, duration, cap, questions, k)
    sampler.stop()
    rss_end = rss_bytes(pid) if pid else None
    ok = len(tally.latencies)
    errors = warm.errors + tally.errors
    ms = [x * 1000 for x in tally.latencies]
    mib = (lambda b: round(b / 2**20, 1) if b is not None else None)
    peak = max((v for _, v in sampler.samples), default=None)
    return {
        "url": url, "clients": clients, "duration_s": duration, "warmup_s": warmup, "request_cap": cap, "k": k,
        "index": {"documents": health.get("documents"), "chunks": health.get("chunks"), "model": health.get("model")},
        "requests": ok + len(tally.errors), "ok": ok, "errors": len(errors), "warmup_requests": len(warm.latencies),
        "error_samples": sorted(set(errors))[:10],
        "wall_s": round(wall, 2), "throughput_rps": round(ok / wall, 2) if wall else 0.0,
        "latency_ms": {"p50": round(percentile(ms, 50), 1), "p95": round(percentile(ms, 95), 1),
                       "p99": round(percentile(ms, 99), 1), "max": round(max(ms), 1) if ms else None,
                       "mean": round(statistics.fmean(ms), 1) if ms else None},
        "server_rss_mib": {"before_load": mib(rss_before), "start": mib(rss_start), "end": mib(rss_end),
                           "peak": mib(peak), "growth": (mib(rss_end - rss_start) if rss_start and rss_end else None),
                           "every_5s": [[t, mib(v)] for t, v in sampler.samples[::5]]},
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def summary_lines(result: dict) -> list[str]:
    lat, rss = result["latency_ms"], result["server_rss_mib"]
    return [
        f"{result['clients']} clients x {result['duration_s']:g}s on {result['url']} "
        f"({result['index']['documents']} documents, {result['index']['chunks']} chunks)",
        f"requests {result['requests']}  ok {result['ok']}  errors {result['errors']}  "
        f"throughput {result['throughput_rps']} req/s",
        f"latency ms  p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  max {lat['max']}",
        f"server RSS MiB  before load {rss['before_load']}  start (after warm-up) {rss['start']}  "
        f"end {rss['end']}  peak {rss['peak']}  growth {rss['growth']}",
        f"machine load average at the end {result['load_average_at_end']} on {result['cpus']} CPUs",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.load_test", description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    p.add_argument("--max-requests", type=int, default=200_000, help="cap on the total number of requests")
    p.add_argument("--url", help="an API already running on loopback (default: start one)")
    p.add_argument("--pid", type=int, help="with --url: the server's process id, to report its memory")
    p.add_argument("--index-dir", type=Path, help="without --url: the index to serve (default: ONRECORD_INDEX_DIR "
                                                  "or var/index)")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of untimed load first (0: none)")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.clients < 1 or args.duration <= 0 or args.max_requests < 1:
        p.error("--clients, --duration and --max-requests must be positive")
    if args.url and urlparse(args.url).hostname not in LOOPBACK:
        p.error("the load test runs against loopback only (127.0.0.1, localhost, ::1)")
    questions = load_questions()
    server = None if args.url else Server(args.index_dir)
    try:
        url = args.url or server.url
        pid = args.pid if args.url else server.pid
        result = run(url.rstrip("/"), args.clients, args.duration, args.max_requests, questions, pid, k=args.k,
                     warmup=args.warmup)
    finally:
        if server is not None:
            server.stop()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for line in summary_lines(result):
        print(line)
    print(f"written to {args.output}")
    if result["errors"]:
        print(f"FAIL: {result['errors']} errors, e.g. {result['error_samples'][:3]}", file=sys.stderr)
        return 1
    if result["ok"] == 0:
        print("FAIL: no request completed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
