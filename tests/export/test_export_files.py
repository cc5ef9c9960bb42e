"""The export folder: what it holds, how it is written (never half), and what the runtime refuses to read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import vclone.export.onnx as onnx_export
from vclone.export.manifest import (
    DECODER_FILE, ENCODER_FILE, FLOW_FILE, MANIFEST_NAME, SPEAKERS_FILE, VOCODER_FILE, ExportError, read_manifest,
)
from vclone.export.onnx import export_onnx
from vclone.export.runtime import OnnxSynthesizer
from vclone.models.voice import load_voice
from vclone.synth.vocoders import GRIFFIN_LIM

FILES = sorted([MANIFEST_NAME, ENCODER_FILE, DECODER_FILE, VOCODER_FILE, SPEAKERS_FILE])


def test_manifest_carries_the_voice_and_vocoder(exports: dict[str, tuple[Path, Path, str]]) -> None:
    voice_dir, folder, vocoder = exports["conv+istft"]
    voice = load_voice(voice_dir)
    assert sorted(p.name for p in folder.iterdir()) == FILES
    manifest = read_manifest(folder)
    assert manifest.phones == voice.vocab.phones.tokens
    assert manifest.languages == voice.vocab.languages and manifest.speakers == voice.vocab.speakers
    assert manifest.audio == voice.vocab.audio.to_dict()
    assert (manifest.speaker_space.kind, manifest.speaker_space.name, manifest.speaker_space.dim) == ("table", voice.speaker_space.name, 16)
    assert manifest.has_pitch_model and manifest.vocoder.kind == "istft" and manifest.vocoder.name == vocoder
    assert (manifest.vocoder.n_fft, manifest.vocoder.hop_length, manifest.vocoder.win_length) == (1024, 256, 1024)
    assert not read_manifest(exports["no-pitch+istft"][1]).has_pitch_model


def test_a_flow_voice_adds_its_estimator_graph(exports: dict[str, tuple[Path, Path, str]]) -> None:
    assert sorted(p.name for p in exports["flow+hifigan"][1].iterdir()) == sorted([*FILES, FLOW_FILE])


def test_an_export_from_before_flow_exports_still_loads(exports: dict[str, tuple[Path, Path, str]], tmp_path: Path) -> None:
    """Version 1 manifests have no `flow` key; they read as exports without a flow."""
    folder = _copy(exports["no-pitch+istft"][1], tmp_path)
    data = json.loads((folder / MANIFEST_NAME).read_text())
    (folder / MANIFEST_NAME).write_text(json.dumps({k: v for k, v in data.items() if k != "flow"}))
    assert data["format_version"] == 1 and OnnxSynthesizer(folder).flow is None


def test_a_failed_export_leaves_nothing(voices: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(onnx_export, "_export_vocoder", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export_onnx(voices["bucket"], tmp_path / "out", vocoder="hifigan-universal")
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_only_an_earlier_export(exports: dict[str, tuple[Path, Path, str]], tmp_path: Path) -> None:
    voice_dir, _, vocoder = exports["no-pitch+istft"]
    out = tmp_path / "out"
    export_onnx(voice_dir, out, vocoder=vocoder)
    with pytest.raises(ExportError, match="already holds an export; pass --overwrite"):
        export_onnx(voice_dir, out, vocoder=vocoder)
    export_onnx(voice_dir, out, vocoder=vocoder, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == FILES and sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not an empty folder nor an earlier export"):
        export_onnx(voice_dir, tmp_path / "notes", vocoder=vocoder, overwrite=True)
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_griffin_lim_is_refused(voices: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="griffin-lim has no network to export"):
        export_onnx(voices["bucket"], tmp_path / "out", vocoder=GRIFFIN_LIM)
    assert not (tmp_path / "out").exists()


def _copy(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / "copy"))


def _edit_flow(folder: Path, **changes) -> None:
    data = json.loads((folder / MANIFEST_NAME).read_text())
    (folder / MANIFEST_NAME).write_text(json.dumps({**data, "flow": {**data["flow"], **changes}}))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / VOCODER_FILE).unlink(), f"incomplete export \\(missing {VOCODER_FILE}\\)"),
        (lambda f: (f / MANIFEST_NAME).unlink(), "not a vclone ONNX export \\(no manifest.json\\)"),
        (lambda f: (f / MANIFEST_NAME).write_text("{not json"), "not valid JSON"),
        (lambda f: (f / MANIFEST_NAME).write_text(json.dumps({"format": "vclone-voice"})), "not a vclone ONNX export \\(format 'vclone-voice'"),
        (lambda f: (f / MANIFEST_NAME).write_text(json.dumps({**json.loads((f / MANIFEST_NAME).read_text()), "format_version": 99})), "format version 99"),
        (lambda f: (f / MANIFEST_NAME).write_text(json.dumps({k: v for k, v in json.loads((f / MANIFEST_NAME).read_text()).items() if k != "languages"})), "missing or has a bad field"),
        (lambda f: (f / DECODER_FILE).write_bytes(b"garbage"), f"{DECODER_FILE} cannot be loaded by onnxruntime"),
        (lambda f: (f / FLOW_FILE).unlink(), f"incomplete export \\(missing {FLOW_FILE}\\)"),
        (lambda f: _edit_flow(f, noise="numpy"), "has a flow this vclone cannot sample \\(noise 'numpy'"),
        (lambda f: _edit_flow(f, num_steps=0), "cannot sample .* 0 steps"),
    ],
    ids=["no-vocoder", "no-manifest", "bad-json", "other-format", "other-version", "no-languages", "corrupt-graph", "no-flow-graph", "other-noise", "no-steps"],
)
def test_runtime_refuses_a_broken_export(exports: dict[str, tuple[Path, Path, str]], tmp_path: Path, damage, message: str) -> None:
    folder = _copy(exports["flow+hifigan"][1], tmp_path)
    damage(folder)
    with pytest.raises(ExportError, match=message):
        OnnxSynthesizer(folder)


def test_runtime_refuses_a_voice_folder(voices: dict[str, Path]) -> None:
    with pytest.raises(ExportError, match="not a vclone ONNX export \\(no manifest.json\\); make one with `vclone export onnx"):
        OnnxSynthesizer(voices["bucket"])
