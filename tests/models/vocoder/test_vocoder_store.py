"""Vocoder files: round trip, and every bad file is one clear VocoderError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vclone.audio import AudioConfig
from vclone.models.vocoder.config import build_generator, vocoder_preset
from vclone.models.vocoder.store import VocoderError, check_mel_convention, load_vocoder, save_vocoder


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    kind, settings = vocoder_preset("tiny")
    generator = build_generator(kind, settings).eval()
    folder = save_vocoder(tmp_path / "voc", generator, kind=kind, config=settings, audio=AudioConfig(), name="mine", training={"run_id": "r1"})
    return folder, generator


def test_round_trip_gives_the_same_waveform(saved: tuple[Path, torch.nn.Module]) -> None:
    folder, generator = saved
    loaded = load_vocoder(folder)
    mel = torch.randn(1, 7, 80)
    with torch.no_grad():
        torch.testing.assert_close(loaded.generator(mel), generator(mel))
    assert loaded.name == "mine" and loaded.kind == "hifigan" and loaded.meta["training"]["run_id"] == "r1"
    assert load_vocoder(folder / "vocoder.json").name == "mine"


def test_a_run_folder_means_its_vocoder_subfolder(saved: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    folder, _ = saved
    run = tmp_path / "run"
    run.mkdir()
    folder.rename(run / "vocoder")
    assert load_vocoder(run).path == run / "vocoder"


@pytest.mark.parametrize("damage", ["weights-garbage", "weights-missing", "json-garbage", "json-foreign", "json-version", "json-kind", "weights-other-size"])
def test_bad_files_are_one_clear_error(saved: tuple[Path, torch.nn.Module], damage: str) -> None:
    folder, _ = saved
    meta = json.loads((folder / "vocoder.json").read_text())
    if damage == "weights-garbage":
        (folder / "vocoder.safetensors").write_bytes(b"\x00" * 100)
        match = "not a readable safetensors"
    elif damage == "weights-missing":
        (folder / "vocoder.safetensors").unlink()
        match = "not found"
    elif damage == "json-garbage":
        (folder / "vocoder.json").write_text("{")
        match = "not valid JSON"
    elif damage == "json-foreign":
        (folder / "vocoder.json").write_text(json.dumps({"format": "vclone-voice"}))
        match = "not a vclone vocoder"
    elif damage == "json-version":
        (folder / "vocoder.json").write_text(json.dumps({**meta, "format_version": 99}))
        match = "version 99"
    elif damage == "json-kind":
        (folder / "vocoder.json").write_text(json.dumps({**meta, "kind": "wavenet"}))
        match = "bad field"
    else:
        (folder / "vocoder.json").write_text(json.dumps({**meta, "config": {**meta["config"], "upsample_initial_channel": 64}}))
        match = "does not match"
    with pytest.raises(VocoderError, match=match):
        load_vocoder(folder)


def test_a_folder_that_is_no_vocoder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VocoderError, match="no vocoder.json"):
        load_vocoder(tmp_path)
    (tmp_path / "model.pth").write_bytes(b"x")
    with pytest.raises(VocoderError, match="not a vclone vocoder"):
        load_vocoder(tmp_path / "model.pth")


def test_mel_convention_mismatch_names_each_setting() -> None:
    ours = AudioConfig()
    check_mel_convention(ours, AudioConfig(trim_top_db=30.0), vocoder_label="v", mel_label="the voice")  # irrelevant settings pass
    with pytest.raises(VocoderError, match=r"sample_rate 16000 vs 22050, n_fft 800 vs 1024, hop_length 200 vs 256, win_length 800 vs 1024, f_max 7600 vs 8000"):
        check_mel_convention(AudioConfig(sample_rate=16000, hop_length=200, n_fft=800, win_length=800, f_max=7600.0), ours,
                             vocoder_label="v", mel_label="the voice")
    with pytest.raises(VocoderError, match="n_mels 64 vs 80"):
        check_mel_convention(AudioConfig(n_mels=64), ours, vocoder_label="v", mel_label="the voice")
