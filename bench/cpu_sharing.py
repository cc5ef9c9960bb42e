"""Benchmark: vclone processes sharing the CPU, with today's thread settings and with vclone's choice.

    python bench/cpu_sharing.py [--data demo/prepared] [--steps 150] [--preset tiny] [--train-args "..."]

Side by side, in one run, each scenario twice: "torch" = torch's own defaults (every core, OpenMP's
default waiting; what vclone did before it chose, VCLONE_THREADS=torch), "vclone" = vclone's plan
(vclone.threads: every core on an idle machine, the idle cores and passive waiting on a busy one):

1. one `vclone train --preset tiny --max-steps N` alone (wall seconds);
2. two of them started together (wall seconds of each; target: within 1.3x of twice the one alone);
3. `vclone synthesize` on an idle machine and while a training runs (RTF as synthesize prints it,
   median of --repeats calls; target: during training within 2x of idle). A training that started
   alone gives cores back while the synthesize works (vclone.threads.ThreadRebalancer).

`--scenarios synthesize` runs only the third (after one training that makes the voice it speaks).

Every process is a real CLI call in a fresh interpreter, so start-up and the speaker-encoder pass
over the corpus are included, as a user meets them. Run it on an otherwise quiet machine: the load
average at the start is printed, and figures taken beside other work mean nothing. The corpus is
the tiny demo corpus (scripts/quickstart.sh builds demo/prepared).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "demo" / "prepared"
VCLONE = [sys.executable, "-m", "vclone.cli.app"]
MODES = ("torch", "vclone")
TEXT = "The old lighthouse keeper walked slowly along the rocky shore at dawn, listening to the waves."
_THREADS_LINE = re.compile(r"^threads: torch uses .*$", re.MULTILINE)
_RTF = re.compile(r"RTF ([0-9.]+)")


@dataclass
class Timed:
    seconds: float
    threads: str
    output: str


def _env(mode: str) -> dict[str, str]:
    """The environment of one mode: no thread variables of the caller's, the opt-out for "torch"."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "VCLONE_THREADS")}
    if mode == "torch":
        env["VCLONE_THREADS"] = "torch"
    return env


def _start(args: list[str], mode: str) -> tuple[subprocess.Popen[str], float]:
    proc = subprocess.Popen([*VCLONE, *args], env=_env(mode), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    return proc, time.perf_counter()


def _finish(proc: subprocess.Popen[str], started: float, what: str) -> Timed:
    output, _ = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed (exit {proc.returncode}):\n{output}")
    found = _THREADS_LINE.search(output)
    return Timed(seconds, found.group(0) if found else "", output)


def _train_args(data: Path, out: Path, args: argparse.Namespace) -> list[str]:
    return ["train", "--data", str(data), "--out", str(out), "--preset", args.preset, "--max-steps", str(args.steps), *shlex.split(args.train_args)]


def _train_alone(mode: str, out: Path, args: argparse.Namespace) -> Timed:
    return _finish(*_start(_train_args(args.data, out, args), mode), f"train ({mode})")


def _train_pair(mode: str, root: Path, args: argparse.Namespace) -> list[Timed]:
    started = [_start(_train_args(args.data, root / f"pair-{i}", args), mode) for i in range(2)]
    return [_finish(proc, t0, f"train pair ({mode})") for proc, t0 in started]


def _speaker(voice_run: Path) -> str:
    """The first training speaker of the voice (a table voice speaks its speakers by name)."""
    meta = json.loads((voice_run / "voice" / "voice.json").read_text(encoding="utf-8"))
    speakers = meta["vocab"]["speakers"]
    return min(speakers, key=speakers.__getitem__)


def _synthesize(mode: str, voice_run: Path, out: Path, args: argparse.Namespace) -> tuple[float, Timed]:
    command = ["synthesize", TEXT, "--language", args.language, "--voice", str(voice_run), "--speaker", _speaker(voice_run), "--out", str(out)]
    timed = _finish(*_start(command, mode), f"synthesize ({mode})")
    found = _RTF.search(timed.output)
    if found is None:
        raise SystemExit(f"no RTF in the output of synthesize:\n{timed.output}")
    return float(found.group(1)), timed


def _synthesize_during_training(mode: str, voice_run: Path, root: Path, args: argparse.Namespace) -> tuple[float, Timed]:
    """Start a training, wait until it is taking steps, synthesize, then stop the training."""
    out = Path(tempfile.mkdtemp(prefix=f"busy-{mode}-", dir=root)) / "run"  # a fresh run for every call
    proc, _ = _start(_train_args(args.data, out, args), mode)
    try:
        deadline = time.monotonic() + args.wait_s
        while not (out / "logs" / "train.csv").exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise SystemExit(f"the training to synthesize beside ended before synthesis started; raise --steps:\n{proc.communicate()[0]}")
        return _synthesize(mode, voice_run, root / f"busy-{mode}.wav", args)
    finally:
        proc.terminate()
        proc.communicate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Prepared corpus (default demo/prepared).")
    parser.add_argument("--steps", type=int, default=150, help="--max-steps of each training (default 150, as in issue 23).")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--train-args", default="", help="More `vclone train` options, quoted (e.g. \"--speaker-table\").")
    parser.add_argument("--language", default="en-us", help="Language of the synthesized sentence.")
    parser.add_argument("--wait-s", type=float, default=600.0, help="Longest wait for a training to take its first steps.")
    parser.add_argument("--keep", type=Path, default=None, help="Keep the runs in this folder (default: a temporary one).")
    parser.add_argument("--scenarios", choices=("all", "synthesize"), default="all", help="All three, or only synthesize idle vs during training.")
    parser.add_argument("--repeats", type=int, default=3, help="synthesize calls per mode and machine state (median RTF; default 3).")
    args = parser.parse_args()
    if not (args.data / "manifest.jsonl").is_file():
        raise SystemExit(f"{args.data} is not a prepared corpus; build the demo one with scripts/quickstart.sh, or pass --data")
    print(f"cores: {len(os.sched_getaffinity(0))}  load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  steps: {args.steps}  preset: {args.preset}")
    with tempfile.TemporaryDirectory(prefix="vclone-cpu-sharing-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        results: dict[str, dict[str, object]] = {mode: {} for mode in MODES}
        for mode in MODES if args.scenarios == "all" else ("torch",):
            results[mode]["alone"] = _train_alone(mode, root / f"alone-{mode}", args)
            if args.scenarios == "all":
                results[mode]["pair"] = _train_pair(mode, root / f"pair-{mode}", args)
        voice = root / "alone-torch"  # one voice for every synthesis, so both modes speak alike
        for _ in range(args.repeats):  # the modes take turns, so drifting load touches both alike
            for mode in MODES:
                results[mode].setdefault("rtf_idle", []).append(_synthesize(mode, voice, root / f"idle-{mode}.wav", args))
                results[mode].setdefault("rtf_busy", []).append(_synthesize_during_training(mode, voice, root, args))
        _report(results, trainings=args.scenarios == "all")


def _median_rtf(runs: list[tuple[float, Timed]]) -> float:
    return statistics.median(rtf for rtf, _ in runs)


def _report(results: dict[str, dict], *, trainings: bool) -> None:
    rows = [("scenario", *MODES)]
    if trainings:
        rows.append(("train alone, s", *(f"{results[m]['alone'].seconds:.1f}" for m in MODES)))
        rows.append(("two trainings at once, s each", *("/".join(f"{t.seconds:.1f}" for t in results[m]["pair"]) for m in MODES)))
        rows.append(("  slowest / (2 x alone), target <= 1.3", *(f"{max(t.seconds for t in results[m]['pair']) / (2 * results[m]['alone'].seconds):.2f}" for m in MODES)))
        rows.append(("  alone vs torch alone, target <= 1.05", *(f"{results[m]['alone'].seconds / results['torch']['alone'].seconds:.2f}" for m in MODES)))
    for state, key in (("idle machine", "rtf_idle"), ("during training", "rtf_busy")):
        rows.append((f"synthesize RTF, {state} (median)", *(f"{_median_rtf(results[m][key]):.3f}" for m in MODES)))
        rows.append(("  each call", *(" ".join(f"{rtf:.3f}" for rtf, _ in results[m][key]) for m in MODES)))
    rows.append(("  during / idle, target <= 2", *(f"{_median_rtf(results[m]['rtf_busy']) / _median_rtf(results[m]['rtf_idle']):.2f}" for m in MODES)))
    width = max(len(r[0]) for r in rows)
    for row in rows:
        print(f"{row[0]:<{width}}  " + "  ".join(f"{cell:>18}" for cell in row[1:]))
    named = [("synthesize idle", results["vclone"]["rtf_idle"][0][1]), ("synthesize busy", results["vclone"]["rtf_busy"][0][1])]
    if trainings:
        named = [("alone", results["vclone"]["alone"]), ("pair 1", results["vclone"]["pair"][0]), ("pair 2", results["vclone"]["pair"][1]), *named]
    print("thread plans (vclone): " + "; ".join(f"{name}: {t.threads.removeprefix('threads: ')}" for name, t in named))


if __name__ == "__main__":
    main()
