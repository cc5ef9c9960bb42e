"""`vclone embed-speaker`: reference recordings (or a voice's training speaker) -> a speaker embedding file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from vclone.cli.choices import DEFAULT_ENCODER
from vclone.cli.errors import reports_user_errors
from vclone.cli.threads import THREADS_HELP, configure_threads, say_threads
from vclone.errors import ConfigError

__all__ = ["register", "embed_speaker", "DEFAULT_ENCODER"]


@reports_user_errors
def embed_speaker(
    references: Optional[list[Path]] = typer.Argument(None, help="Recordings of the speaker (WAV, FLAC, OGG, ...; any rate, mono or stereo)."),
    out: Path = typer.Option(..., "--out", "-o", help="Speaker embedding file to write (.safetensors)."),
    encoder: Optional[str] = typer.Option(None, "--encoder", "-e", help=f"`{DEFAULT_ENCODER}` (pretrained d-vector, core install), `resemblyzer` (pretrained, eval extra), or a speaker encoder run/folder from `vclone train --task speaker-encoder`. Default: the encoder the --voice was trained with, else {DEFAULT_ENCODER}."),
    voice: Optional[Path] = typer.Option(None, "--voice", help="With --speaker: export that training speaker of this voice (run or voice folder). With audio: embed it with the voice's encoder."),
    speaker: Optional[str] = typer.Option(None, "--speaker", "-s", help="With --voice: the training speaker to export. With audio: a name to record in the file."),
    keep_register: bool = typer.Option(True, "--register/--no-register", help="Keep the reference's pitch register, which a clone speaks in (--no-register: the voice predicts one from the embedding)."),
    keep_spectrum: bool = typer.Option(True, "--spectrum/--no-spectrum", help="Keep the reference's long-term spectrum, which a clone's mel is matched to (--no-spectrum: a noisy or oddly equalized recording's colour stays out)."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors and warnings."),
) -> None:
    """Make a speaker embedding file for `vclone synthesize --speaker FILE`.

    From audio: silence is trimmed, speech is found by frame energy, cut into overlapping windows,
    embedded, averaged and L2-normalized; under about 3 s of speech is used with a warning. The
    speech's pitch register and long-term spectrum (in the mel convention of --voice, else of the
    shipped voices) are kept in the file, and a clone speaks in them. With
    --voice V --speaker NAME: the training speaker's own vector, in the voice's space."""
    console = Console(stderr=True, quiet=quiet)
    if out.suffix != ".safetensors":
        raise ConfigError(f"--out must end in .safetensors (a speaker embedding file), got {out}")
    if not out.parent.is_dir():
        raise ConfigError(f"cannot write {out}: directory {out.parent} does not exist; create it first")
    applied = configure_threads(threads)  # before the imports below load torch
    from vclone.models.speaker_embedding import save_speaker_embedding

    if voice is not None and not references:
        embedding = _from_voice(voice, speaker)
        what = f"training speaker {speaker!r} of {voice}"
    else:
        if not references:
            raise ConfigError("give reference recordings to embed, or --voice VOICE --speaker NAME to export a training speaker")
        from dataclasses import replace

        from vclone.audio import AudioConfig
        from vclone.models.speaker_encoder import load_encoder
        from vclone.models.speaker_encoder.reference import embed_references

        voice_encoder, audio = _voice_space(voice) if voice is not None else (DEFAULT_ENCODER, AudioConfig())
        model = load_encoder(encoder or voice_encoder)
        embedding, report = embed_references(references, model, speaker=speaker or "", audio=audio if keep_spectrum else None)
        if not keep_register:
            embedding = replace(embedding, register=None)
        if report.warning:
            typer.echo(f"warning: {report.warning}", err=True)
        what = f"{report.total_speech_s:.1f} s of speech in {len(report.files)} file(s)"
    save_speaker_embedding(out, embedding.vectors, encoder=embedding.encoder, encoder_version=embedding.encoder_version,
                           speaker=embedding.speaker, source=embedding.source, register=embedding.register, profile=embedding.profile)
    say_threads(applied, quiet=quiet)
    version = f" version {embedding.encoder_version}" if embedding.encoder_version else ""
    register = f"; pitch register {embedding.register.centre_hz:.0f} Hz" if embedding.register is not None else ""
    console.print(f"wrote {out}: {what}; space {embedding.encoder}{version}, {embedding.dim} values{register}", markup=False, highlight=False, soft_wrap=True)


def _voice_space(voice: Path):
    """(the speaker encoder a voice was trained with, its mel convention's AudioConfig)."""
    from vclone.models.voice import load_voice

    loaded = load_voice(voice)
    spec = loaded.meta.get("training", {}).get("speaker_encoder", "")
    if loaded.speaker_space.kind != "encoder" or not spec:
        raise ConfigError(
            f"the voice {voice} was trained on its own speaker table, not a speaker encoder, so it cannot clone from audio; "
            "pick one of its training speakers with --speaker, or train a voice with --speaker-encoder"
        )
    return spec, loaded.vocab.audio


def _from_voice(voice: Path, speaker: str | None):
    if not speaker:
        raise ConfigError("--voice needs --speaker NAME: the training speaker to export")
    from vclone.models.speaker_embedding import table_embedding
    from vclone.models.voice import load_voice

    return table_embedding(load_voice(voice), speaker)


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(name="embed-speaker")(embed_speaker)
