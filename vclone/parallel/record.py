"""Stage records: the named tensors a block passes to the next one, and what crosses a stage boundary.

The engine never looks inside a record. It needs two things of a record type: `tensors()`, every
tensor by name (what is sent to the next stage), and `from_tensors(tensors)`, its inverse (what the
next stage builds from what it received). A model brings its own record type (a dataclass of typed
fields, say); `TensorRecord` is the plain one, a dict of named tensors.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

import torch

__all__ = ["StageRecord", "TensorRecord"]

R = TypeVar("R", bound="StageRecord")


class StageRecord(Protocol):
    """What the engine asks of a record type (vclone's AcousticRecord is one)."""

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every tensor of the record by name: what crosses a stage boundary."""
        ...

    @classmethod
    def from_tensors(cls: type[R], tensors: dict[str, torch.Tensor]) -> R:
        """The record that `tensors()` gave these tensors (an empty map: the first block's input)."""
        ...


class TensorRecord(dict[str, torch.Tensor]):
    """The plain record: a dict of named tensors, sent as it is."""

    def tensors(self) -> dict[str, torch.Tensor]:
        return dict(self)

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> "TensorRecord":
        return cls(tensors)
