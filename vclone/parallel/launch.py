"""Start local pipeline workers through torch's launcher API (what torchrun uses), one per rank."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from vclone.errors import VcloneError
from vclone.parallel.errors import PeerReported, PipelineError
from vclone.threads import worker_threads

__all__ = ["launch_local", "under_launcher", "free_port", "run_on_ranks"]


def under_launcher() -> bool:
    """True in a process started by torchrun (or by launch_local): the environment names its rank."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "TORCHELASTIC_RUN_ID" in os.environ


def free_port() -> int:
    """A TCP port that was free a moment ago on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(entrypoint: Callable[..., Any], args: tuple, threads: int, errors: str) -> Any:
    """What every worker runs. A user error is written to the `errors` folder for the parent to
    report as one line (no traceback), then a non-zero exit makes the launcher stop every worker."""
    import torch

    torch.set_num_threads(threads)
    try:
        return entrypoint(*args)
    except PeerReported:
        raise SystemExit(3) from None
    except VcloneError as err:
        rank = os.environ.get("RANK", "0")
        Path(errors, f"rank-{int(rank):05d}.txt").write_text(str(err), encoding="utf-8")
        raise SystemExit(3) from None


@contextlib.contextmanager
def _quiet_launcher() -> Iterator[None]:
    """The launcher logs every stopped worker with a traceback; vclone reports failures itself."""
    names = ("torch.distributed.elastic", "torch.multiprocessing.spawn", "torch.distributed.launcher")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _first_error(errors: Path, failures: dict[int, Any]) -> str:
    """The message of the worker that failed first with a user error, or which worker died how."""
    reported = sorted(errors.glob("rank-*.txt"))
    if reported:
        return reported[0].read_text(encoding="utf-8").strip()
    rank, failure = min(failures.items())
    return f"worker rank {rank} died (exit code {failure.exitcode}); every worker was stopped"


def launch_local(entrypoint: Callable[..., Any], *args: Any, world_size: int, threads_per_rank: int | None = None) -> dict[int, Any]:
    """Run `entrypoint(*args)` in `world_size` fresh processes on this machine and return each rank's
    result. When any worker fails, the others are stopped and a PipelineError names the first one.
    `entrypoint` must be importable by name (a module-level function). The workers share this
    process's torch threads (vclone.threads.worker_threads) unless `threads_per_rank` is given."""
    from torch.distributed.elastic.multiprocessing.api import DefaultLogsSpecs
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=world_size, run_id=f"vclone-{uuid.uuid4().hex[:8]}",
        rdzv_backend="c10d", rdzv_endpoint=f"127.0.0.1:{free_port()}", max_restarts=0, monitor_interval=0.1,
        start_method="spawn", logs_specs=DefaultLogsSpecs(),
    )
    with worker_threads(world_size) as shared, tempfile.TemporaryDirectory(prefix="vclone-workers-") as errors, _quiet_launcher():
        try:
            return elastic_launch(config, _run)(entrypoint, args, threads_per_rank or shared, errors)
        except ChildFailedError as err:
            raise PipelineError(_first_error(Path(errors), err.failures)) from None


def run_on_ranks(entrypoint: Callable[..., Any], *args: Any, world_size: int) -> Any:
    """`entrypoint(*args)` as this process's rank when torchrun started it, in this process when
    the layout has one rank, otherwise in `world_size` local workers; returns this process's (or
    rank 0's) result."""
    if under_launcher() or world_size == 1:
        return entrypoint(*args)
    return launch_local(entrypoint, *args, world_size=world_size)[0]
