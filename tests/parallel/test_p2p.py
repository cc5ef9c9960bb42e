"""Point-to-point records: every record arrives whole, with its own shapes and dtypes, in order."""

from __future__ import annotations

import pytest
import torch
from p2p_workers import p2p_worker, records, stepped_worker, storage_worker

from vclone.parallel.errors import PipelineError
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
    items = [("a", torch.ones(3)), ("b", torch.ones(2, dtype=torch.float64)), ("c", torch.ones(5, dtype=torch.bool))]
    header, payload = _pack(items, torch.device("cpu"))
    assert header.numel() == HEADER_BYTES and header.dtype == torch.uint8
    assert payload is not None and payload.numel() == 3 * 64  # 12, 16 and 5 bytes, each padded to a 64-byte line
    # With room for it, the payload rides in the same message, zero-padded to the link's size.
    exact, none = _pack(items, torch.device("cpu"), HEADER_BYTES + 192)
    assert none is None and exact.numel() == HEADER_BYTES + 192 and torch.equal(exact[HEADER_BYTES:], payload)
    roomy, _ = _pack(items, torch.device("cpu"), HEADER_BYTES + 250)
    assert roomy.numel() == HEADER_BYTES + 250 and not roomy[HEADER_BYTES + 192:].any()
    # Too small a link: the header alone, padded to the link's size, and the payload apart.
    apart, rest = _pack(items, torch.device("cpu"), HEADER_BYTES + 150)
    assert apart.numel() == HEADER_BYTES + 150 and rest is not None and torch.equal(rest, payload)


@pytest.mark.distributed
@pytest.mark.parametrize("ahead", [False, True], ids=["posted-on-demand", "posted-ahead"])
def test_records_that_fit_the_link_travel_as_one_message(ahead: bool) -> None:
    results = launch_local(stepped_worker, ahead, world_size=2)
    # Step 1 learns the size (header, then payload); steps 2-3 one message per record; the larger
    # record of step 4 goes in two; steps 5 and 6 fit what the link has carried.
    assert results[0]["messages"] == [4, 2, 2, 2, 1, 2]
    # every received tensor starts on a cache line (a view of its message, or a copy)
    assert all(address % 64 == 0 for address in results[1]["addresses"]), results[1]["addresses"]
    for got, sent in zip(results[1]["got"], results[1]["sent"]):
        for received, record in zip(got, sent):
            assert list(received) == list(record)
            assert all(torch.equal(received[name], tensor) for name, tensor in record.items())


@pytest.mark.distributed
@pytest.mark.parametrize("ahead", [False, True], ids=["posted-on-demand", "posted-ahead"])
def test_received_tensors_view_their_buffer_unless_it_is_mostly_padding(ahead: bool) -> None:
    result = launch_local(storage_worker, ahead, world_size=2)[1]
    assert result["equal"] == [True, True, True]
    # Step 1: the payload apart, viewed (24000 bytes); step 2: one message, viewed (header + payload);
    # step 3: 240 bytes in a 28096-byte message: copied, so the long buffer is not kept alive.
    assert result["storage"] == [24000, HEADER_BYTES + 24000, 240]


def test_a_record_too_big_for_the_header_is_refused() -> None:
    many = [(f"field_{i:04d}_with_a_long_name", torch.zeros(1, 2, 3)) for i in range(200)]
    with pytest.raises(PipelineError, match="header"):
        _pack(many, torch.device("cpu"))
