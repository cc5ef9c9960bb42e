"""The thread plan against a literal table, the cgroup quota parsers, and the plan applied to torch."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

import vclone.peers as peers_module
import vclone.threads as threads_module
from vclone.errors import ConfigError
from vclone.threads import (
    AppliedThreads,
    share_of_cores,
    is_vclone_command,
    DEFAULT_POLICY,
    PASSIVE_POLICY,
    available_cores,
    cfs_quota_cores,
    configure_threads,
    cpu_max_cores,
    plan_threads,
    worker_threads,
)

D, P = DEFAULT_POLICY, PASSIVE_POLICY

# (cores, idle at start, workers, --threads) -> (intra-op per worker, inter-op, wait policy)
PLANS = [
    ((2, 2, 1, None), (2, 1, D)),  # alone on a quiet machine: every core, OpenMP's own waiting
    ((2, 1, 1, None), (1, 1, P)),  # another training holds a core: the idle one, sleeping waits
    ((2, 0, 1, None), (1, 1, P)),  # both cores busy: still one thread
    ((2, 2, 1, 1), (1, 1, D)),
    ((2, 2, 1, 2), (2, 1, D)),
    ((2, 0, 1, 2), (2, 1, P)),  # asked for every core on a busy machine: the count is kept, waits sleep
    ((2, 2, 2, None), (1, 1, D)),  # two pipeline ranks on two cores
    ((2, 2, 4, None), (1, 1, P)),  # more workers than cores
    ((1, 1, 1, None), (1, 1, D)),
    ((1, 0, 1, None), (1, 1, P)),
    ((16, 16, 1, None), (16, 1, D)),
    ((16, 16, 3, None), (5, 1, D)),
    ((16, 8, 2, None), (4, 1, P)),
    ((16, 16, 2, 8), (4, 1, D)),
    ((16, 16, 4, 2), (1, 1, D)),  # 4 workers on a budget of 2 threads, 16 cores: one each
]


@pytest.mark.parametrize(("given", "expected"), PLANS)
def test_plan_table(given: tuple, expected: tuple) -> None:
    cores, idle, workers, requested = given
    plan = plan_threads(num_cores=cores, num_idle=idle, num_workers=workers, requested=requested)
    assert (plan.intra_op, plan.inter_op, plan.wait_policy) == expected
    assert plan.num_workers * plan.intra_op <= max(cores, workers)


def test_for_workers_keeps_the_budget() -> None:
    plan = plan_threads(num_cores=8, num_idle=8)
    shared = plan.for_workers(4)
    assert (shared.num_threads, shared.intra_op, shared.wait_policy) == (8, 2, D)
    assert plan_threads(num_cores=2, num_idle=2).for_workers(3).wait_policy == P


@pytest.mark.parametrize(("requested", "needle"), [(0, "--threads 0 is less than 1; give 1 to 2"), (3, "--threads 3 is more than the 2 CPU cores")])
def test_bad_thread_counts(requested: int, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        plan_threads(num_cores=2, requested=requested)


@pytest.mark.parametrize(("text", "cores"), [("max 100000", None), ("150000 100000", 1.5), ("200000 100000\n", 2.0), ("", None), ("x 1", None)])
def test_cgroup_v2_cpu_max(text: str, cores: float | None) -> None:
    assert cpu_max_cores(text) == cores


@pytest.mark.parametrize(("quota", "period", "cores"), [("-1", "100000", None), ("50000", "100000", 0.5), ("400000\n", "100000\n", 4.0), ("", "", None)])
def test_cgroup_v1_cfs_quota(quota: str, period: str, cores: float | None) -> None:
    assert cfs_quota_cores(quota, period) == cores


def test_available_cores_within_affinity() -> None:
    assert 1 <= available_cores() <= len(os.sched_getaffinity(0))


def test_configure_one_thread_is_applied(restored_threads: None) -> None:
    applied = configure_threads(1)
    assert torch.get_num_threads() == 1 and applied.intra_op == 1
    assert os.environ["OMP_NUM_THREADS"] == "1"
    assert "torch uses 1 intra-op thread," in applied.describe()


def test_configure_reads_omp_num_threads(restored_threads: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    applied = configure_threads()
    assert applied.plan.requested and applied.intra_op == 1


def test_configure_refuses_more_than_the_cores(restored_threads: None) -> None:
    with pytest.raises(ConfigError, match="more than the"):
        configure_threads(available_cores() + 1)


def test_worker_threads_share_and_restore(restored_threads: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    torch.set_num_threads(1)
    with worker_threads(2) as per_worker:
        assert per_worker == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    assert os.environ["OMP_NUM_THREADS"] == "7"


def test_opt_out_leaves_torch_alone(restored_threads: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VCLONE_THREADS", "torch")
    torch.set_num_threads(1)
    applied = configure_threads()
    assert not applied.managed and torch.get_num_threads() == 1
    assert "torch defaults: VCLONE_THREADS=torch" in applied.describe()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/x/.venv/bin/python", "/x/.venv/bin/vclone", "train"], True),
        (["/usr/local/bin/vclone", "serve"], True),
        (["python3", "-m", "vclone.cli.app", "synthesize"], True),
        (["python", "-m", "pytest", "tests/"], False),
        (["bash", "vclone-run.sh"], False),
        ([""], False),
    ],
)
def test_vclone_commands_are_recognized(argv: list[str], expected: bool) -> None:
    assert is_vclone_command(argv) is expected


def test_another_vclone_command_takes_its_share(restored_threads: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two trainings started together both find an idle machine; counting each other, they take half each.
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads_module, "available_cores", lambda: 2)
    monkeypatch.setattr(threads_module, "idle_cores", lambda cores, sample_s: 2)
    monkeypatch.setattr(threads_module, "busy_peers", lambda before: 1)
    applied = threads_module.configure_threads()
    assert applied.plan.intra_op == 1 and applied.plan.wait_policy == threads_module.PASSIVE_POLICY
    monkeypatch.delenv("OMP_NUM_THREADS")  # the first call wrote its choice there, as workers inherit it
    monkeypatch.setattr(threads_module, "busy_peers", lambda before: 0)
    assert threads_module.configure_threads().plan.intra_op == 2


def test_only_vclone_peers_that_use_cpu_are_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two real processes whose argv[0] is `vclone`: one spinning (a training), one asleep (an idle server).
    spinning = subprocess.Popen(["bash", "-c", f"exec -a vclone {sys.executable} -c 'while True: pass'"])
    sleeping = subprocess.Popen(["bash", "-c", f"exec -a vclone {sys.executable} -c 'import time; time.sleep(60)'"])
    try:
        time.sleep(0.5)  # both past their start-up
        assert {spinning.pid, sleeping.pid} <= set(peers_module._peer_pids())
        # Only these two: other vclone commands may run on the machine beside the tests.
        monkeypatch.setattr(peers_module, "_peer_pids", lambda: [spinning.pid, sleeping.pid])
        before = peers_module.peer_cpu_times()
        assert set(before) == {spinning.pid, sleeping.pid}
        time.sleep(0.3)
        assert peers_module.busy_peers(before) == 1
        assert peers_module.busy_peers({}) == 2  # peers started since the snapshot count as busy
    finally:
        for proc in (spinning, sleeping):
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(("started", "cores", "peers", "expected"), [
    (2, 2, 0, 2),  # alone: what it started with
    (2, 2, 1, 1),  # a synthesize beside it: half
    (4, 4, 1, 2),
    (4, 4, 3, 1),
    (2, 2, 5, 1),  # never below one
    (1, 2, 0, 1),  # never above what it started with (it started on a busy machine)
])
def test_share_of_cores(started: int, cores: int, peers: int, expected: int) -> None:
    assert share_of_cores(started, num_cores=cores, active_peers=peers) == expected


def _applied(intra_op: int, *, requested: bool = False, managed: bool = True) -> AppliedThreads:
    plan = plan_threads(num_cores=2, requested=intra_op if requested else None)
    return AppliedThreads(plan=plan, intra_op=plan.intra_op, inter_op=1, wait_policy=plan.wait_policy, managed=managed)


def test_a_running_training_gives_cores_to_a_busy_vclone_peer_and_takes_them_back(restored_threads: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real process whose argv[0] is `vclone`, spinning on a core, as a synthesize beside a training.
    peer = subprocess.Popen(["bash", "-c", f"exec -a vclone {sys.executable} -c 'while True: pass'"])
    try:
        deadline = time.monotonic() + 10
        while peer.pid not in peers_module.peer_cpu_times() and time.monotonic() < deadline:
            time.sleep(0.05)  # until bash has exec'd into `vclone`
        # Only this peer: other vclone commands may run on the machine beside the tests.
        monkeypatch.setattr(peers_module, "_peer_pids", lambda: [peer.pid] if peer.poll() is None else [])
        rebalancer = _applied(2).rebalancer(interval_s=0.0)
        torch.set_num_threads(2)
        assert rebalancer.tick() == 1 and torch.get_num_threads() == 1  # first look: a starting peer counts
        time.sleep(0.3)
        assert rebalancer.tick() == 1  # still burning CPU: still shared
    finally:
        peer.kill()
        peer.wait()
    assert rebalancer.tick() == 2 and torch.get_num_threads() == 2
    assert rebalancer.changes == [(1, 1), (0, 2)]


def test_idle_peers_do_not_count_after_the_first_look(restored_threads: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # An idle `vclone serve` beside a training: counted while it may be starting, then not.
    used = {"cpu": 1.0}
    monkeypatch.setattr(peers_module, "_peer_pids", lambda: [4242])
    monkeypatch.setattr(peers_module, "_cpu_seconds", lambda pid: used["cpu"])
    rebalancer = _applied(2).rebalancer(interval_s=0.0)
    assert rebalancer.tick() == 1
    assert rebalancer.tick() == 2  # no CPU used since
    used["cpu"] += 0.5
    assert rebalancer.tick() == 1


def test_fixed_threads_are_never_rebalanced(restored_threads: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peers_module, "_peer_pids", lambda: [4242])
    monkeypatch.setattr(peers_module, "_cpu_seconds", lambda pid: 1.0)
    for applied in (_applied(2, requested=True), _applied(2, managed=False)):
        rebalancer = applied.rebalancer(interval_s=0.0)
        assert rebalancer.tick() == 2 and not rebalancer.changes
    throttled = _applied(2).rebalancer(interval_s=3600.0)
    assert throttled.tick() == 2  # looks at most every interval_s
