"""Judges: speaker encoders that embed the project's log-mels with gradients (the speaker consistency
loss's measuring stick), the band map that lets resemblyzer read them, and its fit."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from vclone.audio.config import AudioConfig
from vclone.audio.io import load_audio
from vclone.models.speaker_encoder import DVectorEncoder, EncoderError
from vclone.models.speaker_encoder.config import WindowConfig, encoder_preset
from vclone.models.speaker_encoder.judge import (
    DVectorJudge, ResemblyzerJudge, resemblyzer_power, fit_band_map, load_judge, resemblyzer_views,
)
from vclone.models.speaker_encoder.network import DVectorNet

needs_resemblyzer = pytest.mark.skipif(importlib.util.find_spec("resemblyzer") is None, reason="needs the eval extra (resemblyzer)")


def test_band_map_fit_recovers_a_known_map() -> None:
    audio = AudioConfig()
    g = torch.Generator().manual_seed(0)
    truth = torch.rand(80, 40, generator=g) * (torch.rand(80, 40, generator=g) < 0.1)
    mels = [torch.randn(150, 80, generator=g) * 2 - 4 for _ in range(6)]
    pairs = [(m, resemblyzer_power(m[None], audio)[0] @ truth) for m in mels]
    fitted = fit_band_map(pairs[:5], audio, steps=300)
    assert fitted.shape == (80, 40) and (fitted >= 0).all()
    held_out, expected = pairs[5]
    predicted = resemblyzer_power(held_out[None], audio)[0] @ fitted
    relative = ((predicted - expected).abs() / expected.clamp(min=1e-12)).median()
    assert relative < 0.05


def test_dvector_judge_is_the_encoder_network_with_gradients() -> None:
    torch.manual_seed(0)
    net = DVectorNet(encoder_preset("tiny", channels=32, num_layers=3, embedding_dim=16), n_mels=80).eval()
    encoder = DVectorEncoder(net, name="dvector:test", audio=AudioConfig(), windows=WindowConfig())
    judge = DVectorJudge(encoder, AudioConfig())
    assert not judge.net.training  # batch norm keeps its running statistics, dropout stays off
    mel = (torch.randn(3, judge.window_frames, 80) - 4).requires_grad_()
    out = judge.embed(mel)
    with torch.no_grad():
        assert torch.allclose(out, torch.nn.functional.normalize(net(mel), dim=-1), atol=1e-6)
    out.sum().backward()
    assert mel.grad is not None and mel.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in net.parameters())
    with pytest.raises(EncoderError, match="another mel convention"):
        DVectorJudge(encoder, AudioConfig(hop_length=200))


@needs_resemblyzer
def test_resemblyzer_judge_reads_the_shipped_map_and_passes_gradients() -> None:
    judge = load_judge("resemblyzer", AudioConfig())
    assert isinstance(judge, ResemblyzerJudge) and judge.window_frames == 138  # 1.6 s of 256-sample hops at 22.05 kHz
    assert judge.bands_MK.shape == (80, 40) and (judge.bands_MK >= 0).all()
    mel = (torch.randn(2, judge.window_frames, 80) - 4).requires_grad_()
    out = judge.embed(mel)
    assert out.shape == (2, 256) and torch.allclose(out.norm(dim=-1), torch.ones(2), atol=1e-5)
    out[:, :5].sum().backward()
    assert mel.grad is not None and mel.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in judge.net.parameters())
    with pytest.raises(EncoderError, match="another mel convention"):
        ResemblyzerJudge(AudioConfig(n_mels=64, hop_length=200))


def _espeak(path: Path, voice: str, text: str) -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True, capture_output=True, timeout=60)
    return path


@needs_resemblyzer
@pytest.mark.corpus
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs Debian's espeak-ng")
def test_resemblyzer_judge_agrees_with_resemblyzer_on_speech(tmp_path: Path) -> None:
    # Voices and sentences the band map was not fitted on (it was fitted on the demo corpus).
    from resemblyzer import VoiceEncoder, preprocess_wav

    audio = AudioConfig()
    judge = ResemblyzerJudge(audio)
    encoder = VoiceEncoder("cpu", verbose=False)
    sentences = ["The lighthouse keeper counted seven ships before the storm arrived.",
                 "Please bring the blue folder and two pencils to the second meeting."]
    agreement = []
    for voice in ("en+m3", "en-gb+f3", "de+klatt2"):
        for i, text in enumerate(sentences):
            wav = load_audio(_espeak(tmp_path / f"{voice}-{i}.wav", voice, text), sample_rate=audio.sample_rate)
            log_mel, power = resemblyzer_views(wav, audio)
            assert power.shape[1] == 40 and abs(power.shape[0] - log_mel.shape[0] * 256 / 220.5) < 3
            truth = torch.from_numpy(encoder.embed_utterance(preprocess_wav(wav.numpy(), source_sr=audio.sample_rate)))
            with torch.no_grad():
                agreement.append(float(judge.embed_utterance(log_mel) @ truth))
    assert sorted(agreement)[len(agreement) // 2] > 0.85, agreement
