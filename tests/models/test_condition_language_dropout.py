"""condition_language_dropout: in training the condition block sometimes hides the language; never at inference."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from acoustic_fixtures import small_config

from vclone.errors import ConfigError
from vclone.models.acoustic.condition import ConditionBlock
from vclone.models.acoustic.config import ModelDims
from vclone.models.record import AcousticRecord


def _block(p: float) -> ConditionBlock:
    torch.manual_seed(0)
    return ConditionBlock(config=small_config(condition_language_dropout=p), dims=ModelDims(num_phones=12, num_languages=3, num_speakers=2, n_mels=10))


def _outputs(block: ConditionBlock, make_batch, language: int) -> torch.Tensor:
    batch = make_batch([(5, 7), (4, 6)])
    batch = replace(batch, language_ids=torch.full_like(batch.language_ids, language))
    torch.manual_seed(1)
    record = AcousticRecord(phone_h=torch.randn(2, batch.phone_ids.shape[1], 32), speaker_h=torch.randn(2, 32))
    return block(record, batch).phone_h


def test_hidden_language_makes_languages_alike_in_training_only(make_batch) -> None:
    always = _block(1.0)
    assert torch.allclose(_outputs(always, make_batch, 0), _outputs(always, make_batch, 2))
    always.eval()
    assert not torch.allclose(_outputs(always, make_batch, 0), _outputs(always, make_batch, 2))
    never = _block(0.0)
    assert not torch.allclose(_outputs(never, make_batch, 0), _outputs(never, make_batch, 2))
    # At inference the setting changes nothing.
    assert torch.equal(_outputs(always, make_batch, 1), _outputs(_block(0.0).eval(), make_batch, 1))


def test_rate_is_checked() -> None:
    with pytest.raises(ConfigError, match="condition_language_dropout"):
        small_config(condition_language_dropout=1.5)
