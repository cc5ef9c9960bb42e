"""A dead or stuck worker ends every rank with a clear error within a bounded time (never a hang)."""

from __future__ import annotations

import pytest
from failure_workers import faulty_worker

from vclone.parallel.errors import PipelineError
from vclone.parallel.launch import launch_local

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


# A hang fails the test through pytest-timeout rather than a timed assertion (noisy shared machines).
@pytest.mark.timeout(120)
def test_a_killed_worker_stops_every_rank(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(PipelineError, match="worker rank 1 died"):
        launch_local(faulty_worker, "die", 60.0, world_size=2)


@pytest.mark.timeout(120)
def test_a_stuck_peer_times_out_with_a_clear_error(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(PipelineError, match=r"rank 1 sent no gradients of micro-batch \d within 3 s"):
        launch_local(faulty_worker, "hang", 3.0, world_size=2)
