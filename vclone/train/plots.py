"""Training plots: target vs predicted mel and the soft + hard alignment of one item, as a PNG.

Drawn on a bare matplotlib Figure with the Agg canvas, so no display and no pyplot global state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vclone.atomic import atomic_output
from vclone.models.acoustic.batch import Batch
from vclone.models.record import AcousticRecord

__all__ = ["ItemSnapshot", "snapshot_item", "plot_item"]


@dataclass(frozen=True)
class ItemSnapshot:
    """One item of a training batch, trimmed to its real length, on the CPU.
    Legend: T mel frames, M mel bands, N phones."""

    id: str
    step: int
    target: torch.Tensor
    """(T, M) target log-mel."""
    predicted: torch.Tensor
    """(T, M) teacher-forced prediction from the training forward pass."""
    attn_soft: torch.Tensor | None
    """(T, N) soft alignment, if the model made one."""
    attn_hard: torch.Tensor | None
    """(T, N) hard alignment, if the model made one."""


def snapshot_item(
    record: AcousticRecord, batch: Batch, *, step: int, index: int = 0, alignment: AcousticRecord | None = None
) -> ItemSnapshot:
    """Detach item `index` of a training forward pass for plotting; the alignment matrices come from
    `alignment` (the model's `alignments(batch)`, since the training record does not carry them)."""
    aligned = alignment if alignment is not None else record
    assert batch.mel is not None and batch.mel_lengths is not None and record.mel_pred is not None
    frames, phones = int(batch.mel_lengths[index]), int(batch.phone_lengths[index])

    def cut(t: torch.Tensor | None, cols: int | None = None) -> torch.Tensor | None:
        if t is None:
            return None
        item = t[index, :frames] if cols is None else t[index, :frames, :cols]
        return item.detach().float().cpu()

    return ItemSnapshot(
        id=batch.ids[index],
        step=step,
        target=cut(batch.mel),
        predicted=cut(record.mel_pred),
        attn_soft=cut(aligned.attn_soft, phones),
        attn_hard=cut(aligned.attn_hard, phones),
    )


def plot_item(snapshot: ItemSnapshot, path: Path) -> Path:
    """Write the four panels (target, predicted, soft and hard alignment) to `path` atomically."""
    figure = Figure(figsize=(10, 9), dpi=90)
    FigureCanvasAgg(figure)
    axes = figure.subplots(4, 1)
    low = float(snapshot.target.min())
    high = float(snapshot.target.max())
    panels = [
        ("target mel", snapshot.target.T, (low, high)),
        ("predicted mel (teacher-forced)", snapshot.predicted.T, (low, high)),
        ("soft alignment", None if snapshot.attn_soft is None else snapshot.attn_soft.T, (0.0, 1.0)),
        ("hard alignment", None if snapshot.attn_hard is None else snapshot.attn_hard.T, (0.0, 1.0)),
    ]
    for ax, (title, image, (vmin, vmax)) in zip(axes, panels):
        ax.set_title(title, fontsize=9)
        if image is None:
            ax.text(0.5, 0.5, "not produced by this model", ha="center", va="center")
            ax.set_axis_off()
            continue
        shown = ax.imshow(image.numpy(), origin="lower", aspect="auto", interpolation="none", vmin=vmin, vmax=vmax)
        figure.colorbar(shown, ax=ax, fraction=0.03, pad=0.01)
        ax.set_ylabel("phone" if "alignment" in title else "mel band", fontsize=8)
    axes[-1].set_xlabel("frame", fontsize=8)
    figure.suptitle(f"step {snapshot.step}: {snapshot.id}", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        figure.savefig(str(tmp), format="png")
    return path
