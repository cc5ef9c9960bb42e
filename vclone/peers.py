"""Other vclone commands on this machine: finding them, telling the busy ones from the idle, and
giving a running job's threads back while they work (vclone.threads plans a job's threads at start;
this module re-plans them while it runs)."""

from __future__ import annotations

import os
import time
from pathlib import Path
__all__ = ["is_vclone_command", "vclone_peers", "peer_cpu_times", "busy_peers", "share_of_cores", "ThreadRebalancer"]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None


def is_vclone_command(argv: list[str]) -> bool:
    """Whether a process's argv is a vclone command: the console script (`.../vclone ...`, run
    directly or through python) or `python -m vclone.cli.app ...`."""
    for i, arg in enumerate(argv[:3]):
        if os.path.basename(arg) == "vclone":
            return True
        if arg == "-m" and i + 1 < len(argv) and argv[i + 1].startswith("vclone"):
            return True
    return False


def _parent(pid: int) -> int:
    stat = _read(Path(f"/proc/{pid}/stat"))
    if not stat or ")" not in stat:
        return 0
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0


def vclone_peers() -> int:
    """Other vclone commands running now (not this process or its parents), busy or not."""
    return len(_peer_pids())


def peer_cpu_times() -> dict[int, float]:
    """CPU seconds used so far by each other vclone command running now: a snapshot for `busy_peers`."""
    times = {}
    for pid in _peer_pids():
        used = _cpu_seconds(pid)
        if used is not None:
            times[pid] = used
    return times


def busy_peers(before: dict[int, float], now: dict[int, float] | None = None, *, min_busy_s: float = 1e-6) -> int:
    """Other vclone commands that used at least `min_busy_s` of CPU between the snapshots `before` and
    `now` (default: taken now), or started since: started together, two trainings both see an idle
    machine, so each counts the other as wanting cores too; an idle `vclone serve` or a stopped job
    does not count."""
    now = peer_cpu_times() if now is None else now
    return sum(pid not in before or used - before[pid] >= min_busy_s for pid, used in now.items())


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used (from /proc/PID/stat), None if it is gone."""
    stat = _read(Path(f"/proc/{pid}/stat"))
    if not stat or ")" not in stat:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    try:
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError, OSError):
        return None


def _peer_pids() -> list[int]:
    """Process ids of the other vclone commands running now (not this process or its parents)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    mine, pid = set(), os.getpid()
    while pid > 1 and pid not in mine:
        mine.add(pid)
        pid = _parent(pid)
    peers = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        if is_vclone_command(argv):
            peers.append(int(entry.name))
    return peers


def share_of_cores(num_threads: int, *, num_cores: int, active_peers: int) -> int:
    """Threads a running job takes when `active_peers` other vclone commands are busy beside it: its
    share of the cores (at least one), never more than the `num_threads` it started with."""
    return max(1, min(num_threads, num_cores // (active_peers + 1)))


class ThreadRebalancer:
    """Re-plans a long job's threads while it runs: a training that started alone on every core
    drops to its share when another vclone command starts working (a `synthesize` beside it), and
    takes its threads back when that ends. Call `tick()` often (every training step); it looks at
    the machine at most every `interval_s` seconds. A job whose threads are `fixed` (--threads,
    OMP_NUM_THREADS, torch's defaults under VCLONE_THREADS=torch, worker processes) is never changed;
    vclone.threads.AppliedThreads.rebalancer() builds one from a run's thread plan."""

    def __init__(self, threads: int, *, num_cores: int, fixed: bool, interval_s: float = 1.0, min_busy_s: float = 0.05) -> None:
        self.started_with = threads
        self.num_cores = num_cores
        self.interval_s = interval_s
        self.min_busy_s = min_busy_s
        """CPU seconds a peer must use between two looks to count as working (an idle server does not)."""
        self.enabled = not fixed and threads > 1
        self.threads = threads
        self._last = time.monotonic()
        self._cpu: dict[int, float] = {}
        self.changes: list[tuple[int, int]] = []
        """(active peers, threads) each time the number changed: what a run can report."""

    def active_peers(self) -> int:
        """Peers that used CPU since the last look (all of them the first time: they are starting)."""
        now = peer_cpu_times()
        active = busy_peers(self._cpu, now, min_busy_s=self.min_busy_s)
        self._cpu = now
        return active

    def tick(self) -> int:
        """Look at the machine if `interval_s` has passed and set torch's threads to this job's share;
        returns the threads in use."""
        if not self.enabled:
            return self.threads
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return self.threads
        self._last = now
        peers = self.active_peers()
        wanted = share_of_cores(self.started_with, num_cores=self.num_cores, active_peers=peers)
        if wanted != self.threads:
            import torch

            torch.set_num_threads(wanted)
            self.threads = wanted
            self.changes.append((peers, wanted))
        return self.threads
