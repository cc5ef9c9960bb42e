"""The Typer application: one thin module per command, registered here."""

from __future__ import annotations

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="vclone",
    help="Multilingual text-to-speech that clones a voice across languages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _register() -> None:
    from vclone.cli import embed_speaker, evaluate, export, languages, partition_inspect, prepare, serve, synthesize, train_group, vocoders, voices

    prepare.register(app)
    synthesize.register(app)
    train_group.register(app)
    embed_speaker.register(app)
    evaluate.register(app)
    partition_inspect.register(app)
    languages.register(app)
    vocoders.register(app)
    voices.register(app)
    serve.register(app)
    export.register(app)


_register()


def main() -> None:
    """Entry point of the `vclone` console script."""
    app()


if __name__ == "__main__":
    main()
