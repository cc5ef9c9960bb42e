"""One store for every trained artifact vclone writes and reads: voices, vocoders and speaker encoders.

Each is a folder of two files, weights (safetensors, never a pickle) and a JSON config that names
its format and format version. A training run keeps its artifact in a subfolder (RUN/voice,
RUN/vocoder, RUN/encoder), so a run folder is accepted wherever the artifact is. `ArtifactKind`
describes one kind; the functions find a folder, read and check its JSON, load its weights into a
module, and write a new one (weights, then JSON, each atomically), all with one-line errors of the
kind's own error type. Finding and reading JSON import no torch (`vclone voices` stays instant).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vclone.errors import VcloneError

if TYPE_CHECKING:
    import torch

__all__ = ["ArtifactKind", "find_artifact_dir", "read_artifact_config", "load_artifact_weights", "load_artifact_state", "save_artifact"]


@dataclass(frozen=True)
class ArtifactKind:
    """What one kind of artifact folder holds and how its errors read."""

    label: str
    """How messages name it: "voice", "vocoder", "speaker encoder"."""
    format: str
    """The JSON's "format" value, e.g. "vclone-voice"."""
    version: int
    """The format version this vclone reads and writes."""
    config_name: str
    """The JSON file, e.g. voice.json."""
    weights_name: str
    """The safetensors file, e.g. voice.safetensors."""
    run_subdir: str
    """Where a training run keeps it: RUN/<run_subdir>."""
    error: type[VcloneError]
    """The error type raised for this kind (a VcloneError: one line in the CLI)."""
    not_found_hint: str
    """The end of the "not found" line: what to pass instead."""


def find_artifact_dir(kind: ArtifactKind, path: Path | str) -> Path:
    """The folder of an artifact given as its folder, its JSON file, or a training run folder."""
    path = Path(path)
    if path.is_file() and path.name == kind.config_name:
        return path.parent
    for candidate in (path, path / kind.run_subdir):
        if (candidate / kind.config_name).is_file():
            return candidate
    if path.is_file():
        raise kind.error(f"{path} is not a vclone {kind.label}; pass the folder holding {kind.config_name} and {kind.weights_name}")
    if not path.exists():
        raise kind.error(f"{kind.label} {path} not found; {kind.not_found_hint}")
    raise kind.error(f"no {kind.config_name} in {path} or {path / kind.run_subdir}; {kind.not_found_hint}")


def read_artifact_config(kind: ArtifactKind, folder: Path) -> dict[str, Any]:
    """The parsed JSON of an artifact folder, checked to be this kind in a version this vclone reads
    (the weights are not read)."""
    path = folder / kind.config_name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise kind.error(f"{path} not found; the {kind.label} folder is incomplete") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise kind.error(f"{path} is not valid JSON; the {kind.label} is corrupt, export it again") from None
    except OSError as err:
        raise kind.error(f"{path} cannot be read ({err})") from None
    if not isinstance(data, dict) or data.get("format") != kind.format:
        found = data.get("format") if isinstance(data, dict) else None
        raise kind.error(f"{path} is not a vclone {kind.label} (format {found!r})")
    if data.get("format_version") != kind.version:
        raise kind.error(f"{kind.label} format version {data.get('format_version')!r} in {path} is not supported (this vclone reads {kind.version})")
    return data


def load_artifact_weights(kind: ArtifactKind, folder: Path) -> dict[str, "torch.Tensor"]:
    """The tensors of an artifact's safetensors file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / kind.weights_name
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise kind.error(f"{path} not found; the {kind.label} folder is incomplete") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise kind.error(f"{path} is not a readable safetensors file ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None


def load_artifact_state(kind: ArtifactKind, folder: Path, module: "torch.nn.Module", state: dict[str, "torch.Tensor"] | None = None) -> None:
    """Load the artifact's weights (or `state`, already read) into `module`, strictly."""
    state = load_artifact_weights(kind, folder) if state is None else state
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise kind.error(f"{folder / kind.weights_name} does not match its {kind.config_name} ({str(err).splitlines()[0]})") from None


def save_artifact(kind: ArtifactKind, out_dir: Path, module: "torch.nn.Module", meta: dict[str, Any], *, dtype: "torch.dtype | None" = None) -> Path:
    """Write the module's weights then the JSON (format, version, vclone version, then `meta`), each
    atomically, so a folder whose JSON exists is whole; returns the folder."""
    from safetensors.torch import save_file

    import vclone
    from vclone.atomic import atomic_output, write_json_atomic

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in module.state_dict().items()}  # dtype None keeps each one's
    with atomic_output(out_dir / kind.weights_name) as tmp:
        save_file(state, str(tmp), metadata={"format": kind.format})
    write_json_atomic(out_dir / kind.config_name, {"format": kind.format, "format_version": kind.version, "vclone_version": vclone.__version__, **meta})
    return out_dir
