"""Benchmark: how fast the CLI starts, and the fixed cost of one `vclone synthesize` call.

    python bench/cli_startup.py [--repeats 5] [--voice base] [--speaker NAME] [--threads 1]

1. Cold start (median wall seconds of a fresh `python -m vclone.cli.app ARGS`) of `--help`, every
   `COMMAND --help`, `languages` and `voices`, beside `python -c pass` and `python -c "import torch"`
   for scale. None of them but `voices` (which reads voices through vclone.models) should load torch.
2. One `vclone synthesize` of a short sentence split into: interpreter start, start-up (the CLI and
   the synthesis code with torch), model load (voice + vocoder + speaker), synthesis (text to WAV on
   disk); measured in a child process that runs the command's own steps, beside the wall time of
   the real command.

The voice is the shipped base voice when installed, else a random-init voice of --preset made here
(the times do not depend on the weights). Run it on a quiet machine: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VCLONE = [sys.executable, "-m", "vclone.cli.app"]
TEXT = "Good morning, this is a short sentence."

# The child of part 2: the same steps as `vclone synthesize`, with a clock between them.
_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
voice, speaker, language, out, threads = sys.argv[1:6]
import vclone.cli.app
from vclone.threads import configure_threads
configure_threads(int(threads) if threads else None)
from vclone.synth.jobs import OutputPaths, SynthesisOptions, synthesize_to_files
from vclone.synth.synthesizer import Synthesizer
t1 = time.perf_counter()
synth = Synthesizer.from_path(voice)
prepared = synth.prepare_speaker(speaker)
t2 = time.perf_counter()
result = synthesize_to_files(synth, sys.argv[6], options=SynthesisOptions(language=language, speaker=prepared), paths=OutputPaths(wav=__import__("pathlib").Path(out)))
t3 = time.perf_counter()
print("TIMES " + json.dumps({"startup": t1 - t0, "load": t2 - t1, "synthesis": t3 - t2, "audio": result.seconds}))
"""


def _wall(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{proc.stdout}{proc.stderr}")
    return seconds


def _median(command: list[str], env: dict[str, str], repeats: int) -> float:
    return statistics.median(_wall(command, env) for _ in range(repeats))


def _commands() -> list[list[str]]:
    """Every command's words: the plain commands, each group, and each group's commands."""
    from vclone.cli.app import app

    words = [[c.name] for c in app.registered_commands if c.name]
    for group in app.registered_groups:
        words.append([group.name])
        words.extend([group.name, c.name] for c in group.typer_instance.registered_commands if c.name)
    return sorted(words)


def _voice(args: argparse.Namespace, tmp: Path) -> tuple[str, str]:
    """(voice, speaker): the shipped base voice, or a random-init one with a table speaker."""
    from vclone.models.shipped import shipped_voice_names

    if args.voice != "base" or "base" in shipped_voice_names():
        if not args.speaker:
            raise SystemExit("--speaker is required with --voice (a training speaker, an embedding file or a recording)")
        return args.voice, args.speaker
    from vclone.synth.untrained import save_untrained_voice

    folder = save_untrained_voice(tmp / "voice", texts={"en-us": [TEXT]}, speakers=["s0"], preset_name=args.preset)
    print(f"(no shipped base voice here: a random-init {args.preset} voice stands in)")
    return str(folder), "s0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--voice", default="base", help="Voice for part 2 (default: the shipped base voice).")
    parser.add_argument("--speaker", default="", help="Speaker for part 2 (needed with --voice).")
    parser.add_argument("--language", default="en-us")
    parser.add_argument("--preset", default="small", help="Preset of the stand-in voice when no base voice is installed.")
    parser.add_argument("--threads", default="", help="--threads of the synthesize call (default: vclone's choice).")
    args = parser.parse_args()
    env = dict(os.environ)
    print(f"cores: {len(os.sched_getaffinity(0))}  load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  repeats: {args.repeats} (medians)")
    rows = [("python -c pass", _median([sys.executable, "-c", "pass"], env, args.repeats)),
            ("python -c 'import torch'", _median([sys.executable, "-c", "import torch"], env, args.repeats))]
    for words in (["--help"], *([*c, "--help"] for c in _commands()), ["languages"], ["voices"]):
        rows.append(("vclone " + " ".join(words), _median([*VCLONE, *words], env, args.repeats)))
    width = max(len(name) for name, _ in rows)
    print("\n1. cold start, s")
    for name, seconds in rows:
        print(f"  {name:<{width}}  {seconds:6.3f}")

    with tempfile.TemporaryDirectory(prefix="vclone-startup-") as tmp:
        voice, speaker = _voice(args, Path(tmp))
        wav = str(Path(tmp) / "out.wav")
        parts = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", _CHILD, voice, speaker, args.language, wav, args.threads, TEXT],
                                  capture_output=True, text=True, env=env, cwd=ROOT)
            total = time.perf_counter() - start
            line = [x for x in proc.stdout.splitlines() if x.startswith("TIMES ")]
            if proc.returncode != 0 or not line:
                raise SystemExit(f"the synthesis child failed:\n{proc.stdout}{proc.stderr}")
            times = json.loads(line[-1].removeprefix("TIMES "))
            times["interpreter"] = total - times["startup"] - times["load"] - times["synthesis"]
            times["total"] = total
            parts.append(times)
        command = [*VCLONE, "synthesize", TEXT, "-l", args.language, "-s", speaker, "--voice", voice, "-o", wav, "--quiet"]
        if args.threads:
            command += ["--threads", args.threads]
        real = _median(command, env, args.repeats)
    print(f"\n2. one `vclone synthesize` ({statistics.median(p['audio'] for p in parts):.2f} s of audio), s")
    for key in ("interpreter", "startup", "load", "synthesis", "total"):
        print(f"  {key:<12} {statistics.median(p[key] for p in parts):6.3f}")
    print(f"  {'the command':<12} {real:6.3f}  (vclone synthesize ... as typed)")


if __name__ == "__main__":
    main()
