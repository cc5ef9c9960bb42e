"""Vocoder training plots: the log-mel of a real audio segment above the log-mel of the generated one, as a PNG."""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vclone.atomic import atomic_output

__all__ = ["plot_mel_pair"]


def plot_mel_pair(path: Path, *, real: torch.Tensor, generated: torch.Tensor, title: str) -> Path:
    """Draw (F, M) log-mels `real` and `generated` on one colour scale; written atomically."""
    figure = Figure(figsize=(8, 5), dpi=90)
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 1, sharex=True)
    low, high = float(real.min()), float(real.max())
    for ax, (label, mel) in zip(axes, (("mel of the real audio", real), ("mel of the generated audio", generated))):
        image = ax.imshow(mel.detach().float().cpu().T.numpy(), origin="lower", aspect="auto", interpolation="none", vmin=low, vmax=high)
        figure.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
        ax.set_title(label, fontsize=9)
        ax.set_ylabel("mel band", fontsize=8)
    axes[-1].set_xlabel("frame", fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        figure.savefig(str(tmp), format="png")
    return path
