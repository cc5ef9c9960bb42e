"""Point-to-point transfer of named tensors between stages, each message carrying its own shapes.

A record is a fixed-size header (its byte length, then JSON naming every tensor's dtype, shape and
byte offset) and one payload with all tensors' bytes packed together. Because every record describes
itself, a micro-batch longer or shorter than the last one is received into a buffer of its own size
(torch's pipelining fixes shapes at the first step). Each link (peer, tag, direction) has a message
size both ends derive from the records it has carried (`begin_step`): a record that fits travels as
one message of that size, header and payload together, as in torch's pipelining; a larger one (the
first step, or a longer batch than ever before) as a header-only message and then its payload. The
receiver posts a step's message receives ahead of time (`expect`), so their transfer overlaps
computation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist

from vclone.parallel.errors import PipelineError

__all__ = ["Channel", "ACTIVATIONS", "GRADIENTS", "HEADER_BYTES"]

ACTIVATIONS = 1
"""Tag of forward messages (stage s -> s+1)."""
GRADIENTS = 2
"""Tag of backward messages (stage s+1 -> s)."""
HEADER_BYTES = 4096
"""Size of the header message: 8 bytes of JSON length, then the JSON (records name a few tensors)."""
_ALIGN = 64
"""Every tensor's bytes start at a multiple of this in the message (a cache line, as torch's CPU
allocator aligns its buffers), so a received tensor that views its message runs kernels at full speed."""
_PAYLOAD_TAG = 100
"""Payloads travel under tag + _PAYLOAD_TAG, so that headers posted ahead never match a payload."""

_DTYPES = {str(d): d for d in (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32, torch.uint8, torch.bool)}


def _pack(items: list[tuple[str, torch.Tensor]], device: torch.device, capacity: int = HEADER_BYTES) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(message, separate payload) for the named tensors; offsets are aligned so every slice views
    cleanly. When header and payload fit in `capacity` bytes they travel as one message of exactly
    that size (zero-padded) and the separate payload is None; otherwise the message is the header
    alone (padded to `capacity`) and the payload follows apart."""
    specs, chunks, offset = [], [], 0
    for name, t in items:
        raw = t.detach().contiguous().reshape(-1).view(torch.uint8)
        specs.append([name, str(t.dtype), list(t.shape), offset])
        pad = (-raw.numel()) % _ALIGN
        chunks.append(raw.to(device))
        if pad:
            chunks.append(torch.zeros(pad, dtype=torch.uint8, device=device))
        offset += raw.numel() + pad
    inline = HEADER_BYTES + offset <= capacity
    text = json.dumps({"tensors": specs, "payload": offset, "inline": inline}).encode("utf-8")
    if len(text) > HEADER_BYTES - 8:
        raise PipelineError(f"a record of {len(items)} tensors needs a {len(text)}-byte header, over {HEADER_BYTES - 8}; send fewer fields")
    header = torch.zeros(HEADER_BYTES, dtype=torch.uint8)
    header[:8] = torch.tensor([len(text)], dtype=torch.int64).view(torch.uint8)
    header[8: 8 + len(text)] = torch.frombuffer(bytearray(text), dtype=torch.uint8)
    body = chunks if inline else []
    used = HEADER_BYTES + (offset if inline else 0)
    tail = [torch.zeros(capacity - used, dtype=torch.uint8, device=device)] if capacity > used else []
    message = torch.cat([header.to(device), *body, *tail])
    if inline:
        return message, None
    return message, torch.cat(chunks) if chunks else torch.zeros(0, dtype=torch.uint8, device=device)


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
    """Message receives posted ahead of need, per (src, tag), oldest first."""
    _capacity: dict[tuple[str, int, int], int] = field(default_factory=dict)
    """Bytes of one message this step, per (direction, peer, tag); HEADER_BYTES until `begin_step`
    has seen larger records."""
    _largest: dict[tuple[str, int, int], int] = field(default_factory=dict)
    """Largest record (header + payload) moved so far, per (direction, peer, tag)."""
    messages_sent: int = 0
    """Messages this channel has posted (a record is one or two)."""

    def begin_step(self) -> None:
        """Both ends of every link call this at the same point (the start of each pipeline step):
        a link's message size for the step becomes the largest record it has carried, so from the
        second step on a record no larger than the earlier ones travels as one message (header and
        payload together), and a larger one as header, then payload. Both ends derive the size from
        the same history, so they always agree on it."""
        for key, size in self._largest.items():
            self._capacity[key] = max(self._capacity.get(key, HEADER_BYTES), size)

    def _size(self, direction: str, peer: int, tag: int) -> int:
        return self._capacity.get((direction, peer, tag), HEADER_BYTES)

    def _seen(self, direction: str, peer: int, tag: int, payload_bytes: int) -> None:
        key = (direction, peer, tag)
        self._largest[key] = max(self._largest.get(key, 0), HEADER_BYTES + payload_bytes)

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
        message, payload = _pack(list(tensors.items()), self.device, self._size("send", to, tag))
        self._pending.append((dist.isend(message, dst=to, tag=tag), message))
        self.messages_sent += 1
        if payload is not None and payload.numel() > 0:
            self._pending.append((dist.isend(payload, dst=to, tag=tag + _PAYLOAD_TAG), payload))
            self.messages_sent += 1
        self._seen("send", to, tag, message.numel() - HEADER_BYTES if payload is None else payload.numel())

    def recv(self, *, src: int, tag: int, what: str) -> dict[str, torch.Tensor]:
        """Wait for the next map from rank `src`; `what` names it in errors."""
        queue = self._headers.get((src, tag))
        work, message = queue.pop(0) if queue else self._post_header(src, tag)
        self._wait(work, src, what)
        header = message[:HEADER_BYTES].cpu()
        try:
            length = int(header[:8].view(torch.int64).item())
            meta = json.loads(bytes(header[8: 8 + length].tolist()).decode("utf-8"))
            specs = [(name, _DTYPES[dtype], tuple(shape), int(offset)) for name, dtype, shape, offset in meta["tensors"]]
            size, inline = int(meta["payload"]), bool(meta["inline"])
        except (ValueError, KeyError, TypeError, RuntimeError) as err:
            raise PipelineError(f"rank {src} sent a malformed header for {what} ({err})") from None
        if inline:
            payload = message[HEADER_BYTES: HEADER_BYTES + size]
            self._seen("recv", src, tag, message.numel() - HEADER_BYTES)
        else:
            payload = torch.empty(size, dtype=torch.uint8, device=self.device)
            if size > 0:
                self._wait(dist.irecv(payload, src=src, tag=tag + _PAYLOAD_TAG), src, what)
            self._seen("recv", src, tag, size)
        # The tensors are views of the received buffer (no copy), unless the record fills less than
        # half of its message: then copies, so a short record does not keep a long buffer alive
        # for as long as its stage input is kept.
        copy = inline and 2 * size < message.numel()
        out: dict[str, torch.Tensor] = {}
        for name, dtype, shape, offset in specs:
            nbytes = torch.Size(shape).numel() * dtype.itemsize
            tensor = payload[offset: offset + nbytes].view(dtype).reshape(shape)
            out[name] = tensor.clone() if copy else tensor
        return out

    def _post_header(self, src: int, tag: int) -> tuple[object, torch.Tensor]:
        message = torch.empty(self._size("recv", src, tag), dtype=torch.uint8, device=self.device)
        return dist.irecv(message, src=src, tag=tag), message

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
