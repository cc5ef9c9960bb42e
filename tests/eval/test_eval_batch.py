"""Many files: pairing in order or by name, texts per pair, loading with clear errors, plots, the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from eval.fakes import FakeEncoder
from eval.speechlike import RATE, speech_like

from vclone.audio.io import save_wav
from vclone.errors import AudioError, ConfigError
from vclone.eval.batch import FilePair, build_report, evaluate_files, load_clip, pair_files, texts_for_pairs, write_report


def _wav(path: Path, wav: torch.Tensor | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_wav(path, speech_like(0.6) if wav is None else wav, sample_rate=RATE)
    return path


def test_files_pair_in_order(tmp_path: Path) -> None:
    a, b, c, d = (_wav(tmp_path / f"{n}.wav") for n in "abcd")
    pairing = pair_files([a, b], [c, d])
    assert pairing.pairs == [FilePair(a, c), FilePair(b, d)]
    with pytest.raises(ConfigError, match="2 SYNTH file.* but 1 --reference"):
        pair_files([a, b], [c])
    with pytest.raises(AudioError, match="no such file"):
        pair_files([a], [tmp_path / "missing.wav"])


def test_folders_pair_by_name(tmp_path: Path) -> None:
    for name in ("x.wav", "y.wav", "only_synth.wav"):
        _wav(tmp_path / "synth" / name)
    for name in ("y.wav", "x.wav", "only_ref.wav"):
        _wav(tmp_path / "ref" / name)
    pairing = pair_files([tmp_path / "synth"], [tmp_path / "ref"])
    assert [p.synth.name for p in pairing.pairs] == ["x.wav", "y.wav"]
    assert all(p.synth.name == p.reference.name for p in pairing.pairs)
    assert (pairing.unpaired_synth, pairing.unpaired_reference) == (["only_synth.wav"], ["only_ref.wav"])
    with pytest.raises(ConfigError, match="is a folder"):
        pair_files([tmp_path / "synth"], [tmp_path / "ref" / "x.wav"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no \\*.wav file name is in both"):
        pair_files([tmp_path / "synth"], [tmp_path / "empty"])


def test_texts_per_pair(tmp_path: Path) -> None:
    assert texts_for_pairs(2) == [None, None]
    assert texts_for_pairs(2, text="hi") == ["hi", "hi"]
    lines = tmp_path / "texts.txt"
    lines.write_text("one two\n three \n\n", encoding="utf-8")
    assert texts_for_pairs(2, texts_file=lines) == ["one two", "three"]
    with pytest.raises(ConfigError, match="2 line\\(s\\) but there are 3 pair"):
        texts_for_pairs(3, texts_file=lines)
    with pytest.raises(ConfigError, match="not both"):
        texts_for_pairs(2, text="hi", texts_file=lines)
    with pytest.raises(ConfigError, match="cannot read --texts"):
        texts_for_pairs(1, texts_file=tmp_path / "nope.txt")


def test_load_clip_errors_name_the_file(tmp_path: Path) -> None:
    silent = _wav(tmp_path / "silent.wav", torch.zeros(RATE // 2))
    with pytest.raises(AudioError, match="silent.wav: it is silent"):
        load_clip(silent, sample_rate=RATE)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(AudioError, match="cannot read audio .*corrupt.wav"):
        load_clip(corrupt, sample_rate=RATE)


def test_evaluate_plot_and_report(tmp_path: Path) -> None:
    synth, ref = _wav(tmp_path / "s.wav"), _wav(tmp_path / "r.wav", speech_like(0.7))
    seen = []
    encoder = FakeEncoder()
    results = evaluate_files([FilePair(synth, ref)], sample_rate=RATE, encoder=encoder, plot_dir=tmp_path / "plots", on_pair=seen.append)
    assert seen == results and results[0].text is None
    png = tmp_path / "plots" / "001_s.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pairing = pair_files([synth], [ref])
    report = build_report(results, pairing=pairing, settings={"sample_rate": RATE}, encoder=encoder, recognizer=None)
    write_report(tmp_path / "out" / "m.json", report)
    data = json.loads((tmp_path / "out" / "m.json").read_text())
    assert data["encoder"] == {"name": "fake-encoder", "version": "0.1", "dim": 16, "sample_rate": 16000}
    assert data["pairs"][0]["synth"] == str(synth) and data["pairs"][0]["mcd_db"] == results[0].metrics.mcd_db
    assert data["summary"]["pairs"] == 1 and data["unpaired"] == {"synth": [], "reference": []}
    with pytest.raises(ConfigError, match="is a file"):
        evaluate_files([FilePair(synth, ref)], sample_rate=RATE, plot_dir=synth)
