"""The block interface: a model is an ordered list of named blocks, each record -> record."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from vclone.data.batch import Batch
from vclone.models.record import AcousticRecord

__all__ = ["Block", "BlockSequence"]


class Block(torch.nn.Module):
    """One named step of a model. It reads its inputs from the record and the batch (targets, ids,
    lengths come from the batch, never through the pipe) and returns the record with its fields set."""

    def forward(self, x: AcousticRecord, batch: Batch) -> AcousticRecord:  # pragma: no cover - interface
        raise NotImplementedError


class BlockSequence(torch.nn.Module):
    """Blocks in order, addressable by name. Running it runs each block in turn; a pipeline stage
    runs a contiguous slice of the same blocks (see `slice`)."""

    def __init__(self, blocks: Sequence[tuple[str, Block]]) -> None:
        super().__init__()
        names = [name for name, _ in blocks]
        if len(set(names)) != len(names):
            raise ValueError(f"block names must be unique, got {names}")
        self._names = names
        # torch forbids "." in a module name, so a dotted name ("encoder.0") is registered as
        # nested ModuleDicts: state_dict keys then read `blocks.<block name>.<param>`, which is how
        # checkpoints are split and joined by block name.
        self.blocks = torch.nn.ModuleDict()
        for name, block in blocks:
            parent = self.blocks
            *path, leaf = name.split(".")
            for part in path:
                if part not in parent:
                    parent[part] = torch.nn.ModuleDict()
                parent = parent[part]
                if not isinstance(parent, torch.nn.ModuleDict):
                    raise ValueError(f"block name {name!r} nests under block {part!r}; rename one of them")
            if leaf in parent:
                raise ValueError(f"block name {name!r} clashes with a group of dotted block names; rename it")
            parent[leaf] = block

    def names(self) -> list[str]:
        return list(self._names)

    def block(self, name: str) -> Block:
        """The block called `name`."""
        module = self.blocks.get_submodule(name)
        assert isinstance(module, Block)
        return module

    def __iter__(self) -> Iterator[tuple[str, Block]]:
        return iter([(name, self.block(name)) for name in self._names])

    def __len__(self) -> int:
        return len(self._names)

    def slice(self, start: int, stop: int) -> list[tuple[str, Block]]:
        """Blocks [start, stop) in order (a composite layer of the pipeline)."""
        return list(self)[start:stop]

    def forward(self, batch: Batch, x: AcousticRecord | None = None) -> AcousticRecord:
        x = x if x is not None else AcousticRecord()
        for _, block in self:
            x = block(x, batch)
        return x
