"""`vclone embed-speaker`: reference recordings (or a voice's training speaker) -> a speaker embedding file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from vclone.cli.errors import reports_user_errors
from vclone.errors import ConfigError

__all__ = ["register", "embed_speaker", "DEFAULT_ENCODER"]

DEFAULT_ENCODER = "resemblyzer"


@reports_user_errors
def embed_speaker(
    references: Optional[list[Path]] = typer.Argument(None, help="Recordings of the speaker (WAV, FLAC, OGG, ...; any rate, mono or stereo)."),
    out: Path = typer.Option(..., "--out", "-o", help="Speaker embedding file to write (.safetensors)."),
    encoder: str = typer.Option(DEFAULT_ENCODER, "--encoder", "-e", help="`resemblyzer` (pretrained, eval extra), or a speaker encoder run/folder from `vclone train --task speaker-encoder`."),
    voice: Optional[Path] = typer.Option(None, "--voice", help="Export a training speaker of this voice (run folder or voice folder) instead of embedding audio."),
    speaker: Optional[str] = typer.Option(None, "--speaker", "-s", help="With --voice: the training speaker to export. With audio: a name to record in the file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors and warnings."),
) -> None:
    """Make a speaker embedding file for `vclone synthesize --speaker FILE`.

    From audio: silence is trimmed, speech is found by frame energy, cut into overlapping windows,
    embedded, averaged and L2-normalized; under about 3 s of speech is used with a warning. With
    --voice V --speaker NAME: the training speaker's own vector, in the voice's space."""
    console = Console(stderr=True, quiet=quiet)
    if out.suffix != ".safetensors":
        raise ConfigError(f"--out must end in .safetensors (a speaker embedding file), got {out}")
    if not out.parent.is_dir():
        raise ConfigError(f"cannot write {out}: directory {out.parent} does not exist; create it first")
    from vclone.models.speaker_embedding import save_speaker_embedding

    if voice is not None:
        embedding = _from_voice(voice, speaker, references)
        what = f"training speaker {speaker!r} of {voice}"
    else:
        if not references:
            raise ConfigError("give reference recordings to embed, or --voice VOICE --speaker NAME to export a training speaker")
        from vclone.models.speaker_encoder import load_encoder
        from vclone.models.speaker_encoder.reference import embed_references

        model = load_encoder(encoder)
        embedding, report = embed_references(references, model, speaker=speaker or "")
        if report.warning:
            typer.echo(f"warning: {report.warning}", err=True)
        what = f"{report.total_speech_s:.1f} s of speech in {len(report.files)} file(s)"
    save_speaker_embedding(out, embedding.vectors, encoder=embedding.encoder, encoder_version=embedding.encoder_version,
                           speaker=embedding.speaker, source=embedding.source)
    version = f" version {embedding.encoder_version}" if embedding.encoder_version else ""
    console.print(f"wrote {out}: {what}; space {embedding.encoder}{version}, {embedding.dim} values", markup=False, highlight=False, soft_wrap=True)


def _from_voice(voice: Path, speaker: str | None, references: list[Path] | None):
    if references:
        raise ConfigError("give either reference recordings or --voice/--speaker, not both")
    if not speaker:
        raise ConfigError("--voice needs --speaker NAME: the training speaker to export")
    from vclone.models.speaker_embedding import table_embedding
    from vclone.models.voice import load_voice

    return table_embedding(load_voice(voice), speaker)


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(name="embed-speaker")(embed_speaker)
