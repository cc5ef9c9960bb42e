"""`vclone vocoders`: the vocoders synthesis can use, their mel convention, size and origin;
`vclone attach-vocoder`: make one of them a voice's default."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vclone.cli.choices import DEFAULT_VOCODER
from vclone.cli.errors import fail, reports_user_errors

__all__ = ["register", "vocoders", "attach"]


@reports_user_errors
def vocoders(
    paths: Optional[list[Path]] = typer.Argument(None, help="Vocoder folders or vocoder training runs to describe as well."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the vocoders `vclone synthesize --vocoder` accepts: name, sample rate, mel convention,
    parameters and where the weights come from. A folder given as PATH that cannot be used is an error."""
    from vclone.synth.vocoders import list_vocoders

    infos = list_vocoders(list(paths or []))
    if as_json:
        typer.echo(json.dumps([asdict(info) for info in infos], indent=2))
    else:
        table = Table(title=f"vocoders (default: {DEFAULT_VOCODER}, or the one a voice names)")
        for column in ("name", "kind", "rate", "mel convention", "parameters"):
            table.add_column(column, no_wrap=column == "name")
        for info in infos:
            if info.error:
                table.add_row(escape(info.name), "[red]unusable[/]", "", "", "")
            else:
                table.add_row(escape(info.name), info.kind, f"{info.sample_rate} Hz", info.mel, f"{info.parameters / 1e6:.2f} M" if info.parameters else "0")
        console = Console(highlight=False)
        console.print(table)
        for info in infos:
            console.print(f"{escape(info.name)}: {escape(info.error or info.source)}", soft_wrap=True)
    broken = [info for info in infos[len(infos) - len(paths or []):] if info.error] if paths else []
    if broken:
        raise fail(broken[0].error)


@reports_user_errors
def attach(
    voice: Path = typer.Argument(..., help="Voice folder or acoustic training run."),
    vocoder: str = typer.Argument(..., help="griffin-lim, hifigan-universal, or a vocoder folder / vocoder training run."),
) -> None:
    """Make VOCODER the voice's default vocoder (what `vclone synthesize` and `Synthesizer` use when no
    --vocoder is given). A vocoder folder is checked against the voice's mel convention and copied
    into VOICE/vocoder, so the voice stays self-contained; re-exports of the voice keep it."""
    from vclone.synth.vocoders import ATTACHED_DIR, attach_vocoder

    voice_dir, named = attach_vocoder(voice, vocoder)
    where = f" (copied to {voice_dir / named})" if named == ATTACHED_DIR else ""
    Console(stderr=True, highlight=False).print(f"{escape(str(voice_dir))}: default vocoder is now {escape(named)}{escape(where)}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the commands to the app."""
    app.command(name="vocoders")(vocoders)
    app.command(name="attach-vocoder")(attach)
