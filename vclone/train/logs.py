"""RUN/logs/train.csv: one row per logged step (learning rate, total and each loss part, grad norm,
throughput, time)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vclone.atomic import atomic_output

__all__ = ["StepReport", "CsvLog", "FIXED_COLUMNS"]

FIXED_COLUMNS = ("step", "epoch", "lr", "loss")
TAIL_COLUMNS = ("grad_norm", "frames_per_s", "elapsed_s")


@dataclass(frozen=True)
class StepReport:
    """What one optimizer step did (what the progress bar shows and the log records)."""

    step: int
    epoch: int
    max_steps: int
    lr: float
    loss: float
    losses: dict[str, float] = field(default_factory=dict)
    """Each weighted loss part by name."""
    grad_norm: float = 0.0
    """Global gradient norm before clipping."""
    ids: tuple[str, ...] = ()
    """Utterance ids of the batch."""
    num_frames: int = 0
    """Real (unpadded) mel frames in the batch."""
    frames_per_s: float = 0.0
    elapsed_s: float = 0.0
    """Seconds of training since the run (not this process) started."""


class CsvLog:
    """Appends rows to a CSV file whose columns are the loss parts seen so far (a loss added on
    --resume widens the file, earlier rows leaving it empty)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns: list[str] | None = None
        if path.is_file():
            with path.open(encoding="utf-8", newline="") as handle:
                header = next(csv.reader(handle), None)
            self.columns = header or None

    def truncate_after(self, step: int) -> None:
        """Drop rows logged after `step`: a resumed run logs those steps again."""
        self._rewrite(keep=lambda row: int(row["step"]) <= step)

    def _rewrite(self, *, keep: Callable[[dict[str, str]], bool]) -> None:
        """The file again, under the current columns, with the rows `keep` accepts."""
        if not self.path.is_file():
            return
        with self.path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        if self.columns is None:
            return
        with atomic_output(self.path) as tmp:
            with tmp.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=self.columns, restval="")
                writer.writeheader()
                writer.writerows(row for row in rows if keep(row))

    def write(self, report: StepReport) -> None:
        row = {
            "step": report.step,
            "epoch": report.epoch,
            "lr": f"{report.lr:.6g}",
            "loss": f"{report.loss:.6f}",
            **{f"loss_{name}": f"{value:.6f}" for name, value in report.losses.items()},
            "grad_norm": f"{report.grad_norm:.6f}",
            "frames_per_s": f"{report.frames_per_s:.1f}",
            "elapsed_s": f"{report.elapsed_s:.2f}",
        }
        new_file = self.columns is None
        losses = [f"loss_{name}" for name in report.losses]
        if self.columns is not None and not set(losses) <= set(self.columns):
            tail = [c for c in self.columns if c in TAIL_COLUMNS]
            self.columns = [c for c in self.columns if c not in TAIL_COLUMNS] + [c for c in losses if c not in self.columns] + tail
            self._rewrite(keep=lambda row: True)
        if new_file:
            self.columns = [*FIXED_COLUMNS, *losses, *TAIL_COLUMNS]
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w" if new_file else "a", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns, extrasaction="ignore")
            if new_file:
                writer.writeheader()
            writer.writerow(row)
