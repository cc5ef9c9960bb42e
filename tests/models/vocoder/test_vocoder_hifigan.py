"""HiFi-GAN generator: shapes, named blocks, config checks, and weight-norm folding that changes nothing."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.parametrizations import weight_norm

from vclone.errors import ConfigError
from vclone.models.vocoder.config import build_generator, vocoder_preset
from vclone.models.vocoder.hifigan import HifiganConfig, HifiganGenerator
from vclone.models.vocoder.universal import fold_weight_norm, rename_universal_keys

TINY = HifiganConfig(n_mels=80, upsample_initial_channel=16, upsample_rates=(8, 8, 4), upsample_kernel_sizes=(16, 16, 8),
                     resblock_kernel_sizes=(3, 5), resblock_dilation_sizes=((1, 3), (1, 2)))


@pytest.mark.parametrize("frames", [1, 2, 17])
def test_output_has_hop_samples_per_frame(frames: int) -> None:
    generator = HifiganGenerator(TINY).eval()
    wav = generator(torch.randn(2, frames, 80))
    assert wav.shape == (2, frames * 256) and wav.dtype == torch.float32
    assert bool(wav.abs().max() <= 1.0)


def test_zero_frames_and_wrong_bands_are_refused() -> None:
    generator = HifiganGenerator(TINY)
    with pytest.raises(ValueError, match="0 frames"):
        generator(torch.zeros(1, 0, 80))
    with pytest.raises(ValueError, match="log-mel"):
        generator(torch.zeros(1, 10, 40))


def test_blocks_in_order_are_forward() -> None:
    generator = HifiganGenerator(TINY).eval()
    mel = torch.randn(1, 5, 80)
    x = mel
    names = []
    for name, block in generator.blocks():
        names.append(name)
        x = block(x)
    assert names == ["pre", "up.0", "up.1", "up.2", "post"]
    torch.testing.assert_close(x, generator(mel))


def test_batch_items_do_not_leak_into_each_other() -> None:
    generator = HifiganGenerator(TINY).eval()
    mel = torch.randn(2, 9, 80)
    other = mel.clone()
    other[1] = torch.randn(9, 80)
    torch.testing.assert_close(generator(mel)[0], generator(other)[0])


def test_weight_norm_round_trip_leaves_outputs_unchanged() -> None:
    generator = HifiganGenerator(TINY).eval()
    mel = torch.randn(1, 6, 80)
    before = generator(mel)
    generator.apply_weight_norm()
    keys = list(generator.state_dict())
    assert any("parametrizations.weight.original0" in k for k in keys)
    torch.testing.assert_close(generator(mel), before, rtol=1e-5, atol=1e-6)
    generator.fold_weight_norm()
    assert not any("parametrizations" in k for k in generator.state_dict())
    torch.testing.assert_close(generator(mel), before, rtol=1e-5, atol=1e-6)


def test_folding_stored_g_and_v_matches_torch_weight_norm() -> None:
    torch.manual_seed(0)
    conv, deconv = torch.nn.Conv1d(4, 6, 3), torch.nn.ConvTranspose1d(6, 4, 4, stride=2)
    x = torch.randn(1, 4, 11)
    for module in (conv, deconv):
        weight_norm(module)
        with torch.no_grad():  # a g that is not the norm of v, as after training
            module.parametrizations.weight.original0.mul_(torch.rand_like(module.parametrizations.weight.original0) + 0.5)
    stored = {
        "a.weight_g": conv.parametrizations.weight.original0, "a.weight_v": conv.parametrizations.weight.original1, "a.bias": conv.bias,
        "b.weight_g": deconv.parametrizations.weight.original0, "b.weight_v": deconv.parametrizations.weight.original1, "b.bias": deconv.bias,
    }
    folded = fold_weight_norm({k: v.detach() for k, v in stored.items()})
    assert set(folded) == {"a.weight", "a.bias", "b.weight", "b.bias"}
    plain_conv, plain_deconv = torch.nn.Conv1d(4, 6, 3), torch.nn.ConvTranspose1d(6, 4, 4, stride=2)
    plain_conv.load_state_dict({"weight": folded["a.weight"], "bias": folded["a.bias"]})
    plain_deconv.load_state_dict({"weight": folded["b.weight"], "bias": folded["b.bias"]})
    with torch.no_grad():
        torch.testing.assert_close(plain_conv(x), conv(x))
        torch.testing.assert_close(plain_deconv(conv(x)), deconv(conv(x)))


def test_published_key_names_map_onto_the_generator() -> None:
    config = HifiganConfig()
    published = {"conv_pre.weight": 0, "conv_pre.bias": 0, "ups.1.weight": 0, "resblocks.4.convs1.2.bias": 0,
                 "resblocks.11.convs2.0.weight": 0, "conv_post.weight": 0}
    renamed = rename_universal_keys({k: torch.zeros(1) for k in published}, config)
    assert set(renamed) == {"pre.conv.weight", "pre.conv.bias", "ups.1.upsample.weight", "ups.1.resblocks.1.convs1.2.bias",
                            "ups.3.resblocks.2.convs2.0.weight", "post.conv.weight"}
    generator_keys = set(HifiganGenerator(config).state_dict())
    assert renamed.keys() <= generator_keys


@pytest.mark.parametrize(("settings", "message"), [
    ({"upsample_rates": (8, 8), "upsample_kernel_sizes": (16,)}, "one kernel per upsample rate"),
    ({"upsample_kernel_sizes": (16, 15, 4, 4)}, "does not fit rate"),
    ({"resblock_kernel_sizes": (3, 4, 11)}, "must be odd"),
    ({"upsample_initial_channel": 100}, "divisible"),
])
def test_bad_settings_name_the_rule(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        HifiganConfig(**settings)


def test_presets_build_and_round_trip_through_json() -> None:
    kind, settings = vocoder_preset("tiny")
    generator = build_generator(kind, settings)
    assert isinstance(generator, HifiganGenerator) and generator.hop_length == 256
    assert HifiganConfig.from_dict(settings) == generator.config
    _, universal = vocoder_preset("universal")
    assert sum(p.numel() for p in build_generator("hifigan", universal).parameters()) == 13_926_017
    with pytest.raises(ConfigError, match="unknown vocoder preset"):
        vocoder_preset("wavenet")
