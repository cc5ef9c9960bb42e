"""Block profiles of a shrunk tiny model, the stage memory model, and plan_partition in every mode."""

from __future__ import annotations

import json
import math

import pytest
import torch

from vclone.errors import ConfigError
from vclone.models.acoustic import ModelDims, build_acoustic_model, preset
from vclone.models.acoustic.model import AcousticModel
from vclone.parallel.config import PipelineConfig
from vclone.parallel.partition import partition_blocks
from vclone.parallel.schedule import bubble_fraction
from vclone.parallel.memory import stage_memory
from vclone.parallel.profile import BlockProfile, block_costs, ideal_speedup, plan_partition, profile_blocks, summarize_plan
from vclone.train.pipeline_profile import example_batch
from vclone.train.pipeline_stage import RECORD_TYPE

DIMS = ModelDims(num_phones=12, num_languages=2, num_speakers=3, n_mels=10)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model() -> AcousticModel:
    torch.manual_seed(0)
    config = preset("tiny", d_model=32, num_heads=2, ffn_dim=64, aligner_dim=16, duration_predictor_dim=32,
                    speaker_embedding_dim=8, language_embedding_dim=4, num_encoder_layers=2, num_decoder_layers=2)
    return build_acoustic_model(config, DIMS)


@pytest.fixture(scope="module")
def batch():
    return example_batch(DIMS, num_items=4, num_phones=6, num_frames=20, seed=0)


@pytest.fixture(scope="module")
def profiles(model: AcousticModel, batch) -> list[BlockProfile]:  # noqa: ANN001
    return profile_blocks(model.named_blocks(), batch, record_type=RECORD_TYPE, time_it=True, repeats=2)


def test_example_batch_shapes_and_lengths() -> None:
    b = example_batch(DIMS, num_items=5, num_phones=8, num_frames=30, seed=3)
    assert b.phone_ids.shape == (5, 8) and b.mel is not None and b.mel.shape == (5, 30, DIMS.n_mels)
    assert int(b.phone_lengths[0]) == 8 and int(b.mel_lengths[0]) == 30
    assert bool((b.mel_lengths >= b.phone_lengths).all()) and bool((b.phone_lengths >= 6).all())
    assert int(b.phone_ids.max()) < DIMS.num_phones and int(b.speaker_ids.max()) < DIMS.num_speakers
    again = example_batch(DIMS, num_items=5, num_phones=8, num_frames=30, seed=3)
    assert torch.equal(again.phone_ids, b.phone_ids) and torch.equal(again.mel, b.mel)
    with pytest.raises(ConfigError, match="at least as many frames as phones"):
        example_batch(DIMS, num_items=2, num_phones=8, num_frames=7, seed=0)


def test_profiles_count_every_parameter_and_measure_every_block(model: AcousticModel, profiles: list[BlockProfile]) -> None:
    assert [p.name for p in profiles] == model.blocks.names()
    assert sum(p.num_params for p in profiles) == sum(p.numel() for p in model.parameters())
    assert sum(p.param_bytes for p in profiles) == 4 * sum(p.numel() for p in model.parameters())
    for p in profiles:
        assert p.output_bytes > 0 and p.saved_bytes > 0, p
        assert p.forward_s > 0 and p.backward_s > 0, p
    # The record grows from phone-level to frame-level states after `duration`.
    by_name = {p.name: p for p in profiles}
    assert by_name["decoder.0"].output_bytes > by_name["encoder.0"].output_bytes


def test_profiling_leaves_no_trace(model: AcousticModel, batch) -> None:  # noqa: ANN001
    model.eval()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    try:
        untimed = profile_blocks(model.named_blocks(), batch, record_type=RECORD_TYPE, time_it=False)
        assert torch.equal(torch.get_rng_state(), rng)  # training's dropout stream is untouched
        assert not any(m.training for m in model.modules())
        assert all(p.grad is None for p in model.parameters())
        assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
        assert all(p.forward_s == 0 and p.backward_s == 0 for p in untimed)
    finally:
        model.train()


def test_block_costs(profiles: list[BlockProfile]) -> None:
    assert block_costs(profiles, "params") == [float(p.num_params) for p in profiles]
    assert block_costs(profiles, "memory") == [float(p.saved_bytes) for p in profiles]
    assert block_costs(profiles, "time") == [p.forward_s + p.backward_s for p in profiles]
    untimed = [BlockProfile(p.name, p.num_params, p.param_bytes, 0.0, 0.0, p.output_bytes, p.saved_bytes) for p in profiles]
    with pytest.raises(ValueError, match="no times"):
        block_costs(untimed, "time")
    with pytest.raises(ConfigError, match="unknown cost"):
        block_costs(profiles, "flops")


@pytest.mark.parametrize("schedule", ["gpipe", "1f1b"])
@pytest.mark.parametrize("num_micro_batches", [1, 4])
def test_stage_memory_model(profiles: list[BlockProfile], schedule: str, num_micro_batches: int) -> None:
    names = [p.name for p in profiles]
    plan = partition_blocks(names, num_stages=3, costs=block_costs(profiles, "params"), balance_name="params")
    config = PipelineConfig(num_stages=3, num_micro_batches=num_micro_batches, schedule=schedule, remat="except_last")
    memory = stage_memory(plan, profiles, config=config)
    assert [m.stage for m in memory] == [0, 1, 2]
    for s, m in enumerate(memory):
        lo, hi = plan.bounds[s], plan.bounds[s + 1]
        assert m.input_bytes == (profiles[lo - 1].output_bytes if lo else 0)
        assert m.saved_bytes == sum(p.saved_bytes for p in profiles[lo:hi])
        live = num_micro_batches if schedule == "gpipe" else min(num_micro_batches, 3 - s)
        assert m.live_micro_batches == live
        assert m.without_remat_bytes == live * (m.input_bytes + m.saved_bytes)
        assert m.with_remat_bytes == live * m.input_bytes + m.saved_bytes
        if live > 1:
            assert m.with_remat_bytes < m.without_remat_bytes
        # except_last: GPipe frees the kept micro-batch before recomputing any other; 1F1B keeps it
        # (its backward comes last) while the others recompute.
        extra = m.saved_bytes if schedule == "1f1b" and live > 1 else 0
        assert m.planned_bytes == m.with_remat_bytes + extra <= m.without_remat_bytes
    for mode, attr in (("always", "with_remat_bytes"), ("never", "without_remat_bytes")):
        other = stage_memory(plan, profiles, config=PipelineConfig(num_stages=3, num_micro_batches=num_micro_batches, schedule=schedule, remat=mode))
        assert [m.planned_bytes for m in other] == [getattr(m, attr) for m in memory]


@pytest.mark.parametrize("balance", ["params", "memory", "time", "2,7,2"])
def test_plan_partition_in_every_mode(model: AcousticModel, batch, balance: str) -> None:  # noqa: ANN001
    config = PipelineConfig(num_stages=3, num_micro_batches=3, balance=balance)
    partition, profiles = plan_partition(model, config, batch=batch, record_type=RECORD_TYPE)
    names = model.blocks.names()
    assert partition.block_names == tuple(names) and partition.num_stages == 3
    assert sum((partition.stage_blocks(s) for s in range(3)), ()) == tuple(names)
    assert all(partition.stage_blocks(s) for s in range(3))
    assert partition.balance == ("explicit" if "," in balance else balance)
    assert [p.name for p in profiles] == names
    assert all(p.forward_s > 0 for p in profiles) == (balance == "time")
    if balance == "2,7,2":
        assert partition.bounds == (0, 2, 9, 11)
        assert partition.block_costs == tuple(float(p.num_params) for p in profiles)
    # Profiled on one micro-batch: the first ceil(4 / 3) = 2 items.
    micro = profile_blocks(model.named_blocks(), batch.select(0, math.ceil(batch.size / 3)), record_type=RECORD_TYPE, time_it=False)
    assert [p.output_bytes for p in profiles] == [p.output_bytes for p in micro]


def test_plan_partition_fails_fast_on_too_many_stages(model: AcousticModel, batch) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match=r"--stages 12 needs at least 12 blocks .* preset tiny has 11 blocks .*use --stages <= 11"):
        plan_partition(model, PipelineConfig(num_stages=12), batch=batch, record_type=RECORD_TYPE, model_label="preset tiny")
    with pytest.raises(ConfigError, match="add up to 11"):
        plan_partition(model, PipelineConfig(num_stages=2, balance="3,3"), batch=batch, record_type=RECORD_TYPE)


def test_summary_figures_and_json(model: AcousticModel, batch) -> None:  # noqa: ANN001
    config = PipelineConfig(num_stages=4, num_micro_batches=6, balance="memory")
    partition, profiles = plan_partition(model, config, batch=batch, record_type=RECORD_TYPE, time_blocks=True)
    summary = summarize_plan(partition, profiles, config=config)
    assert summary.bubble == pytest.approx(3 / 9) == bubble_fraction(4, 6)
    assert summary.speedup == pytest.approx(24 / 9) == ideal_speedup(4, 6)
    assert summary.timed and len(summary.stages) == 4
    assert sum(row.num_params for row in summary.stages) == sum(p.numel() for p in model.parameters())
    assert [row.boundary_bytes > 0 for row in summary.stages] == [True, True, True, False]
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["partition"]["bounds"] == list(partition.bounds) and len(data["stages"]) == 4
    assert data["stages"][1]["with_remat_bytes"] == summary.stages[1].memory.with_remat_bytes
