"""A dead or stuck worker ends every rank with a clear error within a bounded time (never a hang)."""

from __future__ import annotations

import time

import pytest
from failure_workers import faulty_worker

from vclone.parallel.context import PipelineError
from vclone.parallel.launch import launch_local

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def test_a_killed_worker_stops_every_rank(capfd: pytest.CaptureFixture[str]) -> None:
    start = time.monotonic()
    with pytest.raises(PipelineError, match="worker rank 1 failed"):
        launch_local(faulty_worker, "die", 60.0, world_size=2)
    assert time.monotonic() - start < 60


def test_a_stuck_peer_times_out_with_a_clear_error(capfd: pytest.CaptureFixture[str]) -> None:
    start = time.monotonic()
    with pytest.raises(PipelineError, match="worker rank 0 failed"):
        launch_local(faulty_worker, "hang", 3.0, world_size=2)
    assert time.monotonic() - start < 60
    err = capfd.readouterr().err
    assert "rank 0:" in err and "within 3 s" in err, err[-2000:]
