"""Audio settings shared by every part of vclone: sample rate, mel convention, trimming, loudness."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from vclone.errors import ConfigError

__all__ = ["AudioConfig"]

_INT_FIELDS = ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels")
_FLOAT_FIELDS = ("f_min", "f_max", "log_clamp", "trim_top_db", "target_dbfs")


@dataclass(frozen=True)
class AudioConfig:
    """The one audio convention of a corpus or voice (recorded in every manifest and voice model).

    The defaults are the mel convention of the public HiFi-GAN "universal" vocoder, so any vclone
    mel can be vocoded by its weights; change them only together with the vocoder.
    """

    sample_rate: int = 22050
    """Samples per second of every waveform vclone works on; inputs are resampled to it."""

    n_fft: int = 1024
    """FFT size of the STFT; the spectrogram has n_fft // 2 + 1 frequency bins."""

    hop_length: int = 256
    """Samples between successive mel frames; a clip of T samples has T // hop_length frames."""

    win_length: int = 1024
    """Length of the Hann analysis window (<= n_fft; zero-padded to n_fft when shorter)."""

    n_mels: int = 80
    """Number of mel bands (Slaney mel scale, Slaney area normalization)."""

    f_min: float = 0.0
    """Lowest frequency of the mel filterbank, in Hz."""

    f_max: float = 8000.0
    """Highest frequency of the mel filterbank, in Hz (at most sample_rate / 2)."""

    log_clamp: float = 1e-5
    """Mel magnitudes are clamped to at least this value before the natural log (log floor)."""

    trim_top_db: float = 40.0
    """Silence trimming threshold: leading/trailing frames quieter than the loudest frame by more
    than this many dB are cut."""

    target_dbfs: float = -20.0
    """Loudness normalization target: RMS level in dB relative to full scale (1.0), measured over
    every sample of the (already trimmed) clip; a full-scale sine is about -3 dBFS."""

    def __post_init__(self) -> None:
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"audio.{name} must be an integer, got {value!r}; write it without a decimal point")
            if value <= 0:
                raise ConfigError(f"audio.{name} must be positive, got {value}; use a value > 0")
        for name in _FLOAT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"audio.{name} must be a number, got {value!r}; use a plain number")
            # Normalize ints to floats so equal configs compare and serialize identically.
            object.__setattr__(self, name, float(value))
        self._check_stft()
        self._check_mel_and_levels()

    def _check_stft(self) -> None:
        if self.win_length > self.n_fft:
            raise ConfigError(
                f"audio.win_length ({self.win_length}) must be <= audio.n_fft ({self.n_fft}); "
                "lower win_length or raise n_fft"
            )
        if self.hop_length > self.win_length:
            raise ConfigError(
                f"audio.hop_length ({self.hop_length}) must be <= audio.win_length ({self.win_length}) "
                "or samples fall between windows; lower hop_length"
            )
        if (self.n_fft - self.hop_length) % 2:
            # The waveform is padded by (n_fft - hop) / 2 on each side; an odd difference would make the
            # padding lopsided and the frame count no longer T // hop_length.
            raise ConfigError(
                f"audio.n_fft - audio.hop_length must be even, got {self.n_fft} - {self.hop_length}; "
                "use an even n_fft and hop_length"
            )

    def _check_mel_and_levels(self) -> None:
        nyquist = self.sample_rate / 2
        if not 0.0 <= self.f_min < self.f_max:
            raise ConfigError(
                f"audio.f_min must satisfy 0 <= f_min < f_max, got f_min={self.f_min}, f_max={self.f_max}; "
                "fix the mel frequency range"
            )
        if self.f_max > nyquist:
            raise ConfigError(
                f"audio.f_max ({self.f_max} Hz) must be <= sample_rate / 2 ({nyquist} Hz); "
                "lower f_max or raise sample_rate"
            )
        if self.n_mels > self.n_fft // 2 + 1:
            raise ConfigError(
                f"audio.n_mels ({self.n_mels}) must be <= the number of STFT bins ({self.n_fft // 2 + 1}); "
                "lower n_mels or raise n_fft"
            )
        if self.log_clamp <= 0.0:
            raise ConfigError(f"audio.log_clamp must be > 0, got {self.log_clamp}; the default is 1e-5")
        if self.trim_top_db <= 0.0:
            raise ConfigError(f"audio.trim_top_db must be > 0 dB, got {self.trim_top_db}; the default is 40")
        if not -100.0 <= self.target_dbfs < 0.0:
            raise ConfigError(
                f"audio.target_dbfs must be in [-100, 0) dBFS, got {self.target_dbfs}; the default is -20"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AudioConfig:
        """Build from a dict as written by `to_dict`; missing keys take defaults, unknown keys are an error."""
        if not isinstance(data, dict):
            raise ConfigError(f"audio settings must be a mapping, got {type(data).__name__}; write them as a table")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown audio setting(s) {unknown}; valid keys are {sorted(known)}")
        return cls(**data)
