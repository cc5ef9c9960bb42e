"""Provenance of an exported voice: the commands, data, seed, steps and code that made it.

Recorded as the `provenance` object of every voice.json (and shown by `vclone voices`):
    commands        the `vclone train` command lines that started and resumed the run, oldest first
    data            per prepared folder: its path, the fingerprint of its items, how many
    seed, steps, epoch, deterministic
    vclone_version, git_commit   the commit of a git checkout vclone runs from (null when unknown)
    init            the voice it was fine-tuned from (name or folder, its run and steps, its own
                    provenance), or null when trained from scratch
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import vclone
from vclone.data.dataset import TrainingData

__all__ = ["git_commit", "corpus_fingerprints", "run_provenance"]

_GIT_TIMEOUT_S = 5.0


def git_commit(where: Path | None = None) -> str | None:
    """The HEAD commit of the git checkout holding `where` (default: vclone's own source), with
    "-dirty" when tracked files changed; None when that is not a checkout, git is absent or slow."""
    root = Path(where) if where is not None else Path(vclone.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=_GIT_TIMEOUT_S)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "diff", "--quiet", "HEAD", "--"], capture_output=True, timeout=_GIT_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.returncode == 1 else "")


def corpus_fingerprints(data: TrainingData) -> list[dict[str, Any]]:
    """Per prepared folder, in training order: path, fingerprint of its items (as a resume checks
    the whole data's) and number of items."""
    folders: dict[Path, list] = {}
    for item in data.items:
        folders.setdefault(Path(item.corpus), []).append(item)
    return [
        {"path": str(folder), "fingerprint": TrainingData(data.vocab, items).fingerprint(), "num_items": len(items)}
        for folder, items in folders.items()
    ]


def run_provenance(
    *, commands: Sequence[Sequence[str]], data: TrainingData, seed: int, steps: int, epoch: int, deterministic: bool,
    init: dict[str, Any] | None,
) -> dict[str, Any]:
    """The provenance object of a voice exported at `steps` of a run."""
    return {
        "commands": [list(command) for command in commands],
        "data": corpus_fingerprints(data),
        "seed": seed,
        "steps": steps,
        "epoch": epoch,
        "deterministic": deterministic,
        "vclone_version": vclone.__version__,
        "git_commit": git_commit(),
        "init": init or None,
    }
