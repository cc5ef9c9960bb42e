"""vclone: multilingual text-to-speech that clones a voice across languages.

The Python API in three lines (a shipped voice by name, or a voice folder / training run)::

    import vclone
    voice = vclone.load("base")                                   # a Synthesizer
    result = voice("Hola, ¿qué tal?", language="es", speaker="me.wav")  # result.wav, result.sample_rate
    for chunk in voice.stream("First sentence. Second one.", language="en-us", speaker="me.wav"): ...

`import vclone` stays light: torch and the models load on first use of `load` or `Synthesizer`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

__all__ = ["__version__", "load", "Synthesizer", "SynthesisResult", "configure_threads"]

__version__ = "0.1.0"

if TYPE_CHECKING:
    from vclone.synth.synthesizer import SynthesisResult, Synthesizer
    from vclone.threads import configure_threads

_LAZY = {
    "Synthesizer": "vclone.synth.synthesizer",
    "SynthesisResult": "vclone.synth.synthesizer",
    "configure_threads": "vclone.threads",
}


def load(voice: str | Path = "base", *, vocoder: str | Path | None = None, device: str = "cpu") -> "Synthesizer":
    """A voice ready to speak: a shipped voice's name (`base`), a voice folder, its voice.json, or a
    training run folder. `vocoder`: a name from `vclone vocoders` or a vocoder folder (default: the one
    the voice names, else the universal HiFi-GAN)."""
    from vclone.synth.synthesizer import Synthesizer

    return Synthesizer.from_path(voice, vocoder=vocoder, device=device)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vclone' has no attribute {name!r}")
