"""AdamW over named parameters, the learning-rate schedule, and optimizer state as named tensors."""

from __future__ import annotations

import math

import torch

from vclone.errors import ConfigError
from vclone.train.config import OptimizerConfig

__all__ = ["NamedAdamW", "build_optimizer", "learning_rate", "ADAM_STATE_KEYS"]

ADAM_STATE_KEYS = ("exp_avg", "exp_avg_sq", "step")
"""Per-parameter AdamW state, saved as `<parameter name>.<key>` in optimizer.safetensors."""


def learning_rate(step: int, config: OptimizerConfig) -> float:
    """Learning rate of optimizer step `step` (1-based): a pure function, so it needs no saved state
    beyond the step count."""
    warmup = config.warmup_steps
    if warmup and step <= warmup:
        return config.lr * step / warmup
    if config.schedule == "constant":
        return config.lr
    if config.schedule == "inverse_sqrt":
        return max(config.min_lr, config.lr * math.sqrt(max(warmup, 1) / step))
    progress = min(1.0, (step - warmup) / (config.decay_steps - warmup))
    return config.min_lr + (config.lr - config.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


class NamedAdamW:
    """AdamW plus the parameter names in the order the optimizer holds them, so its state can be
    saved and restored by name (robust to a model re-built in another process, or a pipeline
    stage that holds only some of the parameters)."""

    def __init__(self, optimizer: torch.optim.AdamW, names: list[str]) -> None:
        self.optimizer = optimizer
        self.names = names

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Flat `<name>.<key>` -> tensor map of the AdamW state, copied to the CPU (parameters never
        stepped are absent)."""
        state = self.optimizer.state_dict()["state"]
        out: dict[str, torch.Tensor] = {}
        for index, name in enumerate(self.names):
            for key, value in state.get(index, {}).items():
                if key not in ADAM_STATE_KEYS:
                    raise ValueError(f"unexpected AdamW state {key!r} for {name}")
                out[f"{name}.{key}"] = torch.as_tensor(value).detach().to("cpu", copy=True).contiguous()
        return out

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore what `state_tensors` saved; unknown names mean the checkpoint is another model's."""
        index_of = {name: i for i, name in enumerate(self.names)}
        state: dict[int, dict[str, torch.Tensor]] = {}
        for flat, value in tensors.items():
            name, _, key = flat.rpartition(".")
            if name not in index_of or key not in ADAM_STATE_KEYS:
                raise ConfigError(f"optimizer state {flat!r} matches no parameter of this model; the checkpoint is from another model")
            state.setdefault(index_of[name], {})[key] = value
        for index, entry in state.items():
            if set(entry) != set(ADAM_STATE_KEYS):
                raise ConfigError(f"optimizer state of {self.names[index]} is incomplete ({sorted(entry)})")
        current = self.optimizer.state_dict()
        self.optimizer.load_state_dict({"state": state, "param_groups": current["param_groups"]})


def build_optimizer(model: torch.nn.Module, config: OptimizerConfig) -> NamedAdamW:
    """AdamW with two groups: decayed (matrices, embedding tables) and not decayed (biases, gains)."""
    decayed, plain, names = [], [], []
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    for name, param in named:
        (decayed if param.dim() >= 2 else plain).append((name, param))
    groups = []
    for members, weight_decay in ((decayed, config.weight_decay), (plain, 0.0)):
        if members:
            groups.append({"params": [p for _, p in members], "weight_decay": weight_decay})
            names.extend(n for n, _ in members)
    optimizer = torch.optim.AdamW(groups, lr=learning_rate(1, config), betas=config.betas, eps=config.eps)
    return NamedAdamW(optimizer, names)
