"""PNG of a synthesis: the predicted log-mel over time with the predicted F0 contour, and the frames
given to each phone."""

from __future__ import annotations

from pathlib import Path

from vclone.atomic import atomic_output
from vclone.synth.synthesizer import SynthesisResult

__all__ = ["plot_synthesis"]

# Beyond this many phones the per-phone labels overlap and only the bars are drawn.
_MAX_LABELLED_PHONES = 120


def plot_synthesis(path: Path, result: SynthesisResult, *, title: str = "") -> Path:
    """Write the PNG atomically. Uses matplotlib's Agg canvas directly (no pyplot global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    import numpy as np

    hop_s = result.wav.numel() / max(result.mel.shape[0], 1) / result.sample_rate
    figure = Figure(figsize=(max(8.0, min(24.0, result.mel.shape[0] / 40)), 6.0), layout="constrained")
    FigureCanvasAgg(figure)
    mel_ax, dur_ax = figure.subplots(2, 1, height_ratios=(2, 1))
    image = mel_ax.imshow(
        result.mel.T.numpy(),
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        extent=(0.0, result.mel.shape[0] * hop_s, 0, result.mel.shape[1]),
    )
    figure.colorbar(image, ax=mel_ax, label="log-mel")
    mel_ax.set(xlabel="seconds", ylabel="mel band", title=title or f"{result.speaker} · {result.language}")
    if result.f0 is not None:
        f0 = result.f0.numpy().copy()
        f0[f0 <= 0] = float("nan")  # unvoiced frames: gaps in the contour
        f0_ax = mel_ax.twinx()
        times = (np.arange(len(f0)) + 0.5) * hop_s
        f0_ax.plot(times, f0, color="tab:red", linewidth=1.2, label="F0")
        f0_ax.set_ylabel("F0 (Hz)", color="tab:red")
        f0_ax.set_xlim(0.0, result.mel.shape[0] * hop_s)
    # Phone boundaries on the mel: where each phone's frames end.
    for end in result.durations.cumsum(0).tolist()[:-1]:
        mel_ax.axvline(end * hop_s, color="white", linewidth=0.3, alpha=0.5)
    positions = range(len(result.phones))
    dur_ax.bar(positions, result.durations.tolist(), color="tab:blue")
    dur_ax.set(ylabel="frames", xlim=(-0.5, len(result.phones) - 0.5))
    if len(result.phones) <= _MAX_LABELLED_PHONES:
        labels = ["␣" if p == " " else p for p in result.phones]
        dur_ax.set_xticks(list(positions), labels, fontsize=7)
    else:
        dur_ax.set_xlabel("phone index")
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    return Path(path)
