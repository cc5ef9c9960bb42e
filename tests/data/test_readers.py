"""Each corpus reader on a tiny fixture corpus generated inside the test."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_fixtures import write_csv, write_voiced

from vclone.data.readers import read_corpus, safe_id
from vclone.errors import CorpusError


def test_ljspeech_prefers_normalized_column_and_reports_malformed_lines(tmp_path: Path) -> None:
    root = tmp_path / "LJ"
    write_voiced(root / "wavs" / "LJ001-0001.wav", 1.0)
    write_voiced(root / "wavs" / "LJ001-0002.wav", 1.0)
    (root / "metadata.csv").write_text(
        "LJ001-0001|Printing, in 1 sense|Printing, in one sense\n"
        "LJ001-0002|Only raw text|\n"
        "garbage-line-without-separator\n",
        encoding="utf-8",
    )
    listing = read_corpus(root, corpus_format="ljspeech")
    assert [u.id for u in listing.utterances] == ["LJ001-0001", "LJ001-0002"]
    assert listing.utterances[0].text == "Printing, in one sense"
    assert listing.utterances[1].text == "Only raw text"
    assert {u.speaker for u in listing.utterances} == {"ljspeech"}
    assert {u.language for u in listing.utterances} == {"en-us"}
    assert listing.utterances[0].audio_path == (root / "wavs" / "LJ001-0001.wav").resolve()
    assert [(r.id, r.reason) for r in listing.rejected] == [
        ("metadata.csv line 3", "expected id|text|normalized text, found 1 column")
    ]


def test_ljspeech_overrides_and_missing_metadata(tmp_path: Path) -> None:
    root = tmp_path / "LJ"
    (root / "wavs").mkdir(parents=True)
    with pytest.raises(CorpusError, match="metadata.csv"):
        read_corpus(root, corpus_format="ljspeech")
    (root / "metadata.csv").write_text("x|hello\n", encoding="utf-8")
    write_voiced(root / "wavs" / "x.wav", 0.6)
    listing = read_corpus(root, corpus_format="ljspeech", language="en-gb", speaker="linda")
    assert (listing.utterances[0].speaker, listing.utterances[0].language) == ("linda", "en-gb")


def test_vctk_new_and_old_layouts(tmp_path: Path) -> None:
    root = tmp_path / "VCTK"
    (root / "txt" / "p225").mkdir(parents=True)
    (root / "txt" / "p226").mkdir(parents=True)
    (root / "txt" / "p225" / "p225_001.txt").write_text("Please call Stella.\n", encoding="utf-8")
    (root / "txt" / "p226" / "p226_001.txt").write_text("Ask her to bring these things.", encoding="utf-8")
    write_voiced(root / "wav48_silence_trimmed" / "p225" / "p225_001_mic1.flac", 0.8)
    write_voiced(root / "wav48" / "p226" / "p226_001.wav", 0.8)
    listing = read_corpus(root, corpus_format="vctk")
    by_id = {u.id: u for u in listing.utterances}
    assert by_id["p225_001"].audio_path.name == "p225_001_mic1.flac"
    assert by_id["p226_001"].audio_path.name == "p226_001.wav"
    assert by_id["p225_001"].text == "Please call Stella."
    assert {u.speaker for u in listing.utterances} == {"p225", "p226"}
    assert {u.language for u in listing.utterances} == {"en-gb"}
    only = read_corpus(root, corpus_format="vctk", speaker="p226")
    assert [u.id for u in only.utterances] == ["p226_001"]
    with pytest.raises(CorpusError, match="p999"):
        read_corpus(root, corpus_format="vctk", speaker="p999")


def test_libritts_layout_and_missing_transcript(tmp_path: Path) -> None:
    root = tmp_path / "LibriTTS" / "train-clean-100"
    chapter = root / "19" / "198"
    write_voiced(chapter / "19_198_000000_000000.wav", 0.8)
    (chapter / "19_198_000000_000000.normalized.txt").write_text("Northanger Abbey.", encoding="utf-8")
    write_voiced(chapter / "19_198_000000_000001.wav", 0.8)
    (chapter / "19_198_000000_000001.original.txt").write_text("Chapter 1.", encoding="utf-8")
    write_voiced(chapter / "19_198_000000_000002.wav", 0.8)
    listing = read_corpus(root.parent, corpus_format="libritts")
    assert [u.text for u in listing.utterances] == ["Northanger Abbey.", "Chapter 1."]
    assert {u.speaker for u in listing.utterances} == {"19"}
    assert [r.id for r in listing.rejected] == ["19_198_000000_000002"]


def test_csv_and_tsv(tmp_path: Path) -> None:
    root = tmp_path / "c"
    write_voiced(root / "w" / "x.wav", 0.6)
    rows = [
        {"id": "u1", "audio": "w/x.wav", "text": "hola", "speaker": "s1", "language": "es"},
        {"id": "", "audio": "w/y.wav", "text": "adios", "speaker": "s1", "language": "es"},
        {"id": "u3", "audio": "", "text": "nada", "speaker": "s1", "language": "es"},
        {"id": "u1", "audio": "w/x.wav", "text": "dup", "speaker": "s1", "language": "es"},
    ]
    write_csv(root / "metadata.csv", rows)
    listing = read_corpus(root, corpus_format="csv")
    assert [u.id for u in listing.utterances] == ["u1"]
    assert listing.utterances[0].audio_path == (root / "w" / "x.wav").resolve()
    assert sorted(r.reason for r in listing.rejected) == [
        "duplicate id",
        "transcript without audio (empty audio column)",
        "transcript without audio (y.wav not found)",
    ]
    tsv = write_csv(root / "m.tsv", rows[:1], delimiter="\t")
    assert [u.text for u in read_corpus(tsv, corpus_format="csv").utterances] == ["hola"]


def test_csv_header_problems_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("file_name,transcript\nx.wav,hi\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="audio column"):
        read_corpus(bad, corpus_format="csv")
    nospk = tmp_path / "nospk.csv"
    nospk.write_text("audio,text,language\nx.wav,hi,en-us\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="--speaker"):
        read_corpus(nospk, corpus_format="csv")
    write_voiced(tmp_path / "x.wav", 0.6)
    listing = read_corpus(nospk, corpus_format="csv", speaker="me")
    assert listing.utterances[0].speaker == "me"


def test_missing_corpus_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        read_corpus(tmp_path / "nope", corpus_format="ljspeech")
    with pytest.raises(CorpusError, match="ljspeech, vctk, libritts, csv"):
        read_corpus(tmp_path, corpus_format="mp3s")


def test_safe_id() -> None:
    assert safe_id("spk/utt 01") == "spk_utt_01"
    assert safe_id("../..") == "utt"
