"""Device and number format of a run: fp32 on CPU; bf16 or fp16 autocast (with a gradient scaler)
on CUDA."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from vclone.errors import ConfigError
from vclone.train.config import PrecisionConfig

__all__ = ["Precision", "resolve_precision"]

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """The resolved choice: a concrete device and dtype."""

    device: torch.device
    dtype: str
    """fp32, bf16 or fp16."""

    @property
    def uses_scaler(self) -> bool:
        """fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none."""
        return self.dtype == "fp16"

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Autocast for the forward pass (a no-op in fp32)."""
        if self.dtype == "fp32":
            yield
        else:
            with torch.autocast(device_type=self.device.type, dtype=_DTYPES[self.dtype]):
                yield

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A scaler that is active only for fp16 (a disabled one passes everything through)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.uses_scaler)


def resolve_precision(config: PrecisionConfig) -> Precision:
    """Turn auto choices into concrete ones; CUDA requested without a GPU is a ConfigError."""
    cuda = torch.cuda.is_available()
    if config.device == "cuda" and not cuda:
        raise ConfigError("--device cuda was asked for but torch sees no CUDA device; use --device cpu or auto")
    device = torch.device("cuda" if config.device == "cuda" or (config.device == "auto" and cuda) else "cpu")
    dtype = config.dtype
    if device.type == "cpu":
        if dtype not in ("auto", "fp32"):
            raise ConfigError(f"precision {dtype} needs a CUDA device; CPU training runs in fp32")
        dtype = "fp32"
    elif dtype == "auto":
        dtype = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return Precision(device=device, dtype=dtype)
