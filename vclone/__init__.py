"""vclone: multilingual text-to-speech that clones a voice across languages.

The Python API in three lines (a shipped voice by name, or a voice folder / training run)::

    import vclone
    voice = vclone.load("base")                                   # a Synthesizer
    result = voice("Hola, ¿qué tal?", language="es", speaker="me.wav")  # result.wav, result.sample_rate
    for chunk in voice.stream("First sentence. Second one.", language="en-us", speaker="me.wav"): ...

An ONNX export (`vclone export onnx`) speaks the same way without torch: `vclone.load("base-onnx", runtime="onnx")`.

`import vclone` stays light: torch and the models load on first use of `load` or `Synthesizer`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

__all__ = ["__version__", "load", "Synthesizer", "SynthesisResult", "OnnxSynthesizer", "configure_threads"]

__version__ = "0.1.0"

if TYPE_CHECKING:
    from vclone.export.runtime import OnnxSynthesizer
    from vclone.synth.synthesizer import SynthesisResult, Synthesizer
    from vclone.threads import configure_threads

_LAZY = {
    "Synthesizer": "vclone.synth.synthesizer",
    "SynthesisResult": "vclone.synth.synthesizer",
    "OnnxSynthesizer": "vclone.export.runtime",
    "configure_threads": "vclone.threads",
}


def load(voice: str | Path = "base", *, vocoder: str | Path | None = None, device: str = "cpu",
         runtime: str = "torch") -> "Synthesizer | OnnxSynthesizer":
    """A voice ready to speak: a shipped voice's name (`base`), a voice folder, its voice.json, or a
    training run folder. `vocoder`: a name from `vclone vocoders` or a vocoder folder (default: the one
    the voice names, else the universal HiFi-GAN). With runtime="onnx", `voice` is an export folder
    (`vclone export onnx`), run by onnxruntime on the CPU with the export's own vocoder, without torch."""
    if runtime == "onnx":
        from vclone.errors import ConfigError
        from vclone.export.runtime import OnnxSynthesizer

        if vocoder is not None or device != "cpu":
            raise ConfigError("an ONNX export runs on the CPU with the vocoder it was exported with; leave out vocoder and device")
        return OnnxSynthesizer(voice)
    if runtime != "torch":
        from vclone.errors import ConfigError

        raise ConfigError(f"unknown runtime {runtime!r}; use torch or onnx")
    from vclone.synth.synthesizer import Synthesizer

    return Synthesizer.from_path(voice, vocoder=vocoder, device=device)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vclone' has no attribute {name!r}")
