"""Benchmark: N concurrent speech requests against `vclone serve` on a few cores: all answered? latency and time to first byte.

    python bench/serve_load.py [--voice DIR_OR_NAME] [--threads 2] [--workers 1] [--requests 16] [--format wav] [--max-queue 16]

Starts `vclone serve` in a subprocess (its own --threads, taskset to the first --threads cores when
taskset exists) on a free loopback port, waits until it answers, then sends --requests requests at
once from as many client threads, each a different short paragraph (two sentences) spoken by the
voice's first training speaker, and reads each body to the end. Reports per request: status, time to
the first body byte and to the last, bytes; then p50/p95 of both, and how many got 200, 429 or 503.
With the queue at least as long as the requests (default), every request must be answered 200.
Voice: --voice, else the trained voice in /work/base/run/voice when it exists, else the shipped base voice.
Issue 22 target: 16 concurrent requests on 2 cores, all answered.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

_TRAINED = Path("/work/base/run/voice")
_TEXTS = [
    "The quick brown fox jumps over the lazy dog. It was a bright cold day in April.",
    "She sells sea shells by the sea shore. The shells she sells are surely sea shells.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "A journey of a thousand miles begins with a single step. Keep walking every day.",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _wait_ready(port: int, proc: subprocess.Popen, seconds: float = 300) -> dict:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with status {proc.returncode} before answering")
        try:
            status, body = _get(port, "/v1/voices")
            if status == 200:
                return json.loads(body)
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer within {seconds:.0f} s")


def _one(port: int, body: dict, started: threading.Event, out: list, index: int, timeout: float) -> None:
    started.wait()
    t0 = time.perf_counter()
    first = None
    size = 0
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("POST", "/v1/audio/speech", body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        while True:
            piece = response.read1(65536)
            if not piece:
                break
            if first is None:
                first = time.perf_counter() - t0
            size += len(piece)
        status = response.status
        conn.close()
    except OSError as err:
        status = f"error: {err}"
    out[index] = {"status": status, "ttfb_s": first, "total_s": time.perf_counter() - t0, "bytes": size}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voice", default=None)
    parser.add_argument("--vocoder", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--max-queue", type=int, default=None, help="default: --requests (so none is refused)")
    parser.add_argument("--format", default="wav")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()

    voice = args.voice or (str(_TRAINED) if (_TRAINED / "voice.json").is_file() else "base")
    port = _free_port()
    data = Path(tempfile.mkdtemp(prefix="vclone-serve-bench-"))
    command = [sys.executable, "-m", "vclone.cli.app", "serve", "--voice", voice, "--port", str(port), "--voices-dir", str(data),
               "--threads", str(args.threads), "--workers", str(args.workers), "--timeout", str(args.timeout),
               "--max-queue", str(args.max_queue if args.max_queue is not None else args.requests)]
    if args.vocoder:
        command += ["--vocoder", args.vocoder]
    if shutil.which("taskset") and args.threads <= (os.cpu_count() or 1):
        command = ["taskset", "-c", f"0-{args.threads - 1}", *command]
    print("server:", " ".join(command), flush=True)
    log = open(data / "server.log", "w")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        t0 = time.perf_counter()
        info = _wait_ready(port, proc)
        print(f"server ready in {time.perf_counter() - t0:.1f} s: voice {info['model']}, languages {', '.join(info['languages'])}")
        speaker = next(v["name"] for v in info["voices"] if v["kind"] == "speaker")
        language = "en-us" if "en-us" in info["languages"] else info["languages"][0]
        # One warm-up request (phonemizer and first-call costs), not counted.
        warm = [None]
        ready = threading.Event()
        ready.set()
        _one(port, {"model": "vclone", "input": _TEXTS[0], "voice": speaker, "language": language, "response_format": args.format}, ready, warm, 0, args.timeout)
        print(f"warm-up: {warm[0]}")
        results: list = [None] * args.requests
        go = threading.Event()
        threads = [threading.Thread(target=_one, args=(port, {"model": "vclone", "input": _TEXTS[i % len(_TEXTS)], "voice": speaker,
                                                               "language": language, "response_format": args.format}, go, results, i, args.timeout))
                   for i in range(args.requests)]
        for thread in threads:
            thread.start()
        wall = time.perf_counter()
        go.set()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - wall
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()

    print(f"\n{args.requests} concurrent requests, {args.threads} threads, {args.workers} worker(s), format {args.format}, wall {wall:.1f} s")
    print(f"{'#':>3} {'status':>6} {'first byte s':>12} {'total s':>8} {'bytes':>9}")
    for i, r in enumerate(results):
        ttfb = f"{r['ttfb_s']:.2f}" if r["ttfb_s"] is not None else "-"
        print(f"{i:>3} {str(r['status']):>6} {ttfb:>12} {r['total_s']:>8.2f} {r['bytes']:>9}")
    ok = [r for r in results if r["status"] == 200]
    counts = {str(s): sum(1 for r in results if str(r["status"]) == str(s)) for s in sorted({str(r["status"]) for r in results})}
    print(f"\nanswered 200: {len(ok)}/{args.requests}  (statuses: {counts})")
    if ok:
        ttfb = [r["ttfb_s"] for r in ok if r["ttfb_s"] is not None]
        total = [r["total_s"] for r in ok]
        print(f"latency      p50 {statistics.median(total):.2f} s   p95 {_percentile(total, 0.95):.2f} s")
        if ttfb:
            print(f"first byte   p50 {statistics.median(ttfb):.2f} s   p95 {_percentile(ttfb, 0.95):.2f} s")
    print(f"server log: {data / 'server.log'}")
    if len(ok) != args.requests:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
