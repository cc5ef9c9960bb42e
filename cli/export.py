"""`vclone export onnx VOICE --out DIR`: a voice and its vocoder as ONNX graphs + manifest, for `vclone synthesize --runtime onnx`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from vclone.cli.choices import DEFAULT_VOCODER, DEFAULT_VOICE
from vclone.cli.errors import reports_user_errors
from vclone.cli.threads import THREADS_HELP, configure_threads, say_threads

__all__ = ["register", "export_onnx"]

export_app = typer.Typer(
    help="Export a voice for other runtimes (see `vclone export onnx --help`).", no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@export_app.command(name="onnx")
@reports_user_errors
def export_onnx(
    voice: str = typer.Argument(DEFAULT_VOICE, help=f"Voice folder, its voice.json, a training run folder, or a shipped voice's name (default: {DEFAULT_VOICE!r})."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write (created; written in a temporary folder and renamed when complete)."),
    vocoder: Optional[str] = typer.Option(None, "--vocoder", help=f"Vocoder to export: {DEFAULT_VOCODER}, a shipped vocoder or a vocoder folder (default: the one the voice names, else {DEFAULT_VOCODER}). griffin-lim has no network to export."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier export in --out (any other existing content is never replaced)."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Export VOICE and its vocoder as ONNX graphs with a manifest.json.

    The acoustic model becomes two graphs with dynamic text and frame lengths; the manifest holds the
    vocabulary, languages, speakers, speaker space and mel convention.

    `vclone synthesize --runtime onnx --voice DIR ...` speaks with it through onnxruntime, without torch.
    """
    applied = configure_threads(threads)  # before the import below loads torch
    from vclone.export.onnx import export_onnx as export

    report = export(voice, out, vocoder=vocoder, overwrite=overwrite)
    console = Console(quiet=quiet, highlight=False)
    say_threads(applied, console=console)
    total = sum(report.sizes.values()) / 1e6
    manifest = report.manifest
    console.print(
        f"[green]exported[/] {escape(str(report.folder))}  {total:.1f} MB  vocoder {escape(manifest.vocoder.name)} ({manifest.vocoder.kind})  "
        f"{len(manifest.languages)} languages, {len(manifest.speakers)} speakers, speaker space {escape(manifest.speaker_space.name)}"
    )


def register(app: typer.Typer) -> None:
    """Add the `export` command group to the app."""
    app.add_typer(export_app, name="export")
