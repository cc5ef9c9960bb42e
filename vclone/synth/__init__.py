"""Synthesis: text -> phones -> token ids -> acoustic model -> mel -> vocoder -> waveform (whole, or streamed in chunks)."""

from vclone.synth.synthesizer import SynthesisError, SynthesisResult, Synthesizer, UnknownPhonesWarning, UnknownSpeakerError, UntrainedLanguageError

__all__ = [
    "SynthesisError",
    "SynthesisResult",
    "Synthesizer",
    "UnknownPhonesWarning",
    "UnknownSpeakerError",
    "UntrainedLanguageError",
]
