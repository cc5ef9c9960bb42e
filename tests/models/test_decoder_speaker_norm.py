"""decoder_speaker_norm: the decoder's LayerNorms take scale and shift from the speaker."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from vclone.models.acoustic import preset, preset_names
from vclone.models.acoustic.config import AcousticConfig
from vclone.models.acoustic.layers import ConditionalLayerNorm, TransformerLayer
from vclone.models.record import AcousticRecord

LENGTHS = [(5, 14), (9, 23), (3, 8)]


def test_a_fresh_conditional_norm_is_a_layer_norm_and_then_follows_its_condition():
    torch.manual_seed(0)
    norm = ConditionalLayerNorm(6, 4)
    x_BLD, c_BC = torch.randn(2, 5, 6), torch.randn(2, 4)
    torch.testing.assert_close(norm(x_BLD, c_BC), torch.nn.functional.layer_norm(x_BLD, (6,)))
    torch.nn.init.normal_(norm.to_scale_shift.weight)
    out = norm(x_BLD, c_BC)
    scale, shift = norm.to_scale_shift(c_BC).chunk(2, dim=-1)
    expected = torch.nn.functional.layer_norm(x_BLD, (6,)) * (1 + scale[:, None]) + shift[:, None]
    torch.testing.assert_close(out, expected)
    # The same frames under another item's condition come out differently.
    assert not torch.allclose(out[0], norm(x_BLD[:1], c_BC[1:])[0])


def test_a_conditioned_layer_refuses_to_run_without_its_condition_and_vice_versa():
    conditioned = TransformerLayer(8, 2, 16, 3, 0.0, condition_dim=8)
    plain = TransformerLayer(8, 2, 16, 3, 0.0)
    x, mask = torch.randn(1, 4, 8), torch.ones(1, 4, dtype=torch.bool)
    with pytest.raises(ValueError, match="needs its condition"):
        conditioned(x, mask)
    with pytest.raises(ValueError, match="takes none"):
        plain(x, mask, torch.randn(1, 8))


def test_the_decoder_hears_the_speaker_in_every_layer_and_learns_how(make_model, make_batch):
    model, batch = make_model(), make_batch(LENGTHS)
    blocks = dict(model.named_blocks())
    record = AcousticRecord()
    for name, block in model.named_blocks():
        if name == "decoder.0":
            break
        record = block(record, batch)
    assert record.speaker_h is not None
    # Same frames, another speaker: a decoder layer alone now changes its output once trained.
    layer = blocks["decoder.0"].layer
    torch.nn.init.normal_(layer.norm_attn.to_scale_shift.weight, std=0.1)
    other = replace(record, speaker_h=record.speaker_h.roll(1, dims=0))
    assert not torch.allclose(blocks["decoder.0"](record, batch).frame_h, blocks["decoder.0"](other, batch).frame_h)
    # The zero-initialized projections get gradients from the first step.
    model(batch).total_loss().backward()
    for name in ("decoder.0", "decoder.1"):
        grads = blocks[name].layer.norm_ffn.to_scale_shift.weight.grad
        assert grads is not None and grads.abs().sum() > 0


def test_voices_from_before_keep_the_plain_decoder(make_model, make_batch):
    # A voice's config.json written before the setting existed has no such key: it loads as False.
    old = {k: v for k, v in preset("tiny").to_dict().items() if k != "decoder_speaker_norm"}
    assert AcousticConfig.from_dict(old).decoder_speaker_norm is False
    model, batch = make_model(decoder_speaker_norm=False), make_batch(LENGTHS)
    assert not any("to_scale_shift" in key for key in model.state_dict())
    record = model(batch)
    assert record.speaker_h is None  # the plain decoder never needs it: pipeline stages after `duration` do not carry it
    assert all(preset(name).decoder_speaker_norm for name in preset_names())
