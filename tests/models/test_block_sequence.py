"""BlockSequence: dotted block names, order, slices, and name clashes."""

from __future__ import annotations

import pytest
import torch

from vclone.models.acoustic.batch import Batch
from vclone.models.blocks import Block, BlockSequence
from vclone.models.record import AcousticRecord


class AddOne(Block):
    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:
        return AcousticRecord(phone_h=x.phone_h * self.scale + 1)


def test_dotted_names_keep_order_and_key_the_state_dict():
    seq = BlockSequence([("embed", AddOne()), ("encoder.0", AddOne()), ("encoder.1", AddOne()), ("head", AddOne())])
    assert seq.names() == ["embed", "encoder.0", "encoder.1", "head"] and len(seq) == 4
    assert [name for name, _ in seq.slice(1, 3)] == ["encoder.0", "encoder.1"]
    assert seq.block("encoder.1") is dict(seq)["encoder.1"]
    assert sorted(seq.state_dict()) == [f"blocks.{n}.scale" for n in ["embed", "encoder.0", "encoder.1", "head"]]
    out = seq(batch=None, x=AcousticRecord(phone_h=torch.zeros(1)))  # type: ignore[arg-type]
    assert out.phone_h.item() == 4.0


@pytest.mark.parametrize(
    "names", [["encoder", "encoder.0"], ["encoder.0", "encoder"], ["a", "a"]], ids=["block-then-group", "group-then-block", "duplicate"]
)
def test_clashing_names_are_refused(names):
    with pytest.raises(ValueError):
        BlockSequence([(name, AddOne()) for name in names])
