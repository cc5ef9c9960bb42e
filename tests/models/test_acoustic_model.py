"""AcousticModel: shapes, masks, micro-batch transparency, inference, speaker paths, presets."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from vclone.audio.config import AudioConfig
from vclone.errors import ConfigError
from vclone.models.acoustic import ModelDims, build_acoustic_model, mel_pad_value, preset, preset_names
from vclone.models.record import AcousticRecord

LENGTHS = [(5, 14), (9, 23), (3, 8)]
LOSS_NAMES = {"align", "bin", "speaker_adversary", "duration", "pitch", "voicing", "register", "energy", "mel"}


def test_training_forward_fills_shapes_masks_and_losses(make_model, make_batch):
    model, batch = make_model(), make_batch(LENGTHS)
    record = model(batch)
    assert record.mel_pred is not None and record.mel_pred.shape == (3, 23, 10)
    assert set(record.losses) == LOSS_NAMES
    assert all(v.dim() == 0 and torch.isfinite(v) for v in record.losses.values())
    assert record.durations is not None and record.durations.dtype == torch.long
    assert record.durations.sum(1).tolist() == [14, 23, 8]  # hard alignment covers every frame
    assert bool((record.durations[batch.phone_mask()] >= 1).all())
    assert record.durations[~batch.phone_mask()].sum() == 0
    assert torch.equal(record.frame_lengths, batch.mel_lengths)
    assert record.mel_pred[2, 8:].abs().sum() == 0 and record.frame_h[2, 8:].abs().sum() == 0
    assert record.phone_h is None  # phone-level states stop at `duration`
    assert record.speaker_h is not None and record.speaker_h.shape == (3, 32)  # the speaker-conditioned decoder reads it
    record.total_loss().backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert unused == []


def test_blocks_are_named_in_running_order_and_keyed_by_name(make_model):
    model = make_model()
    names = [name for name, _ in model.named_blocks()]
    assert names == [
        "embed", "aligner", "encoder.0", "encoder.1", "speaker_adversary", "condition", "duration", "variance",
        "decoder.0", "decoder.1", "mel_head",
    ]
    # Checkpoints can be split by block name: every weight's key starts with its block's name.
    prefixes = tuple(f"blocks.blocks.{name}." for name in names)
    assert all(key.startswith(prefixes) for key in model.state_dict())


def test_running_blocks_one_by_one_through_record_tensors_equals_the_model(make_model, make_batch):
    # What a pipeline does: send record.tensors() across, rebuild, run the next block.
    model, batch = make_model(), make_batch(LENGTHS)
    model.eval()
    whole = model(batch)
    record = AcousticRecord()
    for _, block in model.named_blocks():
        before = record.tensors()
        out = block(record, batch)
        # Blocks never mutate their input record (the pipeline keeps stage inputs to recompute).
        assert record.tensors().keys() == before.keys() and all(record.tensors()[k] is v for k, v in before.items())
        record = AcousticRecord.from_tensors({k: v.clone() for k, v in out.tensors().items()})
    torch.testing.assert_close(record.mel_pred, whole.mel_pred)
    torch.testing.assert_close(record.total_loss(), whole.total_loss())


def test_padding_never_changes_an_items_outputs(make_model, make_batch):
    model, batch = make_model(), make_batch(LENGTHS, seed=3)
    model.eval()
    whole = model(batch)
    parts = [model(batch.select(i, i + 1)) for i in range(batch.size)]
    for i, part in enumerate(parts):
        t = int(batch.mel_lengths[i])
        torch.testing.assert_close(part.mel_pred[0], whole.mel_pred[i, :t], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(part.durations[0], whole.durations[i, : part.durations.shape[1]])
    for name in LOSS_NAMES:  # each item's loss contribution, normalized by the whole batch's totals
        torch.testing.assert_close(sum(p.losses[name] for p in parts), whole.losses[name], rtol=1e-4, atol=1e-6)
    inferred = model.infer(batch)
    for i in range(batch.size):
        alone = model.infer(batch.select(i, i + 1))
        t = int(alone.frame_lengths[0])
        assert int(inferred.frame_lengths[i]) == t
        torch.testing.assert_close(alone.mel_pred[0, :t], inferred.mel_pred[i, :t], rtol=1e-4, atol=1e-5)


def test_micro_batch_losses_and_gradients_add_up_to_the_mini_batch(make_model, make_batch):
    model, batch = make_model(), make_batch([*LENGTHS, (7, 20), (4, 10)], seed=4)
    whole = model(batch)
    whole.total_loss().backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    total = torch.zeros(())
    for start, stop in [(0, 2), (2, 4), (4, 5)]:  # uneven last micro-batch
        loss = model(batch.select(start, stop)).total_loss()
        loss.backward()
        total = total + loss.detach()
    torch.testing.assert_close(total, whole.total_loss().detach(), rtol=1e-5, atol=1e-6)
    for name, param in model.named_parameters():
        torch.testing.assert_close(param.grad, want[name], rtol=1e-4, atol=1e-6, msg=lambda m, n=name: f"{n}: {m}")


def test_infer_follows_predicted_durations_and_pace(make_model, make_batch):
    model, batch = make_model(dropout=0.1), make_batch(LENGTHS)
    model.train()
    no_targets = replace(batch, mel=None, mel_lengths=None)
    record = model.infer(no_targets)
    assert model.training  # mode restored
    assert record.mel_pred.is_inference() and record.losses == {}
    assert torch.equal(record.frame_lengths, record.durations.sum(1))
    assert record.mel_pred.shape == (3, int(record.frame_lengths.max()), 10)
    expected = (torch.expm1(record.log_duration_pred) * 1.0).round().clamp(min=0).long() * batch.phone_mask()
    empty = expected.sum(1) == 0
    assert torch.equal(record.durations[~empty], expected[~empty])
    assert bool((record.frame_lengths >= 1).all())
    slow = model.infer(replace(no_targets, pace=2.5))
    torch.testing.assert_close(slow.log_duration_pred, record.log_duration_pred)
    want_slow = (torch.expm1(record.log_duration_pred) * 2.5).round().clamp(min=0).long() * batch.phone_mask()
    assert torch.equal(slow.durations[~empty], want_slow[~empty])
    assert torch.equal(model.infer(batch).mel_pred, record.mel_pred)  # targets in the batch are ignored
    with pytest.raises(ValueError, match="needs mel targets"):
        model(no_targets)


def test_external_speaker_vector_takes_the_table_path(make_model, make_batch):
    model, batch = make_model(), make_batch(LENGTHS)
    model.eval()
    table = model.blocks.block("embed").speaker_table.weight.detach()
    external = replace(batch, speaker_embeddings=table[batch.speaker_ids].clone())
    torch.testing.assert_close(model(external).mel_pred, model(batch).mel_pred)
    torch.testing.assert_close(model.infer(external).mel_pred, model.infer(batch).mel_pred)
    other = replace(batch, speaker_embeddings=torch.randn(3, table.shape[1]))
    assert not torch.allclose(model(other).mel_pred, model(batch).mel_pred)
    with pytest.raises(ConfigError, match=r"shape \(batch, 8\)"):
        model(replace(batch, speaker_embeddings=torch.randn(3, 5)))


def test_speaker_enters_only_after_the_encoder_and_language_is_separate(make_model, make_batch):
    model, batch = make_model(), make_batch(LENGTHS)
    model.eval()
    others = replace(batch, speaker_ids=(batch.speaker_ids + 1) % 3)
    blocks = dict(model.named_blocks())

    def encoded(b):
        record = AcousticRecord()
        for name in ["embed", "aligner", "encoder.0", "encoder.1"]:
            record = blocks[name](record, b)
        return record.phone_h

    torch.testing.assert_close(encoded(others), encoded(batch))
    assert not torch.allclose(model.infer(others).log_duration_pred, model.infer(batch).log_duration_pred)
    relang = replace(batch, language_ids=1 - batch.language_ids)
    assert not torch.allclose(encoded(relang), encoded(batch))


def test_alignments_for_plots(make_model, make_batch):
    model, batch = make_model(), make_batch(LENGTHS)
    record = model.alignments(batch)
    assert record.attn_soft.shape == record.attn_hard.shape == (3, 23, 9)
    torch.testing.assert_close(record.attn_soft[0, :14].sum(-1), torch.ones(14))
    assert torch.equal(record.durations, model(batch).durations)


def test_every_preset_builds_and_deep_has_enough_blocks():
    dims = ModelDims(num_phones=60, num_languages=4, num_speakers=10, n_mels=80)
    counts = {}
    for name in preset_names():
        model = build_acoustic_model(preset(name), dims)
        counts[name] = len(model.named_blocks())
        assert counts[name] == preset(name).num_encoder_layers + preset(name).num_decoder_layers + 7  # the variance block included
    assert counts["deep"] >= 24


def test_mel_pad_value_is_the_log_floor():
    assert mel_pad_value(AudioConfig()) == pytest.approx(-11.512925, abs=1e-6)
    assert mel_pad_value(AudioConfig(log_clamp=1e-3)) == pytest.approx(-6.907755, abs=1e-6)


def test_config_refuses_settings_the_model_cannot_build():
    with pytest.raises(ConfigError, match="ffn_kernel must be odd"):
        preset("tiny", ffn_kernel=4)
    with pytest.raises(ConfigError, match="aligner_temperature"):
        preset("tiny", aligner_temperature=0.0)
    config = preset("tiny", aligner_temperature=0.001)
    assert type(config).from_dict(config.to_dict()) == config
