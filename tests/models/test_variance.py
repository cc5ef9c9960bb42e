"""The variance block: per-frame pitch (per-speaker normalized) and energy, predicted and told to the
decoder; the postnet; pitch shift and energy scale at inference; voices from before load."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from acoustic_fixtures import PAD_VALUE, small_config

from vclone.data.features import frame_energy
from vclone.models.acoustic import AcousticConfig, ModelDims, build_acoustic_model, preset
from vclone.models.acoustic.batch import UtteranceTensors, collate
from vclone.models.acoustic.variance import ENERGY_BINS, PITCH_BINS, energy_buckets, pitch_buckets

LENGTHS = [(5, 17), (7, 23), (3, 8)]


def _contour_batch(g: torch.Generator):
    """Two phone sets: a text of phones 3-5 rises in pitch, a text of phones 6-8 falls, both around one
    speaker's 150 Hz (plus a fifth of the frames unvoiced at fixed places)."""
    items = []
    for i in range(6):
        rising = i % 2 == 0
        phones = torch.randint(3, 6, (6,), generator=g) if rising else torch.randint(6, 9, (6,), generator=g)
        frames = 30
        mel = torch.randn(frames, 12, generator=g) * 0.1 - 5.0
        t = torch.linspace(-1.0, 1.0, frames)
        pitch = math.log(150.0) + (0.3 if rising else -0.3) * t
        voiced = torch.ones(frames, dtype=torch.bool)
        voiced[::5] = False
        items.append(UtteranceTensors(f"u{i}", phones, mel, speaker_id=0, language_id=0, pitch=pitch * voiced,
                                      energy=frame_energy(mel), pitch_stats=torch.tensor([math.log(150.0), 0.2])))
    return collate(items, mel_pad_value=PAD_VALUE)


@pytest.mark.slow
def test_overfit_pitch_follows_rising_and_falling_targets():
    torch.manual_seed(0)
    batch = _contour_batch(torch.Generator().manual_seed(0))
    model = build_acoustic_model(small_config(dropout=0.0), ModelDims(num_phones=10, num_languages=1, num_speakers=1, n_mels=12))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = model(batch).losses["pitch"].item()
    for _ in range(150):
        record = model(batch)
        optimizer.zero_grad()
        record.total_loss().backward()
        optimizer.step()
    model.eval()
    trained = model(batch)
    assert trained.losses["pitch"].item() < 0.2 * first
    assert trained.losses["voicing"].item() < 0.4
    inferred = model.infer(batch)
    for i in range(batch.size):
        frames = int(inferred.frame_lengths[i])
        f0 = inferred.frame_pitch[i, :frames]
        voiced = f0 > 0
        assert voiced.float().mean() > 0.5
        positions = torch.arange(frames, dtype=torch.float32)[voiced]
        slope = torch.corrcoef(torch.stack([positions, f0[voiced]]))[0, 1]
        assert (slope > 0.5) if i % 2 == 0 else (slope < -0.5), (i, float(slope))
        assert math.exp(float(f0[voiced].median())) == pytest.approx(150.0, rel=0.15)


def test_pitch_shift_and_energy_scale_move_the_prediction_exactly(make_model, make_batch):
    model, batch = make_model(), make_batch(LENGTHS)
    base = model.infer(batch)
    shifted = model.infer(replace(batch, pitch_shift=12.0, energy_scale=2.0))
    voiced = base.frame_pitch > 0
    assert voiced.any()
    torch.testing.assert_close((shifted.frame_pitch - base.frame_pitch)[voiced], torch.full((int(voiced.sum()),), math.log(2.0)))
    mask = torch.arange(base.frame_energy.shape[1])[None] < base.frame_lengths[:, None]
    torch.testing.assert_close((shifted.frame_energy - base.frame_energy)[mask], torch.full((int(mask.sum()),), math.log(2.0)))
    assert not torch.allclose(shifted.mel_pred, base.mel_pred)  # the decoder hears it


def test_a_measured_register_replaces_the_predicted_one(make_model, make_batch):
    model, batch = make_model(), make_batch(LENGTHS)
    low = model.infer(replace(batch, pitch_stats=torch.tensor([[math.log(100.0), 0.2]] * batch.size)))
    high = model.infer(replace(batch, pitch_stats=torch.tensor([[math.log(200.0), 0.2]] * batch.size)))
    voiced = low.frame_pitch > 0
    torch.testing.assert_close((high.frame_pitch - low.frame_pitch)[voiced], torch.full((int(voiced.sum()),), math.log(2.0)))


def test_postnet_starts_as_identity_and_learns(make_model, make_batch):
    batch = make_batch(LENGTHS)
    with_postnet = make_model(postnet_layers=5, postnet_dim=16)
    record = with_postnet(batch)
    assert set(record.losses) >= {"mel", "mel_post"}
    torch.testing.assert_close(record.losses["mel_post"], record.losses["mel"])  # zero-initialized residual
    record.total_loss().backward()
    last = dict(with_postnet.named_blocks())["postnet"].convs[-1]
    assert last.weight.grad is not None and last.weight.grad.abs().sum() > 0


def test_voices_from_before_have_neither_block():
    old = {k: v for k, v in preset("tiny").to_dict().items() if k not in ("pitch_energy", "variance_predictor_dim", "pitch_loss_weight",
                                                                        "energy_loss_weight", "postnet_layers", "postnet_dim")}
    config = AcousticConfig.from_dict(old)
    assert config.pitch_energy is False and config.postnet_layers == 0
    model = build_acoustic_model(config, ModelDims(num_phones=10, num_languages=1, num_speakers=2, n_mels=80))
    names = [name for name, _ in model.named_blocks()]
    assert "variance" not in names and "postnet" not in names


def test_pitch_and_energy_buckets():
    log_f0 = torch.tensor([[math.log(50.0), math.log(1000.0), math.log(2000.0), math.log(150.0)]])
    voiced = torch.tensor([[True, True, True, False]])
    assert pitch_buckets(log_f0, voiced).tolist() == [[1, PITCH_BINS - 1, PITCH_BINS - 1, 0]]
    assert energy_buckets(torch.tensor([[-9.0, 0.0, 3.0]])).tolist() == [[0, 128, ENERGY_BINS - 1]]


def test_voices_from_before_the_bucketed_embedding_keep_the_convolution():
    old = {k: v for k, v in preset("tiny").to_dict().items() if k != "pitch_embedding"}
    assert AcousticConfig.from_dict(old).pitch_embedding == "conv"
    assert all(preset(name).pitch_embedding == "bucket" for name in ("tiny", "small", "base", "deep"))
