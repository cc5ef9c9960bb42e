"""Discriminators: period folding against a literal table, every family's outputs, presets and bad settings."""

from __future__ import annotations

import pytest
import torch

from vclone.errors import ConfigError
from vclone.models.vocoder.discriminator_families import fold_by_period
from vclone.models.vocoder.discriminators import DiscriminatorConfig, Discriminators, discriminator_preset


def test_period_folding_puts_sample_i_p_plus_j_at_row_i_column_j() -> None:
    wav = torch.arange(7.0)[None]
    folded = fold_by_period(wav, 3)
    # 7 samples padded by reflection to 9: ... 5, 6, then 5, 4.
    assert folded.tolist() == [[[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 5.0, 4.0]]]]


@pytest.mark.parametrize("samples", [4096, 4096 + 37])
def test_every_family_judges_every_item(samples: int) -> None:
    config = DiscriminatorConfig(periods=(2, 5), period_channels=(4, 8), num_scales=2, scale_channels=(4, 4, 8, 8, 8, 8, 8),
                                 scale_groups=(1, 2, 2, 2, 2, 2, 1), resolutions=((512, 128, 512),), resolution_channels=(4, 4))
    disc = Discriminators(config)
    outputs = disc(torch.randn(3, samples))
    assert [o.name for o in outputs] == ["mpd_p2", "mpd_p5", "msd_s0", "msd_s1", "mrd_512_128_512"]
    for output in outputs:
        assert output.logits.dim() == 2 and output.logits.shape[0] == 3 and output.features
        assert all(f.shape[0] == 3 for f in output.features)


def test_items_do_not_leak_into_each_other() -> None:
    disc = Discriminators(discriminator_preset("tiny")).eval()
    wav = torch.randn(2, 4096)
    changed = wav.clone()
    changed[1] = torch.randn(4096)
    for a, b in zip(disc(wav), disc(changed)):
        torch.testing.assert_close(a.logits[0], b.logits[0])


def test_presets_and_their_sizes() -> None:
    sizes = {name: sum(p.numel() for p in Discriminators(discriminator_preset(name)).parameters()) for name in ("hifigan", "light", "tiny")}
    assert sizes["hifigan"] > 10 * sizes["light"] > 10 * sizes["tiny"]
    with pytest.raises(ConfigError, match="unknown discriminator preset"):
        discriminator_preset("huge")


@pytest.mark.parametrize(("settings", "message"), [
    ({"periods": (), "num_scales": 0, "resolutions": ()}, "enables no discriminator"),
    ({"periods": (2, 2)}, "repeats 2"),
    ({"periods": (1,)}, "periods"),
    ({"period_kernel_size": 4}, "must be odd"),
])
def test_bad_settings_name_the_rule(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DiscriminatorConfig(**settings)
