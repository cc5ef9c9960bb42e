"""Corpus preparation: outputs, bad-item report, resume, crash safety, vocabulary merge."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from corpus_fixtures import write_csv, write_voiced

from vclone.audio import AudioConfig
from vclone.data.features import FeatureExtractor, FeatureSettings, load_features
from vclone.data.manifest import load_prepared, merge_vocabs
from vclone.data.prepare import PrepareConfig, prepare_corpus
from vclone.errors import ConfigError, UnsupportedLanguageError

SETTINGS = FeatureSettings(audio=AudioConfig(), min_duration_s=0.5, max_duration_s=3.0)


def _config(corpus: Path, out: Path, **kw) -> PrepareConfig:
    return PrepareConfig(corpus=corpus, corpus_format="csv", out=out, features=SETTINGS, **kw)


def test_prepare_writes_manifest_vocab_and_features(tiny_csv_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "prep"
    summary = prepare_corpus(_config(tiny_csv_corpus, out))
    assert (summary.num_items, summary.num_prepared, summary.num_rejected) == (4, 4, 0)
    prepared = load_prepared(out)
    assert [e.id for e in prepared.entries] == ["a1", "a2", "b1", "b2"]
    assert prepared.vocab.speakers == ("alice", "bruno")
    assert prepared.vocab.languages == ("en-us", "es")
    assert prepared.vocab.audio == AudioConfig()
    a2 = prepared.entries[1]
    assert "three" in a2.normalized_text  # numbers are read out in the text's language
    assert " " in a2.phonemes and all(p in prepared.vocab.phones for p in a2.phonemes)
    feats = load_features(prepared.features_path(a2))
    assert feats["mel"].shape == (a2.num_frames, 80)
    # 1.0 s of tone between 0.2 s silences at 16 kHz: trimmed close to 1 s, resampled to 22050 Hz.
    assert 0.9 < a2.duration < 1.25
    assert feats["wav"].numel() == pytest.approx(a2.duration * 22050, abs=1)
    assert abs(feats["wav"].numel() / 256 - a2.num_frames) <= 1
    stats = json.loads((out / "stats.json").read_text())
    assert set(stats["hours_by_language"]) == {"en-us", "es"}
    assert stats["hours_by_speaker"]["alice"] == pytest.approx((prepared.entries[0].duration + a2.duration) / 3600, rel=1e-3)


def _bad_corpus(root: Path) -> Path:
    rows = []

    def add(utt_id: str, text: str, language: str = "en-us", audio: str | None = None) -> None:
        rows.append({"id": utt_id, "audio": audio or f"wavs/{utt_id}.wav", "text": text, "speaker": "s", "language": language})

    write_voiced(root / "wavs" / "good.wav", 1.0)
    add("good", "A perfectly fine sentence.")
    add("missing", "Where did the audio go?")
    (root / "wavs" / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage-not-a-wave-file" * 10)
    add("corrupt", "This file is broken.")
    write_voiced(root / "wavs" / "empty_text.wav", 1.0)
    add("empty_text", "   ")
    write_voiced(root / "wavs" / "short.wav", 0.2)
    add("short", "Hi.")
    write_voiced(root / "wavs" / "long.wav", 4.0)
    add("long", "This one goes on and on.")
    write_voiced(root / "wavs" / "emoji.wav", 1.0)
    add("emoji", "🙂🙂🙂")
    write_voiced(root / "wavs" / "klingon.wav", 1.0)
    add("klingon", "nuqneH", language="tlh")
    write_voiced(root / "wavs" / "partly.wav", 1.0)
    add("partly", "Hello 🙂 world.")
    return write_csv(root / "metadata.csv", rows)


def test_bad_items_are_skipped_and_reported(tmp_path: Path) -> None:
    _bad_corpus(tmp_path / "corpus")
    out = tmp_path / "prep"
    summary = prepare_corpus(_config(tmp_path / "corpus", out))
    assert [e.id for e in load_prepared(out).entries] == ["good", "partly"]
    assert summary.num_items == 9 and summary.num_rejected == 7 and summary.num_warnings == 1
    report = [line.split("\t") for line in (out / "report.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    reasons = {row[1]: row[3] for row in report if row[0] == "rejected"}
    assert set(reasons) == {"missing", "corrupt", "empty_text", "short", "long", "emoji", "klingon"}
    assert "too short" in reasons["short"] and "too long" in reasons["long"]
    assert "empty transcript" in reasons["empty_text"]
    assert "unsupported language" in reasons["klingon"]
    assert "unspeakable" in reasons["emoji"]
    assert "missing" in reasons["missing"] or "not found" in reasons["missing"] or "exist" in reasons["missing"]
    warnings = {row[1]: row[3] for row in report if row[0] == "warning"}
    assert "🙂" in warnings["partly"]
    assert sum(summary.rejected_by_reason.values()) == 7


def test_rerun_resumes_and_redoes_only_changed_items(tiny_csv_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "prep"
    prepare_corpus(_config(tiny_csv_corpus, out))
    first = (out / "manifest.jsonl").read_text(encoding="utf-8")
    again = prepare_corpus(_config(tiny_csv_corpus, out))
    assert (again.num_prepared, again.num_resumed) == (0, 4)
    assert (out / "manifest.jsonl").read_text(encoding="utf-8") == first
    write_voiced(tiny_csv_corpus / "wavs" / "b2.wav", 1.5, f0=120)  # new audio for one item
    third = prepare_corpus(_config(tiny_csv_corpus, out))
    assert (third.num_prepared, third.num_resumed) == (1, 3)
    changed = {e.id: e for e in load_prepared(out).entries}["b2"]
    assert changed.duration > 1.3
    # Different mel settings invalidate every cached item.
    other = replace(SETTINGS, audio=AudioConfig(n_mels=64))
    fourth = prepare_corpus(PrepareConfig(corpus=tiny_csv_corpus, corpus_format="csv", out=out, features=other))
    assert fourth.num_prepared == 4


def test_crash_midway_leaves_no_manifest_and_resumes(tiny_csv_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "prep"
    calls = {"n": 0}
    real = FeatureExtractor.run_one

    def crash_on_third(self, job):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("power cut")
        return real(self, job)

    monkeypatch.setattr(FeatureExtractor, "run_one", crash_on_third)
    with pytest.raises(RuntimeError, match="power cut"):
        prepare_corpus(_config(tiny_csv_corpus, out))
    assert not (out / "manifest.jsonl").exists() and not (out / "vocab.json").exists()
    monkeypatch.setattr(FeatureExtractor, "run_one", real)
    summary = prepare_corpus(_config(tiny_csv_corpus, out))
    assert (summary.num_resumed, summary.num_prepared) == (2, 2)
    assert len(load_prepared(out).entries) == 4


@pytest.mark.slow
def test_worker_pool_gives_the_same_result(tiny_csv_corpus: Path, tmp_path: Path) -> None:
    prepare_corpus(_config(tiny_csv_corpus, tmp_path / "one"))
    rows = [{"id": f"x{i}", "audio": f"wavs/{u}.wav", "text": "Again and again.", "speaker": "alice", "language": "en-us"}
            for i, u in enumerate(["a1", "a2", "b1", "b2"] * 10)]
    write_csv(tiny_csv_corpus / "many.csv", rows)
    two = prepare_corpus(_config(tiny_csv_corpus / "many.csv", tmp_path / "two", num_workers=2))
    assert two.num_prepared == 40 and two.num_rejected == 0
    one = {e.id: e for e in load_prepared(tmp_path / "one").entries}
    many = {e.id: e for e in load_prepared(tmp_path / "two").entries}
    assert many["x0"].num_frames == one["a1"].num_frames
    a = load_features(tmp_path / "one" / one["a1"].features)["mel"]
    b = load_features(tmp_path / "two" / many["x0"].features)["mel"]
    assert (a - b).abs().max() < 1e-4


def test_vocabularies_of_two_corpora_merge_independently_of_order(tiny_csv_corpus: Path, tmp_path: Path) -> None:
    prepare_corpus(_config(tiny_csv_corpus, tmp_path / "en", language=None))
    write_voiced(tmp_path / "de" / "wavs" / "d1.wav", 1.0)
    write_csv(tmp_path / "de" / "metadata.csv", [{"id": "d1", "audio": "wavs/d1.wav", "text": "Zwölf Boxkämpfer jagen Viktor.", "speaker": "dora", "language": "de"}])
    prepare_corpus(_config(tmp_path / "de", tmp_path / "de_prep"))
    v1 = load_prepared(tmp_path / "en").vocab
    v2 = load_prepared(tmp_path / "de_prep").vocab
    ab, ba = merge_vocabs([v1, v2]), merge_vocabs([v2, v1])
    assert ab.to_dict() == ba.to_dict()
    assert ab.speakers == ("alice", "bruno", "dora") and ab.languages == ("de", "en-us", "es")
    for entry in load_prepared(tmp_path / "en").entries:
        assert all(phone in ab.phones for phone in entry.phonemes)
    for phone in load_prepared(tmp_path / "de_prep").entries[0].phonemes:
        assert phone in ab.phones
    with pytest.raises(ConfigError, match="audio settings"):
        merge_vocabs([v1, replace(v2, audio=AudioConfig(n_mels=64))])


def test_bad_language_option_is_an_error(tiny_csv_corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedLanguageError, match="en-us"):
        _config(tiny_csv_corpus, tmp_path / "p", language="xx")
    with pytest.raises(ConfigError, match="workers"):
        _config(tiny_csv_corpus, tmp_path / "p", num_workers=0)
