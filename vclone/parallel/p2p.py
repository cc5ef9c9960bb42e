"""Point-to-point transfer of named tensors between stages, each message carrying its own shapes.

A record travels as two messages: a fixed-size header (its byte length, then JSON naming every
tensor's dtype, shape and byte offset) and one payload with all tensors' bytes packed together.
Because every record describes itself, a micro-batch longer or shorter than the last one is received
into a buffer of its own size (torch's pipelining fixes shapes at the first step). The receiver
posts the headers of a step's records ahead of time (`expect`), so only the payload's transfer is
left on the critical path: one message per record, as in torch's pipelining, however many tensors
it holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist

from vclone.parallel.context import PipelineError

__all__ = ["Channel", "ACTIVATIONS", "GRADIENTS", "HEADER_BYTES"]

ACTIVATIONS = 1
"""Tag of forward messages (stage s -> s+1)."""
GRADIENTS = 2
"""Tag of backward messages (stage s+1 -> s)."""
HEADER_BYTES = 4096
"""Size of the header message: 8 bytes of JSON length, then the JSON (records name a few tensors)."""
_ALIGN = 16
_PAYLOAD_TAG = 100
"""Payloads travel under tag + _PAYLOAD_TAG, so that headers posted ahead never match a payload."""

_DTYPES = {str(d): d for d in (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32, torch.uint8, torch.bool)}


def _pack(items: list[tuple[str, torch.Tensor]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(header, payload) for the named tensors; offsets are aligned so every slice views cleanly."""
    specs, chunks, offset = [], [], 0
    for name, t in items:
        raw = t.detach().contiguous().reshape(-1).view(torch.uint8)
        specs.append([name, str(t.dtype), list(t.shape), offset])
        pad = (-raw.numel()) % _ALIGN
        chunks.append(raw)
        if pad:
            chunks.append(torch.zeros(pad, dtype=torch.uint8, device=raw.device))
        offset += raw.numel() + pad
    text = json.dumps({"tensors": specs, "payload": offset}).encode("utf-8")
    if len(text) > HEADER_BYTES - 8:
        raise PipelineError(f"a record of {len(items)} tensors needs a {len(text)}-byte header, over {HEADER_BYTES - 8}; send fewer fields")
    header = torch.zeros(HEADER_BYTES, dtype=torch.uint8)
    header[:8] = torch.tensor([len(text)], dtype=torch.int64).view(torch.uint8)
    header[8: 8 + len(text)] = torch.frombuffer(bytearray(text), dtype=torch.uint8)
    payload = torch.cat(chunks).to(device) if chunks else torch.zeros(0, dtype=torch.uint8, device=device)
    return header.to(device), payload


def _matches_tags() -> bool:
    return dist.is_initialized() and dist.get_backend() == "gloo"


@dataclass
class Channel:
    """Sends and receives named tensor maps with peers. Sends are asynchronous: each message is
    kept alive until its delivery is seen (pruned on every send, all awaited by `flush`)."""

    device: torch.device
    timeout_s: float
    post_ahead: bool = field(default_factory=lambda: _matches_tags())
    """Whether `expect` posts header receives ahead (gloo); off, every header is received on demand."""
    _pending: list[tuple[object, torch.Tensor]] = field(default_factory=list)
    _headers: dict[tuple[int, int], list[tuple[object, torch.Tensor]]] = field(default_factory=dict)
    """Header receives posted ahead of need, per (src, tag), oldest first."""

    def expect(self, count: int, *, src: int, tag: int) -> None:
        """Post the header receives of the next `count` maps from `src` now, so that each header's
        transfer overlaps computation and only the payload waits when `recv` is called. Only where
        messages are matched by tag (gloo); NCCL matches a pair's messages in order, ignoring tags,
        so there a header posted ahead would catch a payload: nothing is posted early."""
        if not self.post_ahead:
            return
        self._headers.setdefault((src, tag), []).extend(self._post_header(src, tag) for _ in range(count))

    def send(self, tensors: dict[str, torch.Tensor], *, to: int, tag: int) -> None:
        """Post the map to rank `to` without waiting for it to be received."""
        self._pending = [(w, t) for w, t in self._pending if not w.is_completed()]  # type: ignore[attr-defined]
        header, payload = _pack(list(tensors.items()), self.device)
        self._pending.append((dist.isend(header, dst=to, tag=tag), header))
        if payload.numel() > 0:
            self._pending.append((dist.isend(payload, dst=to, tag=tag + _PAYLOAD_TAG), payload))

    def recv(self, *, src: int, tag: int, what: str) -> dict[str, torch.Tensor]:
        """Wait for the next map from rank `src`; `what` names it in errors."""
        queue = self._headers.get((src, tag))
        work, header = queue.pop(0) if queue else self._post_header(src, tag)
        self._wait(work, src, what)
        header = header.cpu()
        try:
            length = int(header[:8].view(torch.int64).item())
            meta = json.loads(bytes(header[8: 8 + length].tolist()).decode("utf-8"))
            specs = [(name, _DTYPES[dtype], tuple(shape), int(offset)) for name, dtype, shape, offset in meta["tensors"]]
            size = int(meta["payload"])
        except (ValueError, KeyError, TypeError, RuntimeError) as err:
            raise PipelineError(f"rank {src} sent a malformed header for {what} ({err})") from None
        payload = torch.empty(size, dtype=torch.uint8, device=self.device)
        if size > 0:
            self._wait(dist.irecv(payload, src=src, tag=tag + _PAYLOAD_TAG), src, what)
        out: dict[str, torch.Tensor] = {}
        for name, dtype, shape, offset in specs:
            nbytes = torch.Size(shape).numel() * dtype.itemsize
            out[name] = payload[offset: offset + nbytes].view(dtype).reshape(shape).clone()
        return out

    def _post_header(self, src: int, tag: int) -> tuple[object, torch.Tensor]:
        header = torch.empty(HEADER_BYTES, dtype=torch.uint8, device=self.device)
        return dist.irecv(header, src=src, tag=tag), header

    def flush(self) -> None:
        """Wait until every posted send has been delivered."""
        pending, self._pending = self._pending, []
        for work, _ in pending:
            self._wait(work, None, "a sent message")

    def _wait(self, work: object, src: int | None, what: str) -> None:
        peer = f"rank {src}" if src is not None else "a peer"
        try:
            ok = work.wait(timeout=timedelta(seconds=self.timeout_s))  # type: ignore[attr-defined]
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            if "timed out" not in first.lower():
                raise PipelineError(f"waiting for {what} from {peer} failed: {first} (did that worker die?)") from None
            ok = False
        if ok is False:
            raise PipelineError(f"{peer} sent no {what} within {self.timeout_s:g} s; it is stuck or dead (raise --timeout if steps are that slow)")
