"""End to end as the README's quick start does it: build the tiny polyglot corpus, then `vclone prepare`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vclone.cli.app import app
from vclone.data.manifest import load_prepared

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.corpus
@pytest.mark.skipif(
    not all(shutil.which(b) for b in ("espeak-ng", "festival", "flite")),
    reason="needs Debian's espeak-ng, festival and flite (apt-get install espeak-ng festival flite)",
)
@pytest.mark.timeout(300)
def test_tiny_polyglot_prepares_with_many_languages_and_speakers(tmp_path: Path) -> None:
    corpus = tmp_path / "polyglot-tiny"
    build = subprocess.run(
        [sys.executable, str(ROOT / "recipes/polyglot/build.py"), "--size", "tiny", "--out", str(corpus)],
        capture_output=True, text=True, timeout=240,
    )
    assert build.returncode == 0, build.stderr
    out = tmp_path / "prepared"
    result = CliRunner().invoke(
        app, ["prepare", str(corpus), "--recipe", str(ROOT / "recipes/polyglot/recipe.toml"), "--out", str(out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    prepared = load_prepared(out)
    assert len(prepared.vocab.languages) >= 8
    assert len(prepared.vocab.speakers) >= 12
    # Each training speaker speaks the languages speakers.json lists: one, or three for a polyglot speaker.
    langs: dict[str, set[str]] = {}
    for entry in prepared.entries:
        langs.setdefault(entry.speaker, set()).add(entry.language)
    declared = json.loads((corpus / "speakers.json").read_text(encoding="utf-8"))
    assert langs == {name: set(declared[name]["languages"]) for name in langs}
    assert sorted({len(v) for v in langs.values()}) == [1, 3]
    report = (out / "report.tsv").read_text(encoding="utf-8").splitlines()
    assert len(prepared.entries) + sum(1 for r in report[1:] if r.startswith("rejected")) == sum(
        1 for _ in (corpus / "metadata.csv").open(encoding="utf-8")
    ) - 1
    # The held-out cross-language set prepares too (same speakers, other languages).
    cross = CliRunner().invoke(
        app, ["prepare", str(corpus / "cross_test.csv"), "--format", "csv", "--out", str(tmp_path / "cross"), "--quiet"]
    )
    assert cross.exit_code == 0, cross.output
    cross_entries = load_prepared(tmp_path / "cross").entries
    assert cross_entries and all(e.language not in langs[e.speaker] for e in cross_entries)
