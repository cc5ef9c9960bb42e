"""Point-to-point transfer of named tensors between stages, each message carrying its own shapes.

A message is three parts: an int64 header length, the JSON header (names, dtypes, shapes) as bytes,
then the tensors. Because every message describes itself, a micro-batch longer or shorter than the
last one is received into a buffer of its own size (torch's pipelining fixes shapes at the first step).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist

from vclone.parallel.context import PipelineError

__all__ = ["Channel", "ACTIVATIONS", "GRADIENTS"]

ACTIVATIONS = 1
"""Tag of forward messages (stage s -> s+1)."""
GRADIENTS = 2
"""Tag of backward messages (stage s+1 -> s)."""

_DTYPES = {str(d): d for d in (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32, torch.uint8, torch.bool)}
# gloo sends no bool tensors, so they travel as uint8 and are turned back on arrival.
_WIRE = {torch.bool: torch.uint8}


@dataclass
class Channel:
    """Sends and receives named tensor maps with one peer. Sends are asynchronous: the tensors are
    kept alive until `flush` (called at the end of every step) has seen them delivered."""

    device: torch.device
    timeout_s: float
    _pending: list[tuple[object, torch.Tensor]] = field(default_factory=list)

    def send(self, tensors: dict[str, torch.Tensor], *, to: int, tag: int) -> None:
        """Post the map to rank `to` without waiting for it to be received."""
        items = [(name, t.detach()) for name, t in tensors.items()]
        header = [[name, str(t.dtype), list(t.shape)] for name, t in items]
        raw = torch.frombuffer(bytearray(json.dumps(header).encode("utf-8")), dtype=torch.uint8).to(self.device)
        size = torch.tensor([raw.numel()], dtype=torch.int64, device=self.device)
        payload = [size, raw] + [t.to(_WIRE.get(t.dtype, t.dtype)).contiguous() for _, t in items if t.numel() > 0]
        for tensor in payload:
            self._pending.append((dist.isend(tensor, dst=to, tag=tag), tensor))

    def recv(self, *, src: int, tag: int, what: str) -> dict[str, torch.Tensor]:
        """Wait for the next map from rank `src`; `what` names it in errors."""
        size = torch.empty(1, dtype=torch.int64, device=self.device)
        self._wait(dist.irecv(size, src=src, tag=tag), src, what)
        raw = torch.empty(int(size.item()), dtype=torch.uint8, device=self.device)
        self._wait(dist.irecv(raw, src=src, tag=tag), src, what)
        try:
            header = json.loads(bytes(raw.cpu().tolist()).decode("utf-8"))
            specs = [(name, _DTYPES[dtype], tuple(shape)) for name, dtype, shape in header]
        except (ValueError, KeyError, TypeError) as err:
            raise PipelineError(f"rank {src} sent a malformed header for {what} ({err})") from None
        out: dict[str, torch.Tensor] = {}
        for name, dtype, shape in specs:
            buffer = torch.empty(shape, dtype=_WIRE.get(dtype, dtype), device=self.device)
            if buffer.numel() > 0:
                self._wait(dist.irecv(buffer, src=src, tag=tag), src, what)
            out[name] = buffer.to(dtype)
        return out

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
