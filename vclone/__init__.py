"""vclone: multilingual text-to-speech that clones a voice across languages."""

__all__ = ["__version__"]

__version__ = "0.1.0"
