"""`vclone languages`: the languages the text front end supports, with their espeak voices."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register", "languages"]


def languages() -> None:
    """List the supported language codes (use them with --language)."""
    from vclone.text.languages import supported_languages  # not vclone.text: its normalizer loads num2words

    table = Table(title="supported languages")
    table.add_column("code")
    table.add_column("name")
    table.add_column("espeak voice")
    for lang in supported_languages():
        table.add_row(lang.code, lang.name, lang.espeak_voice)
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(name="languages")(languages)
