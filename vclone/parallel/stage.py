"""Blocks and stages: a model as an ordered list of named blocks, and one stage's contiguous share of it.

A block is any nn.Module called as `block(record, batch) -> record`: it reads fields of the record
that earlier blocks filled and what it needs of the (micro-)batch, and returns a record with its own
fields set. A model the engine can cut is anything that lists its blocks in running order
(`BlockModel`). Parameters are registered under the block names (`blocks.<block name>.<param>`), so
a stage's state dict is a slice of the whole model's and checkpoints split and join by name.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import torch
from torch import nn

from vclone.parallel.partition import Partition

__all__ = ["BlockModel", "NamedBlocks", "StageModule", "first_device"]


class BlockModel(Protocol):
    """What can be partitioned: a model that lists its (name, block) pairs in running order."""

    def named_blocks(self) -> list[tuple[str, nn.Module]]: ...


class NamedBlocks(nn.Module):
    """Blocks in order, addressable by name; calling it runs each block in turn."""

    def __init__(self, blocks: Sequence[tuple[str, nn.Module]]) -> None:
        super().__init__()
        names = [name for name, _ in blocks]
        if len(set(names)) != len(names):
            raise ValueError(f"block names must be unique, got {names}")
        self._names = names
        # torch forbids "." in a module name, so a dotted name ("encoder.0") is registered as
        # nested ModuleDicts: state_dict keys then read `blocks.<block name>.<param>`.
        self.blocks = nn.ModuleDict()
        for name, block in blocks:
            parent = self.blocks
            *path, leaf = name.split(".")
            for part in path:
                if part not in parent:
                    parent[part] = nn.ModuleDict()
                parent = parent[part]
                if not isinstance(parent, nn.ModuleDict):
                    raise ValueError(f"block name {name!r} nests under block {part!r}; rename one of them")
            if leaf in parent:
                raise ValueError(f"block name {name!r} clashes with a group of dotted block names; rename it")
            parent[leaf] = block

    def names(self) -> list[str]:
        return list(self._names)

    def __iter__(self) -> Iterator[tuple[str, nn.Module]]:
        return iter([(name, self.blocks.get_submodule(name)) for name in self._names])

    def __len__(self) -> int:
        return len(self._names)

    def forward(self, x: Any, batch: Any) -> Any:  # type: ignore[override]
        for _, block in self:
            x = block(x, batch)
        return x


class StageModule(nn.Module):
    """The blocks of one composite layer, registered under the same names as in the whole model
    (parameter `blocks.blocks.<block>.<param>`, as a model holding its blocks in `blocks`)."""

    def __init__(self, blocks: Sequence[tuple[str, nn.Module]]) -> None:
        super().__init__()
        self.blocks = NamedBlocks(blocks)

    @classmethod
    def of_stage(cls, model: BlockModel, partition: Partition, stage: int) -> "StageModule":
        """Stage `stage` of `partition`: the blocks of `model` it names."""
        names = set(partition.stage_blocks(stage))
        return cls([(n, b) for n, b in model.named_blocks() if n in names])

    def block_names(self) -> list[str]:
        return self.blocks.names()

    def forward(self, x: Any, batch: Any) -> Any:  # type: ignore[override]
        return self.blocks(x, batch)


def first_device(blocks: Sequence[tuple[str, nn.Module]]) -> torch.device:
    """Where the blocks' first parameter (or buffer) lives; the CPU when they hold none."""
    for _, block in blocks:
        for tensor in (*block.parameters(), *block.buffers()):
            return tensor.device
    return torch.device("cpu")
