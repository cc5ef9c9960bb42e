"""F0 and energy in prepare: the extractor on tones and on speech with a known pitch setting, the
feature cache, per-speaker statistics, and folders prepared before F0 existed."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from corpus_fixtures import write_csv, write_voiced

from vclone.audio import AudioConfig, load_audio
from vclone.data.dataset import TrainingData
from vclone.data.features import FeatureSettings, extract_f0, frame_energy, load_features
from vclone.data.manifest import load_prepared
from vclone.data.prepare import PrepareConfig, prepare_corpus
from vclone.errors import CorpusError

SR, HOP = 22050, 256


def _frames(num_samples: int) -> int:
    return num_samples // HOP


def test_f0_of_a_glide_follows_it_and_marks_the_silent_gap() -> None:
    t = np.arange(int(1.5 * SR)) / SR
    f0_true = 110.0 * 2.0 ** t  # 110 Hz rising to about 311 Hz
    tone = sum(np.sin(k * 2 * np.pi * np.cumsum(f0_true) / SR) / k for k in range(1, 8)) * 0.2
    gap = (t > 0.6) & (t < 0.8)
    wav = torch.from_numpy(np.where(gap, 0.0, tone).astype(np.float32))
    f0 = extract_f0(wav, sample_rate=SR, hop_length=HOP, num_frames=_frames(wav.numel()))
    assert f0.shape == (_frames(wav.numel()),) and f0.dtype == torch.float32
    centres = (np.arange(len(f0)) * HOP) / SR
    voiced_truth = ~((centres > 0.62) & (centres < 0.78)) & (centres > 0.05) & (centres < 1.45)
    est, truth = f0.numpy()[voiced_truth], 110.0 * 2.0 ** centres[voiced_truth]
    assert (est > 0).mean() > 0.9
    found = est > 0
    assert np.median(np.abs(1200 * np.log2(est[found] / truth[found]))) < 50  # within half a semitone
    assert (f0.numpy()[(centres > 0.64) & (centres < 0.76)] == 0).all()  # the silent gap is unvoiced


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs Debian's espeak-ng (scripts/install.sh installs it)")
def test_f0_of_speech_rises_with_espeaks_pitch_setting(tmp_path: Path) -> None:
    medians = []
    for pitch in (20, 80):
        path = tmp_path / f"p{pitch}.wav"
        subprocess.run(["espeak-ng", "-p", str(pitch), "-w", str(path), "We were away a year ago."], check=True)
        wav = load_audio(path, sample_rate=SR)
        f0 = extract_f0(wav, sample_rate=SR, hop_length=HOP, num_frames=_frames(wav.numel()))
        voiced = f0[f0 > 0]
        assert 0.3 < voiced.numel() / f0.numel() < 0.95  # speech: voiced and unvoiced frames both
        medians.append(float(voiced.median()))
    assert 60 < medians[0] < medians[1] < 250
    assert medians[1] / medians[0] > 1.4  # -p 20 -> 80 is well over half an octave in espeak-ng


def test_prepare_stores_f0_and_energy_and_per_speaker_statistics(tmp_path: Path) -> None:
    rows = []
    for speaker, f0 in (("low", 100.0), ("high", 220.0)):
        for n in range(2):
            write_voiced(tmp_path / "c" / f"{speaker}{n}.wav", 1.0, f0=f0)
            rows.append({"id": f"{speaker}{n}", "audio": f"{speaker}{n}.wav", "text": "Hello there.", "speaker": speaker, "language": "en-us"})
    write_csv(tmp_path / "c" / "metadata.csv", rows)
    out = tmp_path / "prep"
    summary = prepare_corpus(PrepareConfig(corpus=tmp_path / "c", corpus_format="csv", out=out, features=FeatureSettings(audio=AudioConfig())))
    prepared = load_prepared(out)
    features = load_features(out / prepared.entries[0].features)
    num_frames = prepared.entries[0].num_frames
    assert features["f0"].shape == (num_frames,) and features["energy"].shape == (num_frames,)
    torch.testing.assert_close(features["energy"], frame_energy(features["mel"]))
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))["pitch_by_speaker"]
    assert summary.pitch_by_speaker == stats
    assert stats["low"]["centre_hz"] == pytest.approx(100.0, rel=0.06)  # the fixture's vibrato is +-3%
    assert stats["high"]["centre_hz"] == pytest.approx(220.0, rel=0.06)
    data = TrainingData.from_dirs([out])
    item = data[0]
    assert item.pitch is not None and item.energy is not None and item.pitch_stats is not None
    voiced = item.pitch > 0
    assert math.exp(float(item.pitch[voiced].median())) == pytest.approx(220.0 if data.items[0].entry.speaker == "high" else 100.0, rel=0.06)
    assert float(item.pitch_stats[0]) == pytest.approx(math.log(stats[data.items[0].entry.speaker]["centre_hz"]), abs=1e-3)


def test_a_folder_prepared_before_f0_is_refused_and_updated_by_preparing_again(tmp_path: Path) -> None:
    write_voiced(tmp_path / "c" / "a.wav", 1.0)
    write_csv(tmp_path / "c" / "metadata.csv", [{"id": "a", "audio": "a.wav", "text": "Hi there.", "speaker": "s", "language": "en-us"}])
    out = tmp_path / "prep"
    config = PrepareConfig(corpus=tmp_path / "c", corpus_format="csv", out=out, features=FeatureSettings(audio=AudioConfig()))
    prepare_corpus(config)
    vocab = json.loads((out / "vocab.json").read_text(encoding="utf-8"))
    (out / "vocab.json").write_text(json.dumps({**vocab, "format_version": 1}), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"older vclone \(format 1.*vclone prepare CORPUS --out"):
        TrainingData.from_dirs([out])
    prepare_corpus(config)
    assert len(TrainingData.from_dirs([out])) == 1
