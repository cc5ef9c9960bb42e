"""The vocoder's own pipeline record and segment batch: what the engine sends and splits."""

from __future__ import annotations

import pytest
import torch

from vclone.audio import AudioConfig
from vclone.models.vocoder.config import build_generator, vocoder_preset
from vclone.models.vocoder.pipeline import VocoderPipelineModel, VocoderRecord, segment_batch


def test_record_round_trips_its_tensor_and_losses() -> None:
    record = VocoderRecord(h=torch.randn(2, 3, 4), losses={"mel": torch.tensor(1.5)})
    again = VocoderRecord.from_tensors(record.tensors())
    assert torch.equal(again.h, record.h) and again.losses == record.losses
    assert VocoderRecord.from_tensors({}).h is None
    with pytest.raises(ValueError, match="frame_h"):
        VocoderRecord.from_tensors({"frame_h": torch.zeros(1)})


def test_micro_batches_keep_the_mini_batch_segment_count() -> None:
    batch = segment_batch(torch.randn(5, 8, 80), audio_BS=torch.randn(5, 8 * 256), audio_mel_BFM=torch.randn(5, 8, 80))
    micro = batch.select(1, 3)
    assert micro.size == 2 and micro.num_segments == 5 and micro.ids == ("segment1", "segment2")
    assert torch.equal(micro.audio, batch.audio[1:3]) and torch.equal(micro.audio_mel, batch.audio_mel[1:3])
    with pytest.raises(ValueError, match="one id per segment"):
        segment_batch(torch.randn(2, 8, 80), ids=("a",))


def test_micro_batch_losses_add_up_to_the_mini_batch_loss() -> None:
    torch.manual_seed(0)
    kind, settings = vocoder_preset("tiny")
    model = VocoderPipelineModel(build_generator(kind, settings), audio=AudioConfig(), mel_weight=45.0)
    batch = segment_batch(torch.randn(5, 6, 80) - 6.0)
    with torch.no_grad():
        whole = model(batch).losses["mel"]
        parts = model(batch.select(0, 3)).losses["mel"] + model(batch.select(3, 5)).losses["mel"]
    assert float(parts) == pytest.approx(float(whole), rel=1e-5)
    # Checkpoints keep their names: blocks.blocks.<block>.inner.<param>.
    assert all(k.startswith("blocks.blocks.") and ".inner." in k for k in model.state_dict())
