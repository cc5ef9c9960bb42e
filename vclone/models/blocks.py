"""The block interface: a model is an ordered list of named blocks, each record -> record."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from vclone.models.record import AcousticRecord
from vclone.parallel.stage import NamedBlocks

if TYPE_CHECKING:  # the acoustic package's __init__ builds its model from these blocks
    from vclone.models.acoustic.batch import Batch

__all__ = ["Block", "BlockSequence"]


class Block(torch.nn.Module):
    """One named step of a model. It reads its inputs from the record and the batch (targets, ids,
    lengths come from the batch, never through the pipe) and returns the record with its fields set."""

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:  # pragma: no cover - interface
        raise NotImplementedError


class BlockSequence(NamedBlocks):
    """Blocks in order, addressable by name: the engine's NamedBlocks (dotted names registered as
    nested modules, so state-dict keys read `blocks.<block name>.<param>` and checkpoints split and
    join by block name), run from an empty acoustic record by default. A pipeline stage runs a
    contiguous slice of the same blocks (see `slice`)."""

    def block(self, name: str) -> Block:
        """The block called `name`."""
        module = self.blocks.get_submodule(name)
        assert isinstance(module, Block)
        return module

    def slice(self, start: int, stop: int) -> list[tuple[str, Block]]:
        """Blocks [start, stop) in order (a composite layer of the pipeline)."""
        return list(self)[start:stop]

    def forward(self, batch: Batch, x: AcousticRecord | None = None) -> AcousticRecord:  # type: ignore[override]
        return super().forward(x if x is not None else AcousticRecord(), batch)
