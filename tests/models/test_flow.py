"""The flow-matching decoder head: it learns, it samples repeatably per seed, its seed and step count
travel in the batch (micro-batches included), its step count is the number of estimator calls, its
training draws do not depend on how a mini-batch is cut, and voices without it are unchanged."""

from __future__ import annotations

from dataclasses import replace

import torch
from acoustic_fixtures import small_config

from vclone.models.acoustic import AcousticConfig, ModelDims, build_acoustic_model, preset
from vclone.models.acoustic.batch import Batch
from vclone.models.acoustic.flow import FlowBlock
from vclone.models.record import AcousticRecord

FLOW = {"flow_decoder": True, "flow_dim": 32, "flow_layers": 2, "flow_steps": 4}


def _flow_block(dims: ModelDims, **overrides: object) -> FlowBlock:
    torch.manual_seed(0)
    return FlowBlock(config=small_config(**{**FLOW, **overrides}), dims=dims)


def _condition(batch: Batch, d_model: int) -> tuple[AcousticRecord, torch.Tensor]:
    """A record whose mu is the target smoothed over time (the regression's smear) and whose hidden
    states decide the detail mu lacks, and the true mel: mu + that detail."""
    assert batch.mel is not None and batch.mel_lengths is not None
    g = torch.Generator().manual_seed(1)
    mask = batch.mel_mask()[..., None]
    frame_h = torch.randn(*batch.mel.shape[:2], d_model, generator=g) * mask
    detail = torch.tanh(frame_h @ torch.randn(d_model, batch.mel.shape[-1], generator=g))
    mu = torch.nn.functional.avg_pool1d(batch.mel.transpose(1, 2), 5, stride=1, padding=2, count_include_pad=False).transpose(1, 2) * mask
    record = AcousticRecord(mel_pred=mu, frame_h=frame_h, frame_lengths=batch.mel_lengths)
    return record, (mu + detail) * mask


def _distance(record: AcousticRecord, truth: torch.Tensor, batch: Batch) -> float:
    assert record.mel_pred is not None
    mask = batch.mel_mask()[..., None]
    return float(((record.mel_pred - truth).abs() * mask).sum() / (mask.sum() * truth.shape[-1]))


def test_the_flow_head_overfits_a_batch_and_its_samples_approach_the_truth(dims, make_batch):
    batch = make_batch([(4, 14), (5, 18), (3, 9)])
    block = _flow_block(dims)
    record, truth = _condition(batch, d_model=32)
    target = Batch(**{**batch.__dict__, "mel": truth})
    with torch.no_grad():
        before = _distance(block.sample(record, seed=5, num_steps=8), truth, batch)
    optimizer = torch.optim.Adam(block.parameters(), lr=3e-3)
    torch.manual_seed(0)
    losses = []
    for _ in range(250):
        loss = block(record, target).losses["flow"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 0.25 * first, (first, last)
    with torch.no_grad():
        after = _distance(block.sample(record, seed=5, num_steps=8), truth, batch)
    # At init the sample is mu plus scaled noise; trained, the ODE carries the noise onto the detail.
    assert after < 0.5 * before, (before, after)


def test_sampling_is_repeatable_per_seed_and_leaves_the_global_rng_alone(make_model, make_batch):
    model = make_model(**FLOW)
    batch = make_batch([(4, 12), (6, 20)])
    state = torch.get_rng_state()
    first = model.infer(batch, seed=3).mel_pred
    again = model.infer(batch, seed=3).mel_pred
    other = model.infer(batch, seed=4).mel_pred
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)
    assert torch.equal(model.infer(batch).mel_pred, model.infer(batch, seed=0).mel_pred)  # no seed: the default one


def test_the_sampling_options_travel_in_the_batch(make_model, make_batch):
    model = make_model(**FLOW)
    batch = make_batch([(4, 12), (6, 20)])
    seeded = model.infer(batch, seed=3).mel_pred
    assert torch.equal(model.infer(replace(batch, sample_seed=3)).mel_pred, seeded)
    assert not torch.equal(model.infer(replace(batch, sample_seed=4)).mel_pred, seeded)
    assert torch.equal(model.infer(replace(batch, sample_seed=4), seed=3).mel_pred, seeded)  # infer's own seed wins
    # The blocks alone, run as training runs them, sample the same way from a batch without targets.
    model.eval()
    with torch.no_grad():
        direct = model.blocks(replace(batch, mel=None, mel_lengths=None, sample_seed=3)).mel_pred
    assert torch.equal(direct, seeded)


def test_a_micro_batch_keeps_the_batchs_settings(make_batch):
    batch = replace(make_batch([(4, 12), (6, 20), (3, 9)]), sample_seed=7, flow_steps=2, pace=1.5, pitch_shift=2.0, energy_scale=0.5)
    micro = batch.select(1, 3)
    assert (micro.sample_seed, micro.flow_steps, micro.pace, micro.pitch_shift, micro.energy_scale) == (7, 2, 1.5, 2.0, 0.5)
    assert micro.norm == batch.norm and micro.ids == ("u1", "u2")
    assert micro.phone_ids.shape == (2, 6) and micro.mel is not None and micro.mel.shape[1] == 20
    assert micro.to("cpu").sample_seed == 7


def test_flow_steps_is_the_number_of_estimator_calls(make_model, make_batch):
    model = make_model(**FLOW)
    calls = []
    model.blocks.block("flow").field.register_forward_hook(lambda *_: calls.append(1))
    batch = make_batch([(4, 12)])
    for steps, want in ((None, FLOW["flow_steps"]), (1, 1), (7, 7)):
        calls.clear()
        model.infer(batch, flow_steps=steps)
        assert len(calls) == want, steps
    calls.clear()
    model.infer(replace(batch, flow_steps=3))
    assert len(calls) == 3


def test_the_model_names_the_flow_blocks_state_dict_keys(make_model):
    model = make_model(**FLOW)
    prefix = model.state_prefix("flow")
    assert prefix == "blocks.blocks.flow."
    flow = model.blocks.block("flow")
    assert {k for k in model.state_dict() if k.startswith(prefix)} == {prefix + k for k in flow.state_dict()}
    assert model.state_prefix("encoder.1") == "blocks.blocks.encoder.1."


def test_training_draws_are_the_same_however_the_mini_batch_is_cut(make_model, make_batch):
    """Item-seeded draws (flow_random_draws False): micro-batch losses add up to the whole batch's,
    as a pipeline needs; with random draws two passes differ."""
    batch = make_batch([(4, 12), (6, 20), (3, 9), (5, 15)])
    model = make_model(**FLOW, flow_random_draws=False)
    whole = model(batch).losses["flow"]
    parts = model(batch.select(0, 1)).losses["flow"] + model(batch.select(1, 4)).losses["flow"]
    torch.testing.assert_close(parts, whole)
    assert torch.equal(model(batch).losses["flow"], whole)
    drawing = make_model(**FLOW)
    assert not torch.equal(drawing(batch).losses["flow"], drawing(batch).losses["flow"])


def test_the_block_sits_after_the_mel_head_and_trains_with_the_regression_loss(make_model, make_batch):
    model = make_model(**FLOW, postnet_layers=2, postnet_dim=8)
    names = [name for name, _ in model.named_blocks()]
    assert names[-3:] == ["mel_head", "postnet", "flow"]
    record = model(make_batch([(4, 12), (6, 20)]))
    assert {"mel", "mel_post", "flow"} <= set(record.losses)
    record.total_loss().backward()
    head = model.blocks.block("mel_head").proj.weight
    assert head.grad is not None and head.grad.abs().sum() > 0


def test_the_presets_and_voices_from_before_have_no_flow(dims):
    old = {k: v for k, v in preset("tiny").to_dict().items() if not k.startswith("flow_")}
    config = AcousticConfig.from_dict(old)
    assert config == preset("tiny") and not config.flow_decoder
    assert all(not p.flow_decoder for p in (preset(name) for name in ("tiny", "small", "base", "deep")))
    assert "flow" not in [name for name, _ in build_acoustic_model(config, dims).named_blocks()]
