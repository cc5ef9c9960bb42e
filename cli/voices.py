"""`vclone voices`: the voices shipped inside the package (or any voice folder): languages, speakers,
speaker space, size and how each was made."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from vclone.cli.errors import reports_user_errors

__all__ = ["register", "voices", "provenance_summary"]

# Training speakers named in the table before "+N".
_SHOWN_SPEAKERS = 4


def provenance_summary(provenance: dict[str, Any]) -> str:
    """One line: steps, seed, data (folder names), fine-tuned from, vclone version and commit."""
    if not provenance:
        return "not recorded"
    parts = [f"{provenance.get('steps', '?')} steps, seed {provenance.get('seed', '?')}"]
    data = provenance.get("data") or []
    if data:
        parts.append("data " + ", ".join(f"{_last_part(d.get('path', '?'))} ({d.get('fingerprint', '?')})" for d in data))
    init = provenance.get("init")
    if isinstance(init, dict) and init:
        parts.append(f"fine-tuned from {init.get('voice', '?')}")
    commit = provenance.get("git_commit")
    parts.append(f"vclone {provenance.get('vclone_version', '?')}" + (f" @ {str(commit)[:10]}" if commit else ""))
    return "; ".join(parts)


def _last_part(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] or path


def _speakers(voice) -> str:
    names = list(voice.speakers)
    shown = ", ".join(names[:_SHOWN_SPEAKERS]) + (f" +{len(names) - _SHOWN_SPEAKERS}" if len(names) > _SHOWN_SPEAKERS else "")
    return f"{len(names)}: {shown}"


def _space(voice) -> str:
    space = voice.speaker_space
    if space.get("kind") == "encoder":
        version = f" {space.get('version')}" if space.get("version") else ""
        return f"clones from audio: {space.get('name')}{version} ({space.get('dim')} values)"
    return "own speaker table (training speakers only)"


@reports_user_errors
def voices(
    voice: Optional[str] = typer.Argument(None, help="Show one voice in full: a shipped voice's name, or any voice folder or training run."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the voices shipped with vclone: languages, speakers, speaker space, size and provenance.

    `vclone synthesize` speaks with the `base` voice when no --voice is given, and
    `vclone train --init NAME` fine-tunes from a shipped voice."""
    from vclone.models.shipped import DEFAULT_VOICE, INSTALL_HINT, VOICES_DIR, describe_voice, is_voice_name, list_shipped_voices, resolve_voice

    if voice is not None:
        found = [describe_voice(resolve_voice(voice), name=voice)]
    else:
        found = list_shipped_voices()
    if as_json:
        typer.echo(json.dumps([{**asdict(v), "path": str(v.path)} for v in found], indent=2, ensure_ascii=False))
        return
    console = Console(highlight=False)
    if not found:
        console.print(f"no voices are shipped in {escape(str(VOICES_DIR))}; {escape(INSTALL_HINT)}", soft_wrap=True)
        return
    if voice is None:
        # Plain lines rather than a table: names, speaker lists and provenance never wrap mid-word.
        lines = [f"shipped voices (default: {DEFAULT_VOICE}), in {VOICES_DIR}:"]
        for v in found:
            lines.append(f"{v.name}: languages {' '.join(v.languages)}; speakers {_speakers(v)}; {_space(v)}; {v.size_bytes / 1e6:.1f} MB")
            lines.append(f"  provenance: {provenance_summary(v.provenance)}")
        console.print("\n".join(escape(line) for line in lines), soft_wrap=True)
        return
    v = found[0]
    shown = v.name if is_voice_name(voice) else str(v.path)
    lines = [
        f"voice {shown}: {v.path}",
        f"preset {v.preset}, {v.size_bytes / 1e6:.1f} MB" + (f", vocoder {v.vocoder}" if v.vocoder else ""),
        f"languages ({len(v.languages)}): {' '.join(v.languages)}",
        f"speakers ({len(v.speakers)}): {' '.join(v.speakers)}",
        f"speaker space: {_space(v)}",
        f"provenance: {provenance_summary(v.provenance)}",
    ]
    for command in v.provenance.get("commands") or []:
        lines.append("  command: " + " ".join(command))
    console.print("\n".join(escape(line) for line in lines), soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(name="voices")(voices)
