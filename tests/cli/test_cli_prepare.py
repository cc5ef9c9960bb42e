"""`vclone prepare` on slightly wrong corpora, typed as a user types them: one line, exit 2, nothing left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corpus_fixtures import write_csv, write_voiced
from typer.testing import CliRunner

from vclone.cli.app import app

runner = CliRunner()


def _prepare(*args: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["prepare", *args, "--workers", "1"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


def _refused(*args: str) -> str:
    """Run prepare, check it fails the way a user should see it, and return its one line."""
    code, lines = _prepare(*args)
    assert code == 2, lines
    assert 1 <= len(lines) <= 3 and not any("Traceback" in line for line in lines), lines
    assert lines[0].startswith("error: ")
    return lines[0]


def _ljspeech(root: Path, metadata: bytes, wavs: tuple[str, ...] = ("LJ001-0001", "LJ001-0002")) -> Path:
    for name in wavs:
        write_voiced(root / "wavs" / f"{name}.wav", 0.8)
    (root / "metadata.csv").write_bytes(metadata)
    return root


def test_wrong_delimiter_is_one_line_naming_the_line_and_the_likely_delimiter(tmp_path: Path) -> None:
    corpus = _ljspeech(tmp_path / "LJ", b"LJ001-0001,Hello there,Hello there\nLJ001-0002,Good day,Good day\n")
    out = tmp_path / "prep"
    line = _refused(str(corpus), "--format", "ljspeech", "--out", str(out))
    assert "metadata.csv line 1: expected id|text|normalized text, found 1 column" in line
    assert 'is the delimiter ","?' in line
    assert not out.exists()


def test_empty_metadata_is_an_error(tmp_path: Path) -> None:
    corpus = _ljspeech(tmp_path / "LJ", b"")
    out = tmp_path / "prep"
    assert "metadata.csv is empty" in _refused(str(corpus), "--format", "ljspeech", "--out", str(out))
    assert not out.exists()


def test_latin1_metadata_names_file_line_byte_and_prepares_with_encoding(tmp_path: Path) -> None:
    text = "LJ001-0001|Hola amigo.|Hola amigo.\nLJ001-0002|Añadió dos.|Añadió dos.\n"
    latin = _ljspeech(tmp_path / "latin", text.encode("latin-1"))
    out = tmp_path / "prep-latin"
    line = _refused(str(latin), "--format", "ljspeech", "--language", "es", "--out", str(out))
    assert "metadata.csv line 2: byte 0xf1 is not valid utf-8" in line and "--encoding latin-1" in line
    assert not out.exists()

    code, _ = _prepare(str(latin), "--format", "ljspeech", "--language", "es", "--out", str(out), "--encoding", "latin-1")
    assert code == 0
    twin = _ljspeech(tmp_path / "utf8", ("\ufeff" + text).encode("utf-8"))  # with a BOM, read by the default
    code, _ = _prepare(str(twin), "--format", "ljspeech", "--language", "es", "--out", str(tmp_path / "prep-utf8"))
    assert code == 0

    def phonemes(folder: Path) -> dict[str, list[str]]:
        lines = (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
        return {e["id"]: e["phonemes"] for e in map(json.loads, lines)}

    assert phonemes(out) == phonemes(tmp_path / "prep-utf8")
    assert len(phonemes(out)) == 2 and "ɲ" in phonemes(out)["LJ001-0002"]


def test_unknown_encoding_is_one_line(tmp_path: Path) -> None:
    corpus = _ljspeech(tmp_path / "LJ", b"LJ001-0001|Hi there.\n")
    assert "unknown --encoding" in _refused(str(corpus), "--format", "ljspeech", "--out", str(tmp_path / "o"), "--encoding", "klingon-8")


def test_vctk_recordings_without_transcripts_are_reported(tmp_path: Path) -> None:
    root = tmp_path / "VCTK"
    (root / "txt" / "p225").mkdir(parents=True)
    (root / "txt" / "p225" / "p225_001.txt").write_text("Please call Stella.\n", encoding="utf-8")
    (root / "txt" / "p225" / "p225_002.txt").write_text("Ask her to bring these things.\n", encoding="utf-8")
    write_voiced(root / "wav48_silence_trimmed" / "p225" / "p225_001_mic1.flac", 0.8)
    write_voiced(root / "wav48_silence_trimmed" / "p225" / "p225_001_mic2.flac", 0.8)
    for n in (1, 2):  # p315 in VCTK 0.92: recordings, no txt/ folder
        for mic in (1, 2):
            write_voiced(root / "wav48_silence_trimmed" / "p315" / f"p315_00{n}_mic{mic}.flac", 0.8)
    out = tmp_path / "prep"
    code, lines = _prepare(str(root), "--format", "vctk", "--out", str(out))
    assert code == 0, lines
    report = [row.split("\t") for row in (out / "report.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    reasons = {row[1]: row[3] for row in report if row[0] == "rejected"}
    assert set(reasons) == {"p315_001", "p315_002", "p225_002"}
    assert reasons["p315_001"] == "audio without a transcript (no txt/p315/p315_001.txt)"
    assert reasons["p225_002"].startswith("transcript without audio")
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert stats["num_prepared"] == 1
    assert stats["rejected_by_reason"] == {"audio without a transcript": 2, "transcript without audio": 1}
    assert any("audio without a transcript: 2" in line for line in lines)

    only = tmp_path / "only-p315"
    assert "audio without a transcript" in _refused(str(root), "--format", "vctk", "--speaker", "p315", "--out", str(only))
    assert not only.exists()


def test_ljspeech_and_libritts_report_audio_without_transcripts(tmp_path: Path) -> None:
    lj = _ljspeech(tmp_path / "LJ", b"LJ001-0001|Hello there.\nLJ001-0009|No audio for me.\n", wavs=("LJ001-0001", "LJ001-0002"))
    out = tmp_path / "prep-lj"
    assert _prepare(str(lj), "--format", "ljspeech", "--out", str(out))[0] == 0
    report = (out / "report.tsv").read_text(encoding="utf-8")
    assert "LJ001-0002\t" in report and "audio without a transcript (no line in metadata.csv)" in report
    assert "LJ001-0009\t" in report and "transcript without audio (LJ001-0009.wav not found)" in report

    chapter = tmp_path / "Libri" / "19" / "198"
    write_voiced(chapter / "19_198_000000_000000.wav", 0.8)
    (chapter / "19_198_000000_000000.normalized.txt").write_text("Northanger Abbey.", encoding="utf-8")
    write_voiced(chapter / "19_198_000000_000001.wav", 0.8)
    (chapter / "19_198_000000_000002.normalized.txt").write_text("Lost audio.", encoding="utf-8")
    out = tmp_path / "prep-libri"
    assert _prepare(str(tmp_path / "Libri"), "--format", "libritts", "--out", str(out))[0] == 0
    report = (out / "report.tsv").read_text(encoding="utf-8")
    assert "19_198_000000_000001\t" in report and "audio without a transcript" in report
    assert "19_198_000000_000002\t" in report and "transcript without audio" in report


def _rows(*specs: tuple[str, str, str, str]) -> list[dict[str, str]]:
    return [{"id": i, "audio": a, "text": "A short sentence.", "speaker": s, "language": lang} for i, a, s, lang in specs]


def test_csv_failures_are_one_line_and_leave_nothing(tmp_path: Path) -> None:
    header_only = write_csv(tmp_path / "h" / "metadata.csv", [])
    out = tmp_path / "out"
    assert "has a header but no rows" in _refused(str(header_only), "--format", "csv", "--out", str(out))
    assert not out.exists()

    piped = tmp_path / "p" / "metadata.csv"
    piped.parent.mkdir()
    piped.write_text("id|audio|text|speaker|language\nu1|a.wav|Hi.|s|en-us\n", encoding="utf-8")
    assert "seems to use '|'" in _refused(str(piped), "--format", "csv", "--out", str(out))

    write_voiced(tmp_path / "n" / "a.wav", 0.8)
    no_speaker = write_csv(tmp_path / "n" / "metadata.csv", _rows(("u1", "a.wav", "", "en-us")))
    assert "empty speaker column" in _refused(str(no_speaker), "--format", "csv", "--out", str(out))
    assert not out.exists()

    (tmp_path / "d" / "folder.wav").mkdir(parents=True)
    folder_audio = write_csv(tmp_path / "d" / "metadata.csv", _rows(("u1", "folder.wav", "s", "en-us")))
    assert "the audio path is a folder" in _refused(str(folder_audio), "--format", "csv", "--out", str(out))

    broken = tmp_path / "b"
    (broken / "w").mkdir(parents=True)
    for n in range(3):
        (broken / "w" / f"{n}.wav").write_bytes(b"RIFF\x00\x00not really a wave file" * 8)
    corrupt = write_csv(broken / "metadata.csv", _rows(*((f"u{n}", f"w/{n}.wav", "s", "en-us") for n in range(3))))
    line = _refused(str(corrupt), "--format", "csv", "--out", str(out))
    assert "no usable utterance" in line and "3 rejected" in line and "cannot read audio" in line
    assert not out.exists()  # the features folder and resume journal made on the way are gone too

    existing = tmp_path / "mine"
    (existing / "notes.txt").parent.mkdir()
    (existing / "notes.txt").write_text("keep me", encoding="utf-8")
    _refused(str(corrupt), "--format", "csv", "--out", str(existing))
    assert sorted(p.name for p in existing.iterdir()) == ["notes.txt"]


def test_csv_cases_that_work(tmp_path: Path) -> None:
    corpus = tmp_path / "c"
    write_voiced(corpus / "a.wav", 0.8)
    write_voiced(tmp_path / "elsewhere" / "b.wav", 0.8)  # audio outside the corpus folder: allowed
    rows = _rows(("u1", "a.wav", "s", "en-us"), ("u2", "../elsewhere/b.wav", "s", "en-us"), ("u1", "a.wav", "s", "en-us"))
    out = tmp_path / "prep"
    code, lines = _prepare(str(write_csv(corpus / "metadata.csv", rows)), "--format", "csv", "--out", str(out))
    assert code == 0, lines
    assert (out / "manifest.jsonl").read_text(encoding="utf-8").count("\n") == 2
    assert "u1\t" in (out / "report.tsv").read_text(encoding="utf-8")  # the duplicate id, reported


@pytest.mark.parametrize("kind", ["file", "under-a-file"])
def test_out_that_cannot_be_written_is_one_line(tmp_path: Path, kind: str) -> None:
    corpus = tmp_path / "c"
    write_voiced(corpus / "a.wav", 0.8)
    write_csv(corpus / "metadata.csv", _rows(("u1", "a.wav", "s", "en-us")))
    blocker = tmp_path / "blocker.txt"
    blocker.write_text("x", encoding="utf-8")
    out = blocker if kind == "file" else blocker / "prep"
    line = _refused(str(corpus), "--format", "csv", "--out", str(out))
    assert "--out" in line
    assert blocker.read_text(encoding="utf-8") == "x"


def test_recipe_given_as_a_folder_is_one_line(tmp_path: Path) -> None:
    assert "is a folder" in _refused(str(tmp_path), "--format", "csv", "--out", str(tmp_path / "o"), "--recipe", str(tmp_path))
