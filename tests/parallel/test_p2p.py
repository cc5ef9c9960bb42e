"""Point-to-point records: every record arrives whole, with its own shapes and dtypes, in order."""

from __future__ import annotations

import pytest
import torch
from p2p_workers import p2p_worker, records

from vclone.parallel.context import PipelineError
from vclone.parallel.launch import launch_local
from vclone.parallel.p2p import HEADER_BYTES, _pack


@pytest.mark.distributed
@pytest.mark.parametrize("ahead", [False, True], ids=["posted-on-demand", "headers-posted-ahead"])
def test_records_of_changing_shapes_and_dtypes_arrive_exactly(ahead: bool) -> None:
    got = launch_local(p2p_worker, ahead, world_size=2)[1]
    want = records()
    assert len(got) == len(want)
    for received, sent in zip(got, want):
        assert list(received) == list(sent)
        for name, tensor in sent.items():
            assert received[name].dtype == tensor.dtype and received[name].shape == tensor.shape, name
            assert torch.equal(received[name], tensor), name


def test_pack_aligns_every_tensor_and_describes_it_in_the_header() -> None:
    header, payload = _pack([("a", torch.ones(3)), ("b", torch.ones(2, dtype=torch.float64)), ("c", torch.ones(5, dtype=torch.bool))], torch.device("cpu"))
    assert header.numel() == HEADER_BYTES and header.dtype == torch.uint8
    assert payload.numel() == 16 + 16 + 16  # 12, 16 and 5 bytes, each padded to 16


def test_a_record_too_big_for_the_header_is_refused() -> None:
    many = [(f"field_{i:04d}_with_a_long_name", torch.zeros(1, 2, 3)) for i in range(200)]
    with pytest.raises(PipelineError, match="header"):
        _pack(many, torch.device("cpu"))
