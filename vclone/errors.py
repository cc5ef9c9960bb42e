"""User-facing error types: each one becomes a single line and a non-zero exit in the CLI."""

__all__ = [
    "VcloneError",
    "ConfigError",
    "AudioError",
    "TextError",
    "UnsupportedLanguageError",
    "CorpusError",
]


class VcloneError(Exception):
    """Base of every error caused by user input; the message must say what is wrong and how to fix it."""


class ConfigError(VcloneError):
    """An invalid option or configuration value."""


class AudioError(VcloneError):
    """Audio that cannot be read, is empty or is otherwise unusable."""


class TextError(VcloneError):
    """Text that cannot be normalized or phonemized (empty, nothing speakable)."""


class UnsupportedLanguageError(TextError):
    """A language code that vclone does not support."""


class CorpusError(VcloneError):
    """A corpus whose layout or manifest cannot be read."""
