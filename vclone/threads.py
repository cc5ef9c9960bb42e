"""How many CPU threads vclone uses: a plan from the cores given, applied before torch starts its pools.

Two vclone processes that each use every core make each other several times slower (measured on
2 cores: one tiny training 32 s alone, two at once 182 s each), because torch's OpenMP threads spin
while they wait for each other. So a process counts the cores it may use (CPU affinity, cgroup
quota), looks at how many of them are idle when it starts, and takes:

- on an idle machine, every core, and the OpenMP wait policy left at its default (spinning a while
  pays alone: the passive policy made the same training 41 s instead of 32 s);
- on a busy machine (fewer idle cores, or other vclone commands running: each gets its share of the
  cores), only the idle cores (at least one) and the passive wait policy, so waiting
  threads sleep instead of taking time from the other process (two trainings at once: 45 s each
  with one thread, against 182 s with the defaults).

`--threads N` (or OMP_NUM_THREADS in the environment) fixes the number instead. Worker processes
(pipeline ranks, `prepare --workers`) share one budget: N workers x T threads never exceed it.
`plan_threads` is the pure rule; `configure_threads` measures the machine and applies the plan.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from vclone.errors import ConfigError
from vclone.peers import ThreadRebalancer, _read, busy_peers, is_vclone_command, peer_cpu_times, share_of_cores, vclone_peers

__all__ = [
    "DEFAULT_POLICY",
    "OPT_OUT",
    "PASSIVE_POLICY",
    "ThreadPlan",
    "AppliedThreads",
    "plan_threads",
    "is_vclone_command",
    "vclone_peers",
    "peer_cpu_times",
    "busy_peers",
    "share_of_cores",
    "ThreadRebalancer",
    "available_cores",
    "idle_cores",
    "cpu_max_cores",
    "cfs_quota_cores",
    "configure_threads",
    "apply_threads",
    "worker_threads",
]

DEFAULT_POLICY = "default"
"""OpenMP decides (GNU OpenMP spins a while before it sleeps): fastest when the cores are ours alone."""
PASSIVE_POLICY = "passive"
"""Waiting threads sleep at once (OMP_WAIT_POLICY=PASSIVE): they leave the cores to other processes."""
_SAMPLE_S = 0.1
"""How long a process watches the machine at start to count idle cores."""
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
OPT_OUT = "VCLONE_THREADS=torch"
"""In the environment: vclone leaves torch's thread defaults alone unless --threads is given
(what vclone did before it chose; bench/cpu_sharing.py measures that as today's settings)."""


@dataclass(frozen=True)
class ThreadPlan:
    """The threads a job uses: how many per worker process, and how they wait."""

    num_cores: int
    """CPU cores this process may use (CPU affinity and cgroup quota)."""
    num_idle: int
    """Of those, the cores found idle when the process started (all of them on a quiet machine)."""
    num_workers: int
    """Processes sharing the budget (pipeline ranks, prepare workers); 1 for a single process."""
    num_threads: int
    """Threads of the whole job: the requested number, else the idle cores (at least one)."""
    intra_op: int
    """torch intra-op threads of each worker (torch.set_num_threads, OMP_NUM_THREADS)."""
    inter_op: int
    """torch inter-op threads of each worker; vclone runs eager ops, which never use that pool."""
    wait_policy: str
    """OpenMP wait policy: DEFAULT_POLICY or PASSIVE_POLICY."""
    requested: bool
    """Whether the number was asked for (--threads, OMP_NUM_THREADS) rather than chosen."""

    def __post_init__(self) -> None:
        if self.wait_policy not in (DEFAULT_POLICY, PASSIVE_POLICY):
            raise ValueError(f"wait_policy must be {DEFAULT_POLICY!r} or {PASSIVE_POLICY!r}, got {self.wait_policy!r}")

    @property
    def busy(self) -> bool:
        """Whether other work held some of the cores when the process started."""
        return self.num_idle < self.num_cores

    def for_workers(self, num_workers: int) -> ThreadPlan:
        """The same budget shared by `num_workers` processes."""
        plan = plan_threads(num_cores=self.num_cores, num_idle=self.num_idle, num_workers=num_workers, requested=self.num_threads)
        return replace(plan, requested=self.requested)

    def reason(self) -> str:
        """Why the plan takes the threads it takes, in a few words."""
        if self.requested:
            why = f"{self.num_threads} asked for"
        elif self.busy:
            why = f"machine busy: {self.num_idle} of {self.num_cores} cores idle at start"
        else:
            why = f"machine idle: all {self.num_cores} cores"
        if self.num_workers > 1:
            why += f", shared by {self.num_workers} workers"
        return why


@dataclass(frozen=True)
class AppliedThreads:
    """A plan and what torch reports once it is applied (the line a run prints)."""

    plan: ThreadPlan
    intra_op: int
    """torch.get_num_threads() after applying."""
    inter_op: int
    """torch.get_num_interop_threads() after applying."""
    wait_policy: str
    """The wait policy OpenMP started with (the environment's, when torch was loaded earlier)."""
    managed: bool = True
    """False under VCLONE_THREADS=torch: torch's own defaults were left alone."""

    def shared_by(self, num_workers: int) -> AppliedThreads:
        """What each of `num_workers` processes sharing this budget will use (each applies it as it starts)."""
        if num_workers == 1:
            return self
        plan = self.plan.for_workers(num_workers)
        policy = PASSIVE_POLICY if plan.wait_policy == PASSIVE_POLICY else self.wait_policy
        return replace(self, plan=plan, intra_op=plan.intra_op, wait_policy=policy)

    def rebalancer(self, *, interval_s: float = 1.0) -> ThreadRebalancer:
        """What re-plans these threads while the job runs (a number the user fixed, torch's own
        defaults and worker processes are left alone)."""
        fixed = not self.managed or self.plan.requested or self.plan.num_workers > 1
        return ThreadRebalancer(self.intra_op, num_cores=self.plan.num_cores, fixed=fixed, interval_s=interval_s)

    def describe(self) -> str:
        """One line: `threads: torch uses 1 intra-op thread, 1 inter-op; OpenMP wait passive (...)`."""
        workers = f"{self.plan.num_workers} workers x " if self.plan.num_workers > 1 else ""
        plural = "s" if self.intra_op != 1 else ""
        return (
            f"threads: torch uses {workers}{self.intra_op} intra-op thread{plural}, {self.inter_op} inter-op; "
            f"OpenMP wait {self.wait_policy} ({self.plan.reason() if self.managed else f'torch defaults: {OPT_OUT}'}; --threads N to choose)"
        )


def plan_threads(*, num_cores: int, num_idle: int | None = None, num_workers: int = 1, requested: int | None = None) -> ThreadPlan:
    """The thread plan for a job (pure: a table of cases is in tests/test_threads.py).

    `requested` (--threads) must lie in 1..num_cores. Without it the job takes the idle cores, at
    least one. Workers split the job's threads evenly, one at least each; the passive wait policy is
    taken whenever the cores are shared: other work was running at start, or there are more
    workers than cores."""
    if num_cores < 1:
        raise ConfigError(f"a job needs at least one CPU core, got {num_cores}")
    if num_workers < 1:
        raise ConfigError(f"a job needs at least one worker, got {num_workers}")
    if requested is not None and not 1 <= requested <= num_cores:
        raise ConfigError(
            f"--threads {requested} is {'less than 1' if requested < 1 else f'more than the {num_cores} CPU cores this process may use'}; "
            f"give 1 to {num_cores}, or leave it out to let vclone choose"
        )
    idle = num_cores if num_idle is None else min(max(num_idle, 0), num_cores)
    threads = requested if requested is not None else max(1, idle)
    intra = max(1, threads // num_workers)
    shared = idle < num_cores or num_workers * intra > num_cores
    return ThreadPlan(
        num_cores=num_cores, num_idle=idle, num_workers=num_workers, num_threads=threads, intra_op=intra, inter_op=1,
        wait_policy=PASSIVE_POLICY if shared else DEFAULT_POLICY, requested=requested is not None,
    )


def cpu_max_cores(text: str) -> float | None:
    """Cores allowed by a cgroup v2 `cpu.max` ("max 100000" -> None, "150000 100000" -> 1.5)."""
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def cfs_quota_cores(quota_text: str, period_text: str) -> float | None:
    """Cores allowed by cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us` (-1 -> None)."""
    try:
        quota, period = int(quota_text.strip()), int(period_text.strip())
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The tightest CPU quota on this process's cgroup and its parents (v2, else v1), if any."""
    quotas: list[float] = []
    for line in (_read(Path("/proc/self/cgroup")) or "").splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and not controllers:  # v2: cpu.max in the cgroup and every parent
            folder = root / path.lstrip("/")
            while True:
                quota = cpu_max_cores(_read(folder / "cpu.max") or "")
                if quota is not None:
                    quotas.append(quota)
                if folder == root or root not in folder.parents:
                    break
                folder = folder.parent
        elif "cpu" in controllers.split(","):  # v1: the mount may be named cpu, cpu,cpuacct or cpuacct,cpu
            for mount in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
                for folder in (root / mount / path.lstrip("/"), root / mount):  # inside a container the path is often not mounted
                    quota = cfs_quota_cores(_read(folder / "cpu.cfs_quota_us") or "", _read(folder / "cpu.cfs_period_us") or "")
                    if quota is not None:
                        quotas.append(quota)
                        break
    return min(quotas) if quotas else None


def _affinity() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return set(range(os.cpu_count() or 1))


def available_cores() -> int:
    """CPU cores this process may use: its CPU affinity, cut down to the cgroup's CPU quota
    (rounded down, at least one: a thread more than the quota is throttled)."""
    cores = len(_affinity())
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota + 1e-9)))
    return max(1, cores)


def _cpu_times(cpus: set[int]) -> tuple[float, float] | None:
    """(busy, total) jiffies summed over `cpus` from /proc/stat, or None where it cannot be read."""
    text = _read(Path("/proc/stat"))
    if text is None:
        return None
    busy = total = 0.0
    for line in text.splitlines():
        name, _, values = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu" or not name[3:].isdigit() or int(name[3:]) not in cpus:
            continue
        fields = [float(v) for v in values.split()]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
        total += sum(fields[:8])
        busy += sum(fields[:8]) - idle
    return busy, total


def idle_cores(num_cores: int, *, sample_s: float = _SAMPLE_S) -> int:
    """How many of `num_cores` are idle now: the CPUs of this process's affinity are watched for
    `sample_s` (this process sleeps meanwhile, so what runs is other work). Unknown -> all idle."""
    cpus = _affinity()
    before = _cpu_times(cpus)
    time.sleep(sample_s)
    after = _cpu_times(cpus)
    if before is None or after is None or after[1] <= before[1]:
        return num_cores
    share_busy = (after[0] - before[0]) / (after[1] - before[1])
    busy_cpus = share_busy * len(cpus)
    return max(0, min(num_cores, len(cpus) - int(busy_cpus + 0.5)))


def _env_threads(num_cores: int) -> int | None:
    """OMP_NUM_THREADS as a request when it is a plain count (clamped to the cores), else None."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if not value.isdigit() or int(value) < 1:
        return None
    return min(int(value), num_cores)


def apply_threads(plan: ThreadPlan) -> AppliedThreads:
    """Set the environment (read by OpenMP when torch loads, and inherited by worker processes),
    then torch's thread counts. The wait policy only takes effect if torch was not loaded yet; a
    policy the user put in OMP_WAIT_POLICY is kept."""
    torch_loaded = "torch" in sys.modules
    for name in _THREAD_VARS:
        os.environ[name] = str(plan.intra_op)
    user_policy = os.environ.get("OMP_WAIT_POLICY")
    if user_policy is None and not torch_loaded and plan.wait_policy == PASSIVE_POLICY:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    import torch

    torch.set_num_threads(plan.intra_op)
    with contextlib.suppress(RuntimeError):  # allowed once, before any inter-op work: a second call keeps the first
        torch.set_num_interop_threads(plan.inter_op)
    policy = os.environ.get("OMP_WAIT_POLICY", DEFAULT_POLICY).lower()
    return AppliedThreads(plan=plan, intra_op=torch.get_num_threads(), inter_op=torch.get_num_interop_threads(), wait_policy=policy)


def configure_threads(threads: int | None = None, *, num_workers: int = 1, sample_s: float = _SAMPLE_S) -> AppliedThreads:
    """Choose and apply this process's threads: `threads` (--threads) if given, else OMP_NUM_THREADS,
    else the cores idle at start. Call it before anything imports torch, so OpenMP starts with the
    chosen wait policy; a bad `threads` is a ConfigError (one line in the CLI)."""
    cores = available_cores()
    if threads is None and os.environ.get("VCLONE_THREADS") == OPT_OUT.partition("=")[2]:
        import torch

        plan = plan_threads(num_cores=cores, num_workers=num_workers)
        policy = os.environ.get("OMP_WAIT_POLICY", DEFAULT_POLICY).lower()
        return AppliedThreads(plan=plan, intra_op=torch.get_num_threads(), inter_op=torch.get_num_interop_threads(), wait_policy=policy, managed=False)
    requested = threads if threads is not None else _env_threads(cores)
    if requested is not None and not 1 <= requested <= cores:
        plan_threads(num_cores=cores, requested=requested)  # raises the one-line error before the machine is watched
    # One thread on one worker never waits for another, so the wait policy and the idle count are moot.
    alone = requested == 1 and num_workers == 1
    watch = not (cores == 1 or alone)
    before = peer_cpu_times() if watch else {}
    idle = idle_cores(cores, sample_s=sample_s) if watch else cores
    peers = busy_peers(before) if watch else 0
    if peers:  # each vclone process running beside this one gets its share of the cores
        idle = min(idle, max(1, cores // (peers + 1)))
    return apply_threads(plan_threads(num_cores=cores, num_idle=idle, num_workers=num_workers, requested=requested))


@contextlib.contextmanager
def worker_threads(num_workers: int) -> Iterator[int]:
    """Share this process's thread budget (torch's intra-op threads) among `num_workers` processes
    started inside the block: yields the threads each takes, and sets the environment they inherit
    (thread counts, and the passive wait policy when they outnumber the cores)."""
    import torch

    per_worker = max(1, torch.get_num_threads() // num_workers)
    saved = {name: os.environ.get(name) for name in (*_THREAD_VARS, "OMP_WAIT_POLICY")}
    for name in _THREAD_VARS:
        os.environ[name] = str(per_worker)
    if saved["OMP_WAIT_POLICY"] is None and num_workers * per_worker > available_cores():
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        yield per_worker
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
