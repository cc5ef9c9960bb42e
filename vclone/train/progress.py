"""A rich progress display for training: a bar with step count and time, and below it the total
loss, each loss part, learning rate, gradient norm and throughput."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType

from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from vclone.train.logs import StepReport

__all__ = ["TrainProgress", "format_report"]


def format_report(report: StepReport) -> str:
    """One plain-text line: total loss, its parts, lr, grad norm and throughput."""
    parts = ", ".join(f"{name} {value:.3f}" for name, value in report.losses.items())
    return (
        f"loss {report.loss:.3f} ({parts})  lr {report.lr:.2e}  grad norm {report.grad_norm:.2f}  "
        f"{report.frames_per_s:.0f} frames/s  epoch {report.epoch}"
    )


class _BarAndSummary(Progress):
    """The bar on one line and the step summary under it, so neither is cut on narrow terminals."""

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        for task in self.tasks:
            # Text, not markup: loss names must never be read as rich style tags.
            yield Text(task.fields.get("summary", ""), overflow="fold")


class TrainProgress:
    """Use as a context manager and pass it as `train(..., progress=bar)`."""

    def __init__(self, console: Console | None = None, *, disable: bool = False) -> None:
        self.console = console or Console(stderr=True)
        self.bar = _BarAndSummary(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=disable,
        )
        self.task = self.bar.add_task("step", total=None, summary="starting")
        self.started = False

    def __enter__(self) -> "TrainProgress":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self.started:
            self.bar.__exit__(kind, error, trace)

    def __call__(self, report: StepReport) -> None:
        # The bar appears with the first step, so an error in the set-up prints alone.
        if not self.started:
            self.bar.__enter__()
            self.started = True
        self.bar.update(self.task, completed=report.step, total=report.max_steps, summary=format_report(report))

    def phase(self, description: str, total: int) -> Callable[[], None]:
        """A separate bar for set-up work before the first step (e.g. embedding the corpus); returns
        the function to call once per item done."""
        if self.bar.disable:
            return lambda: None
        if not self.started:
            self.bar.__enter__()
            self.started = True
        task = self.bar.add_task(description, total=total, summary="")
        self.bar.update(self.task, visible=False)

        def tick() -> None:
            self.bar.advance(task)
            if self.bar.tasks[task].finished:
                self.bar.update(task, visible=False)
                self.bar.update(self.task, visible=True)

        return tick
