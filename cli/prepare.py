"""`vclone prepare`: a corpus on disk -> phonemes, cached features, manifest.jsonl and vocab.json."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from vclone.cli.errors import reports_user_errors
from vclone.cli.threads import THREADS_HELP, configure_threads, say_threads
from vclone.data.readers import CORPUS_FORMATS, DEFAULT_ENCODING
from vclone.errors import ConfigError

if TYPE_CHECKING:
    from vclone.data.prepare import PrepareSummary

__all__ = ["register", "prepare"]


def _print_summary(console: Console, summary: PrepareSummary) -> None:
    from vclone.data.prepare import REPORT_NAME

    table = Table(title=f"prepared {summary.out}", show_header=True)
    table.add_column("speaker")
    table.add_column("languages")
    table.add_column("utterances", justify="right")
    table.add_column("minutes", justify="right")
    for speaker, hours in summary.hours_by_speaker.items():
        langs = ", ".join(summary.languages_by_speaker[speaker])
        table.add_row(speaker, langs, str(summary.utterances_by_speaker[speaker]), f"{hours * 60:.1f}")
    console.print(table)
    langs = ", ".join(f"{lang} {hours * 60:.1f} min" for lang, hours in summary.hours_by_language.items())
    console.print(f"languages: {langs or 'none'}")
    console.print(
        f"items: {summary.num_items}  kept: {summary.num_kept} (new {summary.num_prepared}, "
        f"resumed {summary.num_resumed})  rejected: {summary.num_rejected}  warnings: {summary.num_warnings}  "
        f"time: {summary.seconds:.1f} s"
    )
    if summary.num_rejected or summary.num_warnings:
        reasons = ", ".join(f"{k}: {v}" for k, v in summary.rejected_by_reason.items())
        console.print(f"rejected by reason: {reasons or '-'}; details in {summary.out / REPORT_NAME}")


@reports_user_errors
def prepare(
    corpus: Path = typer.Argument(..., help="Corpus folder (or the CSV/TSV file for --format csv)."),
    corpus_format: Optional[str] = typer.Option(
        None, "--format", "-f", help=f"Corpus layout: {' | '.join(CORPUS_FORMATS)} (default: the recipe's, else csv)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (manifest.jsonl, vocab.json, features/, report.tsv)."),
    language: Optional[str] = typer.Option(None, "--language", "-l", help="Language of every item (see `vclone languages`)."),
    speaker: Optional[str] = typer.Option(None, "--speaker", "-s", help="Speaker name (single-speaker layouts) or the one speaker to keep."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", help="Processes computing audio features (default 1: this process, using torch's threads; more pays off on many-core machines)."),
    recipe: Optional[Path] = typer.Option(None, "--recipe", help="Recipe TOML with [prepare] and [audio] settings."),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="Encoding of the corpus's text files (default utf-8, a BOM is accepted); e.g. latin-1 or cp1252 for a corpus saved that way."),
    min_duration: Optional[float] = typer.Option(None, help="Reject clips shorter than this many seconds (default 0.5)."),
    max_duration: Optional[float] = typer.Option(None, help="Reject clips longer than this many seconds (default 20)."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary table."),
) -> None:
    """Phonemize a corpus, cache its log-mel features and write manifest.jsonl + vocab.json.

    Re-running resumes: items finished earlier with the same inputs and settings are skipped. Bad
    items (missing or corrupt audio, audio without a transcript and the reverse, empty or unspeakable
    text, too short or long) are skipped and listed with their reason in report.tsv. A corpus from
    which nothing survives is an error, and nothing is left in --out.
    """
    applied = configure_threads(threads)  # before the imports below load torch
    from vclone.data.prepare import PrepareConfig, prepare_corpus
    from vclone.data.recipe import load_recipe

    rec = load_recipe(recipe)
    fmt = corpus_format or rec.prepare.get("format", "csv")
    if fmt not in CORPUS_FORMATS:
        raise ConfigError(f"unknown --format {fmt!r}; choose one of {', '.join(CORPUS_FORMATS)}")
    config = PrepareConfig(
        corpus=corpus,
        corpus_format=fmt,
        out=out,
        features=rec.feature_settings(min_duration_s=min_duration, max_duration_s=max_duration),
        language=language or rec.prepare.get("language"),
        speaker=speaker or rec.prepare.get("speaker"),
        num_workers=workers if workers is not None else int(rec.prepare.get("workers", 1)),
        encoding=encoding or rec.prepare.get("encoding", DEFAULT_ENCODING),
    )
    console = Console(stderr=True, quiet=quiet)
    columns = (TextColumn("preparing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=quiet) as bar:
        task = bar.add_task("prepare", total=None)
        summary = prepare_corpus(config, progress=lambda done, total: bar.update(task, completed=done, total=total))
    say_threads(applied, num_workers=config.num_workers, quiet=quiet)
    _print_summary(console, summary)


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(name="prepare")(prepare)
