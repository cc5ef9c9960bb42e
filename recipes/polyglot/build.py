"""Build the offline multilingual demo corpus: plan -> render (resumable) -> CSV manifests -> summary."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the repository root importable so the recipe's modules resolve
    # as one package (recipes.polyglot.*), exactly as the tests import them.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from recipes.polyglot.catalog import DEFAULT_CATALOG, Catalog, load_catalog
from recipes.polyglot.engines import (
    is_complete_wav,
    read_real_recordings,
    render_festival,
    render_one,
    unavailable_reasons,
    wav_problem,
)
from recipes.polyglot.outputs import speakers_record, summary_tables, write_csv, write_json
from recipes.polyglot.plan import CorpusPlan, RenderJob, check_minimums, plan_corpus

__all__ = ["BuildOptions", "BuildResult", "say", "available_plan", "render_jobs", "build", "main"]

_PARTIAL = ".partial"  # renders land here first and move into wavs/ only once validated
_STAMP = "build.json"


@dataclass(frozen=True)
class BuildOptions:
    """What to build and where."""

    out_dir: Path
    """Corpus folder (created if missing; an earlier build there is resumed)."""
    size: str = "tiny"
    """A size from the catalog: tiny, small or full."""
    seed: int = 0
    """Chooses sentences and recordings; a folder keeps the seed it was first built with."""
    num_workers: int = 2
    """Engine processes running at once (festival: one process per voice)."""
    catalog_path: Path = DEFAULT_CATALOG
    """The voices.toml to read."""

    def __post_init__(self) -> None:
        if self.num_workers < 1:
            raise ValueError(f"--workers must be >= 1, got {self.num_workers}")


@dataclass
class BuildResult:
    """What a build did."""

    done: list[RenderJob]
    """Jobs whose WAV is in the corpus (rendered now or kept from an earlier run), in plan order."""
    num_skipped: int
    """WAVs kept from an earlier run."""
    failures: dict[str, str]
    """Job id -> why it failed (left out of the manifests)."""


def say(console: Console, label: str, message: str) -> None:
    """One diagnostic line, never wrapped (so it stays one line in logs)."""
    style = "yellow" if label == "warning" else "red"
    console.print(f"[{style}]polyglot: {label}:[/] {escape(message)}", highlight=False, soft_wrap=True)


def available_plan(catalog: Catalog, size: str, seed: int, warn: Callable[[str], None]) -> CorpusPlan:
    """Plan with the speakers this machine can make; the rest are skipped with one warning per cause."""
    reasons = unavailable_reasons(catalog, catalog.speakers)
    by_reason: dict[str, list[str]] = {}
    for name, reason in reasons.items():
        by_reason.setdefault(reason, []).append(name)
    for reason, names in by_reason.items():
        warn(f"skipping {len(names)} speaker(s) ({', '.join(names)}): {reason}")
    usable = dataclasses.replace(catalog,
                                 speakers=tuple(s for s in catalog.speakers if s.name not in reasons))
    real = {s.name: read_real_recordings(s.voice) for s in usable.speakers if s.engine == "real"}
    return plan_corpus(usable, size, seed, real)


def _finish(job: RenderJob, rendered: Path, out_dir: Path) -> str:
    problem = wav_problem(rendered) if rendered.is_file() else "no WAV was written"
    if not problem:
        final = out_dir / job.audio
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(rendered, final)
    return problem


def _single_task(job: RenderJob, out_dir: Path) -> dict[str, str]:
    work = out_dir / _PARTIAL / job.speaker
    work.mkdir(parents=True, exist_ok=True)
    rendered = work / f"{job.id}.wav"
    try:
        render_one(job, rendered)
    except (RuntimeError, OSError) as e:
        return {job.id: str(e)}
    problem = _finish(job, rendered, out_dir)
    return {job.id: problem} if problem else {}


def _festival_task(jobs: Sequence[RenderJob], out_dir: Path) -> dict[str, str]:
    work = out_dir / _PARTIAL / jobs[0].speaker
    work.mkdir(parents=True, exist_ok=True)
    try:
        failures = render_festival(jobs[0].voice, jobs[0].encoding, jobs, work)
    except (OSError, ValueError) as e:  # festival vanished, or a text its encoding cannot write
        return {job.id: f"festival voice {jobs[0].voice}: {e}" for job in jobs}
    for job in jobs:
        if job.id not in failures and (problem := _finish(job, work / f"{job.id}.wav", out_dir)):
            failures[job.id] = problem
    return failures


def render_jobs(jobs: Sequence[RenderJob], out_dir: Path, num_workers: int,
                on_done: Callable[[int, dict[str, str]], None]) -> dict[str, str]:
    """Render the jobs in parallel; `on_done(n, failures)` after each task. Returns all failures."""
    festival: dict[str, list[RenderJob]] = {}
    singles: list[RenderJob] = []
    for job in jobs:
        if job.engine == "festival":
            festival.setdefault(job.speaker, []).append(job)
        else:
            singles.append(job)
    failures: dict[str, str] = {}
    # Engines are separate processes, so threads that wait on them give real parallelism.
    with ThreadPoolExecutor(max_workers=num_workers) as pool:
        futures = {pool.submit(_festival_task, group, out_dir): len(group) for group in festival.values()}
        futures |= {pool.submit(_single_task, job, out_dir): 1 for job in singles}
        try:
            for future in as_completed(futures):
                result = future.result()
                failures |= result
                on_done(futures[future], result)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    shutil.rmtree(out_dir / _PARTIAL, ignore_errors=True)
    return failures


def _check_stamp(out_dir: Path, seed: int) -> None:
    stamp = out_dir / _STAMP
    if stamp.is_file():
        built_seed = json.loads(stamp.read_text(encoding="utf-8")).get("seed")
        if built_seed != seed:
            raise ValueError(
                f"{out_dir} was built with --seed {built_seed}, not {seed}: its WAVs say other sentences; "
                f"rerun with --seed {built_seed} or choose a new --out"
            )


def build(options: BuildOptions, console: Console) -> BuildResult:
    """Build (or resume) a corpus; raises ValueError when it cannot meet the corpus minimums."""
    out_dir = options.out_dir
    _check_stamp(out_dir, options.seed)
    catalog = load_catalog(options.catalog_path)
    plan = available_plan(catalog, options.size, options.seed, lambda msg: say(console, "warning", msg))
    problems = check_minimums(plan.jobs)
    if problems:
        raise ValueError("; ".join(problems) + " (install the engines named in the warnings above)")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / _STAMP, {"seed": options.seed, "format": 1})

    pending = [j for j in plan.jobs if not is_complete_wav(out_dir / j.audio)]
    columns = (TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("render", total=len(pending))

        def on_done(n: int, failed: dict[str, str]) -> None:
            for job_id, why in failed.items():
                say(progress.console, "failed", f"{job_id}: {why}")
            progress.advance(task, n)

        failures = render_jobs(pending, out_dir, options.num_workers, on_done)

    done = [j for j in plan.jobs if j.id not in failures]
    write_csv(out_dir / "metadata.csv", [j for j in done if j.split == "train"])
    write_csv(out_dir / "cross_test.csv", [j for j in done if j.split == "cross"])
    write_json(out_dir / "speakers.json", speakers_record(catalog, plan.speakers, done))
    return BuildResult(done=done, num_skipped=len(plan.jobs) - len(pending), failures=failures)


def _parse_args(argv: Sequence[str] | None) -> BuildOptions:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="corpus folder to build or resume")
    parser.add_argument("--size", choices=("tiny", "small", "full"), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="engine processes at once (default 2)")
    parser.add_argument("--voices", type=Path, default=DEFAULT_CATALOG, help="voice catalog (voices.toml)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    return BuildOptions(out_dir=args.out, size=args.size, seed=args.seed, num_workers=args.workers,
                        catalog_path=args.voices)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry. Exit 0: built (failed renders are listed and left out); 1: the built corpus is below
    the minimums; 2: nothing built (bad options, folder built with another seed, engines missing)."""
    options = _parse_args(argv)
    err = Console(stderr=True)
    try:
        result = build(options, err)
    except (ValueError, OSError) as e:
        say(err, "cannot build", str(e))
        return 2
    out = Console()
    for table in summary_tables(options.out_dir, result.done):
        out.print(table)
    num_rendered = len(result.done) - result.num_skipped
    out.print(f"{len(result.done)} utterances in {options.out_dir} ({num_rendered} rendered now, "
              f"{result.num_skipped} kept from an earlier run), {len(result.failures)} failed",
              highlight=False, soft_wrap=True)
    problems = check_minimums(result.done)
    if problems:
        say(err, "corpus below the minimums", "; ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
