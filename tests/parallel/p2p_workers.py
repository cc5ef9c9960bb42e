"""Worker of test_p2p: rank 0 sends the records, rank 1 receives them (with or without posting
headers ahead) and returns what arrived."""

from __future__ import annotations

import torch

from vclone.parallel.config import PipelineConfig
from vclone.parallel.context import close_context, init_context
from vclone.parallel.p2p import ACTIVATIONS, GRADIENTS, Channel


def records() -> list[dict[str, torch.Tensor]]:
    """Maps whose shapes, dtypes and field sets change from one record to the next."""
    g = torch.Generator().manual_seed(0)
    return [
        {"h": torch.randn(2, 7, 5, generator=g), "mask": torch.rand(2, 7, generator=g) > 0.5, "lengths": torch.tensor([7, 4])},
        {"h": torch.randn(3, 11, 5, generator=g), "mask": torch.rand(3, 11, generator=g) > 0.5, "lengths": torch.tensor([11, 9, 2])},
        {"h": torch.randn(1, 2, 5, generator=g)},
        {"half": torch.randn(3, 3, generator=g).half(), "bf16": torch.randn(5, generator=g).bfloat16(), "scalar": torch.tensor(2.5),
         "empty": torch.zeros(0, 4), "odd": torch.arange(3, dtype=torch.uint8), "i32": torch.arange(-3, 4, dtype=torch.int32)},
        {},
        {"h": torch.randn(2, 7, 5, generator=g)[:, ::2]},  # not contiguous
    ]


def p2p_worker(ahead: bool) -> list[dict[str, torch.Tensor]] | None:
    """`ahead` False is the NCCL path (headers received on demand; `expect` posts nothing)."""
    ctx = init_context(PipelineConfig(num_stages=2, timeout_s=30), device="cpu")
    try:
        channel = Channel(device=ctx.device, timeout_s=30, post_ahead=ahead)
        sent = records()
        if ctx.rank == 0:
            for i, record in enumerate(sent):
                channel.send(record, to=1, tag=ACTIVATIONS)
                channel.send({"i": torch.tensor(i)}, to=1, tag=GRADIENTS)  # interleaved on another tag
            channel.flush()
            return None
        channel.expect(len(sent), src=0, tag=ACTIVATIONS)
        got = []
        for i in range(len(sent)):
            got.append(channel.recv(src=0, tag=ACTIVATIONS, what=f"record {i}"))
            assert int(channel.recv(src=0, tag=GRADIENTS, what=f"index {i}")["i"]) == i
        return got
    finally:
        close_context()


def stepped_worker(ahead: bool) -> dict | None:
    """As the stage runner uses a channel: `begin_step` on both ends before each step's records.
    Steps of one fixed-size record, then a larger one, then a smaller one, then fixed again; the
    sender reports how many messages each step took."""
    ctx = init_context(PipelineConfig(num_stages=2, timeout_s=30), device="cpu")
    g = torch.Generator().manual_seed(1)
    steps = [[{"h": torch.randn(4, 6, generator=g)}, {"h": torch.randn(4, 6, generator=g)}] for _ in range(3)]
    steps += [[{"h": torch.randn(9, 6, generator=g), "m": torch.ones(9, dtype=torch.bool)}], [{"h": torch.randn(2, 6, generator=g)}],
              [{"h": torch.randn(4, 6, generator=g)}, {}]]
    try:
        channel = Channel(device=ctx.device, timeout_s=30, post_ahead=ahead)
        if ctx.rank == 0:
            counts = []
            for records in steps:
                channel.begin_step()
                before = channel.messages_sent
                for record in records:
                    channel.send(record, to=1, tag=ACTIVATIONS)
                counts.append(channel.messages_sent - before)
                channel.flush()
            return {"messages": counts}
        got = []
        for i, records in enumerate(steps):
            channel.begin_step()
            channel.expect(len(records), src=0, tag=ACTIVATIONS)
            got.append([channel.recv(src=0, tag=ACTIVATIONS, what=f"step {i}") for _ in records])
        addresses = [t.data_ptr() for step in got for record in step for t in record.values() if t.numel()]
        return {"got": got, "sent": steps, "addresses": addresses}
    finally:
        close_context()


def storage_worker(ahead: bool) -> dict | None:
    """One large record per step (apart on step 1, then in one message), then a short one; the
    receiver reports each received tensor's storage size (a view keeps its whole buffer)."""
    ctx = init_context(PipelineConfig(num_stages=2, timeout_s=30), device="cpu")
    g = torch.Generator().manual_seed(2)
    steps = [{"h": torch.randn(1000, 6, generator=g)}, {"h": torch.randn(1000, 6, generator=g)}, {"h": torch.randn(10, 6, generator=g)}]
    try:
        channel = Channel(device=ctx.device, timeout_s=30, post_ahead=ahead)
        got, storage = [], []
        for i, record in enumerate(steps):
            channel.begin_step()
            if ctx.rank == 0:
                channel.send(record, to=1, tag=ACTIVATIONS)
                channel.flush()
                continue
            channel.expect(1, src=0, tag=ACTIVATIONS)
            received = channel.recv(src=0, tag=ACTIVATIONS, what=f"step {i}")
            got.append(torch.equal(received["h"], record["h"]))
            storage.append(received["h"].untyped_storage().nbytes())
        return {"equal": got, "storage": storage} if ctx.rank == 1 else None
    finally:
        close_context()
