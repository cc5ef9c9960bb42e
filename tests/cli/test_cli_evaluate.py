"""`vclone evaluate` through Typer's runner: metrics that move the right way, the table, JSON, plots, bad input."""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import pytest
import torch
import typer
from cli_fixtures import error_line
from eval.fakes import FakeEncoder, FakeRecognizer
from eval.speechlike import RATE, speech_like
from typer.testing import CliRunner

from vclone.audio.io import save_wav
from vclone.cli import evaluate as ev

runner = CliRunner()
WIDE = {"COLUMNS": "200"}
"""A wide terminal, so that no table cell is wrapped or cut."""


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    ev.register(app)
    # A second command keeps Typer from collapsing the app into the bare command.
    app.command(name="noop")(lambda: None)
    return app


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The reference and its variants: a copy, higher pitch, spoken slower, another timbre, silence, too short, junk."""
    root = tmp_path_factory.mktemp("clips")
    waves = {
        "ref": speech_like(1.0),
        "same": speech_like(1.0),
        "shifted": speech_like(1.0, f0=175.0),
        "slower": speech_like(1.1),
        "timbre": speech_like(1.0, formants=(400.0, 2000.0)),
        "silent": torch.zeros(RATE),
        "short": speech_like(0.01, pad=0.0),
    }
    paths = {}
    for name, wav in waves.items():
        paths[name] = root / f"{name}.wav"
        save_wav(paths[name], wav, sample_rate=RATE)
    paths["corrupt"] = root / "corrupt.wav"
    paths["corrupt"].write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    return paths


@pytest.fixture()
def fake_encoder(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stand in for vclone.models.speaker_encoder; records the specs it was asked to load."""
    specs: list[str] = []
    module = types.ModuleType("vclone.models.speaker_encoder")

    def load_encoder(spec: str) -> FakeEncoder:
        specs.append(spec)
        return FakeEncoder()

    module.load_encoder = load_encoder  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vclone.models.speaker_encoder", module)
    return specs


def _rows(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("│")]


def test_metrics_move_the_right_way(app: typer.Typer, clips: dict[str, Path], fake_encoder: list[str], tmp_path: Path) -> None:
    names = ["same", "shifted", "slower", "timbre"]
    out = tmp_path / "metrics.json"
    args = ["evaluate", *(str(clips[n]) for n in names)]
    for _ in names:
        args += ["--reference", str(clips["ref"])]
    result = runner.invoke(app, [*args, "--encoder", "resemblyzer", "--json", str(out)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert fake_encoder == ["resemblyzer"]
    assert "cosine (fake-encoder)" in result.output
    rows = _rows(result.output)
    assert len(rows) == 5 and "same.wav vs ref.wav" in rows[0] and "mean" in rows[-1]
    report = json.loads(out.read_text())
    pairs = {Path(p["synth"]).stem: p for p in report["pairs"]}
    assert pairs["same"]["mcd_db"] == pytest.approx(0.0, abs=1e-9)
    assert pairs["same"]["f0_rmse_hz"] == pytest.approx(0.0, abs=1e-9)
    assert pairs["same"]["speaker_cosine"] == pytest.approx(1.0)
    assert pairs["shifted"]["f0_rmse_hz"] > 20.0
    assert pairs["slower"]["f0_rmse_hz"] < 10.0
    assert pairs["slower"]["mcd_db"] < 2.0 < 5.0 < pairs["timbre"]["mcd_db"]
    assert pairs["slower"]["mcd_db"] < pairs["timbre"]["mcd_db"] / 4
    assert report["encoder"] == {"name": "fake-encoder", "version": "0.1", "dim": 16, "sample_rate": 16000}
    assert report["recognizer"] is None and report["summary"]["pairs"] == 4
    assert report["settings"]["encoder"] == "resemblyzer" and report["settings"]["sample_rate"] == RATE
    assert report["settings"]["references"] == [str(clips["ref"])] * 4
    assert report["summary"]["mean"]["mcd_db"] == pytest.approx(sum(p["mcd_db"] for p in report["pairs"]) / 4)


def test_folders_pair_by_name_and_report_the_rest(app: typer.Typer, clips: dict[str, Path], tmp_path: Path) -> None:
    synth, ref = tmp_path / "synth", tmp_path / "ref"
    synth.mkdir(), ref.mkdir()
    shutil.copy(clips["same"], synth / "u1.wav")
    shutil.copy(clips["shifted"], synth / "extra.wav")
    shutil.copy(clips["ref"], ref / "u1.wav")
    plots = tmp_path / "plots"
    result = runner.invoke(app, ["evaluate", str(synth), "--reference", str(ref), "--plot", str(plots)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "no partner for 1 SYNTH file(s): extra.wav" in result.output
    assert len(_rows(result.output)) == 2 and "cosine" not in result.output and "WER" not in result.output
    assert [p.name for p in plots.iterdir()] == ["001_u1.png"]


def test_wer_with_texts(app: typer.Typer, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Patched where the command imports them when it runs (not at import time, so --help stays light).
    monkeypatch.setattr("vclone.eval.wer.recognizer_available", lambda: True)
    monkeypatch.setattr("vclone.eval.wer.Recognizer", lambda: FakeRecognizer("a cat sat", "the cat sat"))
    texts = tmp_path / "texts.txt"
    texts.write_text("The cat sat.\n", encoding="utf-8")
    out = tmp_path / "m.json"
    args = ["evaluate", str(clips["same"]), "-r", str(clips["ref"]), "--texts", str(texts), "--json", str(out)]
    result = runner.invoke(app, args, env=WIDE)
    assert result.exit_code == 0, result.output
    assert "WER synth" in result.output and "33.3%" in result.output
    report = json.loads(out.read_text())
    assert report["recognizer"] == "fake recognizer"
    pair = report["pairs"][0]
    assert (pair["text"], pair["synth_wer_edits"], pair["ref_wer_edits"], pair["synth_transcript"]) == ("The cat sat.", 1, 0, "a cat sat")
    assert report["summary"]["pooled_wer"] == {"synth": pytest.approx(1 / 3), "ref": 0.0}


def test_without_pocketsphinx_wer_is_left_out(app: typer.Typer, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vclone.eval.wer.recognizer_available", lambda: False)
    result = runner.invoke(app, ["evaluate", str(clips["same"]), "-r", str(clips["ref"]), "--text", "hello"], env=WIDE)
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if "pocketsphinx is not installed" in line]
    assert len(notes) == 1 and "WER" not in result.output.replace(notes[0], "")


def test_quiet_prints_nothing(app: typer.Typer, clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    result = runner.invoke(app, ["evaluate", str(clips["same"]), "-r", str(clips["ref"]), "--quiet", "--json", str(out)])
    assert result.exit_code == 0 and result.output == ""
    assert json.loads(out.read_text())["pairs"][0]["mcd_db"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("synths", "refs", "extra", "needle"),
    [
        (["same", "shifted"], ["ref"], [], "2 SYNTH file(s) but 1 --reference file(s)"),
        (["same"], ["missing"], [], "missing.wav: no such file"),
        (["corrupt"], ["ref"], [], "cannot read audio"),
        (["same"], ["silent"], [], "silent.wav: it is silent"),
        (["short"], ["ref"], [], "short.wav vs"),
        (["same"], ["ref"], ["--text", "a", "--texts", "t.txt"], "not both"),
    ],
)
def test_bad_input_is_one_line(
    app: typer.Typer, clips: dict[str, Path], synths: list[str], refs: list[str], extra: list[str], needle: str
) -> None:
    folder = clips["ref"].parent
    args = ["evaluate", *(str(folder / f"{n}.wav") for n in synths)]
    for name in refs:
        args += ["--reference", str(folder / f"{name}.wav")]
    result = runner.invoke(app, [*args, *extra], env=WIDE)
    assert result.exit_code == 2, result.output
    assert needle in error_line(result.stderr)


def test_unknown_encoder_is_one_line(app: typer.Typer, clips: dict[str, Path], tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", str(clips["same"]), "-r", str(clips["ref"]), "--encoder", str(tmp_path / "no-encoder")])
    assert result.exit_code == 2
    assert "not found" in error_line(result.stderr)
