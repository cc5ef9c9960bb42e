"""PipelineConfig: how a model is cut into stages and how a mini-batch flows through them."""

from __future__ import annotations

from dataclasses import dataclass

from vclone.errors import ConfigError

__all__ = ["PipelineConfig", "REMAT_MODES", "SCHEDULE_KINDS", "BALANCE_MODES"]

REMAT_MODES = ("always", "except_last", "never")
SCHEDULE_KINDS = ("gpipe", "1f1b")
BALANCE_MODES = ("params", "time", "memory")


@dataclass(frozen=True)
class PipelineConfig:
    """Pipeline x data-parallel layout of one training run."""

    num_stages: int = 1
    """Composite layers (pipeline stages), one process each per data-parallel replica."""
    num_micro_batches: int = 1
    """Micro-batches each mini-batch (per data-parallel replica) is split into."""
    num_replicas: int = 1
    """Data-parallel copies of the whole pipeline; each stage's gradients are summed over them."""
    remat: str = "except_last"
    """Re-materialization: always (keep only each stage's input per micro-batch, recompute in the
    backward pass), except_last (as always, but every stage keeps the last micro-batch's
    activations: GPipe back-propagates it right after its forward; torchgpipe's default), never
    (keep every activation)."""
    schedule: str = "gpipe"
    """gpipe (all forwards, then all backwards in reverse) or 1f1b (same result, fewer live
    micro-batches)."""
    balance: str = "params"
    """params | time | memory (balance the stages by that cost) or explicit block counts "3,5,4"."""
    timeout_s: float = 300.0
    """A peer that sends nothing for this long ends every rank with an error."""

    def __post_init__(self) -> None:
        flags = {"num_stages": "--stages", "num_micro_batches": "--micro-batches", "num_replicas": "--data-parallel"}
        for name, flag in flags.items():
            if getattr(self, name) < 1:
                raise ConfigError(f"{flag} ({name}) must be at least 1, got {getattr(self, name)}")
        if self.remat not in REMAT_MODES:
            raise ConfigError(f"unknown --remat {self.remat!r}; choose one of {', '.join(REMAT_MODES)}")
        if self.schedule not in SCHEDULE_KINDS:
            raise ConfigError(f"unknown --schedule {self.schedule!r}; choose one of {', '.join(SCHEDULE_KINDS)}")
        if self.balance not in BALANCE_MODES:
            parts = [p.strip() for p in self.balance.split(",")]
            if not all(p.isdigit() and int(p) > 0 for p in parts):
                raise ConfigError(
                    f"--balance must be one of {', '.join(BALANCE_MODES)} or positive block counts like 3,5,4; got {self.balance!r}"
                )
            if len(parts) != self.num_stages:
                raise ConfigError(f"--balance {self.balance} names {len(parts)} stages but --stages is {self.num_stages}; give one count per stage")
        if self.timeout_s <= 0:
            raise ConfigError(f"--timeout (timeout_s) must be > 0 seconds, got {self.timeout_s}")

    @property
    def world_size(self) -> int:
        """Processes the run needs: stages x replicas."""
        return self.num_stages * self.num_replicas

    @property
    def uses_runner(self) -> bool:
        """True when training needs the stage runner (several ranks, or micro-batches on one)."""
        return self.world_size > 1 or self.num_micro_batches > 1

    @property
    def explicit_balance(self) -> tuple[int, ...] | None:
        """Block counts per stage when --balance lists them, else None."""
        if self.balance in BALANCE_MODES:
            return None
        return tuple(int(p) for p in self.balance.split(","))
