"""`vclone serve`: the OpenAI-compatible speech server with voice registration and a page."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from vclone.cli.choices import DEFAULT_VOICE, VOCODERS
from vclone.cli.errors import reports_user_errors
from vclone.cli.threads import THREADS_HELP, configure_threads, say_threads
from vclone.errors import ConfigError

__all__ = ["register", "serve"]

_EXTRA_HINT = "the server needs the `server` extra: pip install -e '.[server]'"


@reports_user_errors
def serve(
    voice: str = typer.Option(DEFAULT_VOICE, "--voice", "-v", help="Voice folder, training run or shipped voice's name (see `vclone voices`)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, "--port", help="TCP port to listen on."),
    voices_dir: Optional[Path] = typer.Option(None, "--voices-dir", help="Folder of the voices registered from recordings (kept across restarts; default: ~/.local/share/vclone/voices)."),
    workers: int = typer.Option(1, "--workers", help="Texts spoken at once, each by its own copy of the voice; they share --threads."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    max_queue: int = typer.Option(8, "--max-queue", help="Requests that may wait for a busy worker; more are refused with 429."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds a request may take, waiting included: a longer wait is a 503, a longer stream is cut."),
    vocoder: Optional[str] = typer.Option(None, "--vocoder", help=f"Vocoder: {' | '.join(VOCODERS)}, or a vocoder folder (default: the voice's own)."),
    device: str = typer.Option("cpu", "--device", help="Torch device (cpu, cuda, cuda:1, ...)."),
) -> None:
    """Serve speech over HTTP: POST /v1/audio/speech (OpenAI's speech API), voices registered from
    recordings at /v1/voices, and a page at / to try it. Stop with Ctrl-C."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be 0 to 65535, got {port}")
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError(_EXTRA_HINT) from None
    applied = configure_threads(threads, num_workers=workers)  # before the imports below load torch
    from vclone.serve import ServeConfig, create_app, default_voices_dir
    from vclone.serve.server import run_server

    config = ServeConfig(voices_dir=voices_dir or default_voices_dir(), voice=voice, vocoder=vocoder, device=device, num_workers=workers,
                         max_queue=max_queue, timeout_s=timeout)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    say_threads(applied, num_workers=workers)
    app = create_app(config)
    typer.echo(f"vclone serve: voice {voice}, registered voices in {config.voices_dir}; page at http://{host}:{port}/", err=True)
    run_server(app, host=host, port=port)


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(name="serve")(serve)
