"""PNG of one evaluated pair: both log-mels warped onto the shared DTW path, and both F0 contours."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vclone.atomic import atomic_output
from vclone.eval.analysis import PairAnalysis

__all__ = ["plot_pair"]


def plot_pair(path: Path, analysis: PairAnalysis, *, title: str = "") -> Path:
    """Write the PNG atomically; the x axis is the alignment step, so aligned frames sit one above the other.

    Uses matplotlib's Agg canvas directly (no pyplot global state).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    alignment = analysis.alignment
    steps = alignment.path
    figure = Figure(figsize=(max(8.0, min(24.0, len(steps) / 40)), 8.0), layout="constrained")
    FigureCanvasAgg(figure)
    synth_ax, ref_ax, f0_ax = figure.subplots(3, 1, sharex=True, height_ratios=(2, 2, 1.5))
    low = min(alignment.log_mel_a.min(), alignment.log_mel_b.min())
    high = max(alignment.log_mel_a.max(), alignment.log_mel_b.max())
    for ax, mel, label in ((synth_ax, alignment.log_mel_a[steps[:, 0]], "synthesized"), (ref_ax, alignment.log_mel_b[steps[:, 1]], "reference")):
        image = ax.imshow(mel.T, origin="lower", aspect="auto", interpolation="nearest", vmin=low, vmax=high)
        ax.set(ylabel="mel band", title=f"{label} log-mel along the DTW path")
        figure.colorbar(image, ax=ax, label="log-mel")
    for f0, label in ((analysis.f0_synth[steps[:, 0]], "synthesized"), (analysis.f0_ref[steps[:, 1]], "reference")):
        # Unvoiced frames are gaps in the contour, not drops to 0 Hz.
        f0_ax.plot(np.where(f0 > 0, f0, np.nan), label=label, linewidth=1.0)
    f0_ax.set(xlabel="alignment step (frame pair)", ylabel="F0 (Hz)", xlim=(0, max(len(steps) - 1, 1)))
    f0_ax.legend(loc="upper right")
    if title:
        figure.suptitle(title)
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    return Path(path)
