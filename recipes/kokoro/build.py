"""Build the Kokoro-82M multilingual corpus offline: plan -> check files -> render (resumable) -> manifests."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the repository root importable (recipes.kokoro.*, recipes.polyglot.*).
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import soundfile as sf
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from recipes.kokoro.assets import MODEL_SHA256, KokoroAssetError, KokoroAssets, default_voices_dir
from recipes.kokoro.catalog import DEFAULT_CATALOG, Catalog, load_catalog
from recipes.kokoro.engine import SAMPLE_RATE, KokoroEngine
from recipes.kokoro.outputs import speakers_record, summary_table
from recipes.kokoro.plan import SPLITS, KokoroPlan, check_minimums, plan_corpus, real_catalog
from recipes.polyglot.engines import is_complete_wav, read_real_recordings, render_one, unavailable_reasons, wav_problem
from recipes.polyglot.outputs import write_csv, write_json
from recipes.polyglot.plan import RenderJob
from vclone.errors import VcloneError

__all__ = ["BuildOptions", "BuildResult", "say", "available_plan", "build", "main"]

_PARTIAL = ".partial"  # renders land here first and move into wavs/ only once validated
_STAMP = "build.json"
_FORMAT = 1


@dataclass(frozen=True)
class BuildOptions:
    """What to build and where."""

    out_dir: Path
    """Corpus folder (created if missing; an earlier build there is resumed)."""
    size: str = "tiny"
    """A size from the catalog: tiny, small, medium or full."""
    seed: int = 0
    """Chooses sentences and recordings; a folder keeps the seed it was first built with."""
    num_threads: int = 1
    """onnxruntime threads for the model."""
    catalog_path: Path = DEFAULT_CATALOG
    """The voices.toml to read."""
    voices_dir: Path | None = None
    """Folder of Kokoro's voice tables (None: where scripts/install_kokoro.sh puts them)."""

    def __post_init__(self) -> None:
        if self.num_threads < 1:
            raise ValueError(f"--threads must be >= 1, got {self.num_threads}")


@dataclass
class BuildResult:
    """What a build did."""

    done: list[RenderJob]
    """Jobs whose WAV is in the corpus (rendered now or kept from an earlier run), in plan order."""
    num_skipped: int
    """WAVs kept from an earlier run."""
    failures: dict[str, str]
    """Job id -> why it failed (left out of the manifests)."""
    render_s: float
    """Seconds spent rendering with Kokoro in this run."""
    rendered_audio_s: float
    """Seconds of audio Kokoro rendered in this run."""


def say(console: Console, label: str, message: str) -> None:
    """One diagnostic line, never wrapped (so it stays one line in logs)."""
    style = "yellow" if label == "warning" else "red"
    console.print(f"[{style}]kokoro: {label}:[/] {escape(message)}", highlight=False, soft_wrap=True)


def available_plan(catalog: Catalog, size: str, seed: int, console: Console) -> KokoroPlan:
    """The plan, with the real speaker left out (one warning) when its Debian package is missing."""
    recordings = []
    real = real_catalog(catalog, size)
    if real is not None:
        reason = unavailable_reasons(real, real.speakers).get(catalog.real.name)
        if reason:
            say(console, "warning", f"skipping {catalog.real.name}: {reason}")
        else:
            recordings = read_real_recordings(catalog.real.voice)
    return plan_corpus(catalog, size, seed, recordings)


def _check_stamp(out_dir: Path, seed: int) -> None:
    stamp = out_dir / _STAMP
    if stamp.is_file():
        built_seed = json.loads(stamp.read_text(encoding="utf-8")).get("seed")
        if built_seed != seed:
            raise ValueError(f"{out_dir} was built with --seed {built_seed}, not {seed}: its WAVs say other "
                             f"sentences; rerun with --seed {built_seed} or choose a new --out")


def _render(job: RenderJob, engine: KokoroEngine, out_dir: Path) -> tuple[str, float]:
    """Render one job into place; returns (problem or "", seconds of Kokoro audio rendered)."""
    work = out_dir / _PARTIAL / job.speaker
    work.mkdir(parents=True, exist_ok=True)
    rendered = work / f"{job.id}.wav"
    seconds = 0.0
    try:
        if job.engine == "real":
            render_one(job, rendered)
        else:
            audio = engine(job.text, job.language, job.voice)
            seconds = len(audio) / SAMPLE_RATE
            sf.write(rendered, audio, SAMPLE_RATE, subtype="PCM_16")
    except (VcloneError, RuntimeError, ValueError, OSError) as e:  # a text espeak or Kokoro cannot read, a full disk
        return f"{type(e).__name__}: {e}", seconds
    problem = wav_problem(rendered)
    if not problem:
        final = out_dir / job.audio
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(rendered, final)
    return problem, seconds


def build(options: BuildOptions, console: Console) -> BuildResult:
    """Build (or resume) a corpus; raises ValueError (bad options, minimums) or KokoroAssetError (files)."""
    out_dir = options.out_dir
    _check_stamp(out_dir, options.seed)
    catalog = load_catalog(options.catalog_path)
    plan = available_plan(catalog, options.size, options.seed, console)
    problems = check_minimums(plan.jobs)
    if problems and options.catalog_path == DEFAULT_CATALOG:
        raise ValueError("; ".join(problems))
    pending = [j for j in plan.jobs if not is_complete_wav(out_dir / j.audio)]
    assets = KokoroAssets(catalog.sha256, options.voices_dir or default_voices_dir())
    # Every table the plan uses is checked before anything renders: a broken file is one line now,
    # not a failure per utterance an hour later.
    assets.check(sorted({j.voice for j in plan.jobs if j.engine == "kokoro"}))
    engine = KokoroEngine(assets, num_threads=options.num_threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / _STAMP, {"seed": options.seed, "format": _FORMAT, "model_sha256": MODEL_SHA256,
                                  "voices": "kokoro-js@1.2.1"})

    failures: dict[str, str] = {}
    render_s = audio_s = 0.0
    columns = (TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("render", total=len(pending))
        for job in pending:
            start = time.perf_counter()
            problem, seconds = _render(job, engine, out_dir)
            if seconds:
                render_s += time.perf_counter() - start
                audio_s += seconds
            if problem:
                failures[job.id] = problem
                say(progress.console, "failed", f"{job.id}: {problem}")
            progress.advance(task)
    shutil.rmtree(out_dir / _PARTIAL, ignore_errors=True)

    done = [j for j in plan.jobs if j.id not in failures]
    for split, name in SPLITS.items():
        write_csv(out_dir / name, [j for j in done if j.split == split])
    write_json(out_dir / "speakers.json", speakers_record(catalog, plan.speakers, done))
    return BuildResult(done=done, num_skipped=len(plan.jobs) - len(pending), failures=failures,
                       render_s=render_s, rendered_audio_s=audio_s)


def _parse_args(argv: Sequence[str] | None) -> BuildOptions:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="corpus folder to build or resume")
    parser.add_argument("--size", choices=("tiny", "small", "medium", "full"), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads (default 1)")
    parser.add_argument("--voices", type=Path, default=DEFAULT_CATALOG, help="voice catalog (voices.toml)")
    parser.add_argument("--voices-dir", type=Path, default=None,
                        help="folder of Kokoro voice tables (default: where scripts/install_kokoro.sh puts them)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    return BuildOptions(out_dir=args.out, size=args.size, seed=args.seed, num_threads=args.threads,
                        catalog_path=args.voices, voices_dir=args.voices_dir)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry. Exit 0: built (failed renders are listed and left out); 1: the built corpus is below
    the minimums; 2: nothing built (bad options, another seed, a Kokoro file missing or broken)."""
    options = _parse_args(argv)
    err = Console(stderr=True)
    try:
        result = build(options, err)
    except (ValueError, OSError, KokoroAssetError) as e:
        say(err, "cannot build", str(e))
        return 2
    out = Console()
    out.print(summary_table(options.out_dir, result.done))
    num_rendered = len(result.done) - result.num_skipped
    speed = (f", real-time factor {result.render_s / result.rendered_audio_s:.2f} "
             f"({result.rendered_audio_s / 60:.1f} min of audio in {result.render_s / 60:.1f} min)"
             if result.rendered_audio_s else "")
    out.print(f"{len(result.done)} utterances in {options.out_dir} ({num_rendered} rendered now, "
              f"{result.num_skipped} kept from an earlier run), {len(result.failures)} failed{speed}",
              highlight=False, soft_wrap=True)
    problems = check_minimums(result.done)
    if problems and options.catalog_path == DEFAULT_CATALOG:
        say(err, "corpus below the minimums", "; ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
