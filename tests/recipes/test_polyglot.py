"""Tests of the polyglot corpus builder: the pure plan, the manifests, and (marked corpus) a tiny build."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # recipes/ is a folder of the repository, not an installed package

from recipes.polyglot import build as build_mod  # noqa: E402
from recipes.polyglot import engines  # noqa: E402
from recipes.polyglot.catalog import Speaker, load_catalog  # noqa: E402
from recipes.polyglot.outputs import CSV_HEADER, write_csv  # noqa: E402
from recipes.polyglot.plan import (  # noqa: E402
    MIN_LANGUAGES,
    MIN_SPEAKERS,
    RealRecording,
    check_minimums,
    plan_corpus,
    share_out,
)
from recipes.polyglot.sentences import LANGUAGES, SentenceSource, sentence_stream  # noqa: E402

BUILD_SCRIPT = ROOT / "recipes" / "polyglot" / "build.py"
REGISTRY_LANGUAGES = {"en-us", "en-gb", "es", "de", "fr", "it", "pt", "nl", "pl", "cs", "fi", "ru", "ca"}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _fake_recordings(n: int = 30) -> dict[str, list[RealRecording]]:
    recs = [RealRecording(id=f"ru_{i:04d}", text="слово " * (3 + i % 15),
                          path=f"/nowhere/ru_{i:04d}.wav") for i in range(n)]
    return {"real-ru-msu": recs}


# ---- the plan (pure: no engines needed) ----

def test_plan_is_deterministic_for_a_seed(catalog):
    a = plan_corpus(catalog, "tiny", 0, _fake_recordings())
    b = plan_corpus(catalog, "tiny", 0, _fake_recordings())
    other = plan_corpus(catalog, "tiny", 1, _fake_recordings())
    assert a == b
    assert [j.text for j in a.jobs] != [j.text for j in other.jobs]
    synthetic_ids = lambda plan: [j.id for j in plan.jobs if j.engine != "real"]  # noqa: E731
    assert synthetic_ids(a) == synthetic_ids(other)  # the seed picks sentences, not assignments
    real_sources = lambda plan: [j.voice for j in plan.jobs if j.engine == "real"]  # noqa: E731
    assert real_sources(a) != real_sources(other)


def test_tiny_plan_meets_the_minimums(catalog):
    plan = plan_corpus(catalog, "tiny", 0, _fake_recordings())
    languages = {j.language for j in plan.train}
    speakers = {j.speaker for j in plan.train}
    assert len(languages) >= MIN_LANGUAGES and len(speakers) >= MIN_SPEAKERS
    assert languages <= REGISTRY_LANGUAGES
    assert check_minimums(plan.jobs) == []
    per_speaker = {s: sum(j.speaker == s for j in plan.train) for s in speakers}
    assert all(2 <= n <= 4 for n in per_speaker.values()), per_speaker


def test_training_speakers_speak_their_declared_languages(catalog):
    declared = {s.name: set(s.languages) for s in catalog.speakers}
    for size in ("tiny", "small"):
        plan = plan_corpus(catalog, size, 3, _fake_recordings())
        spoken: dict[str, set[str]] = {}
        for j in plan.train:
            spoken.setdefault(j.speaker, set()).add(j.language)
        assert spoken == {name: declared[name] for name in spoken}
        # the speakers of the cross-language test speak one language in training
        assert all(len(spoken[j.speaker]) == 1 for j in plan.cross)
    assert any(len(langs) == 3 for langs in declared.values()), "no polyglot speaker in the catalog"


def test_a_polyglot_speaker_shares_its_utterances_out_over_its_languages(catalog):
    polyglot = next(s for s in catalog.speakers if s.also_speaks)
    plan = plan_corpus(catalog, "small", 0)
    counts = Counter(j.language for j in plan.train if j.speaker == polyglot.name)
    assert sum(counts.values()) == catalog.sizes["small"].num_utterances
    assert set(counts) == set(polyglot.languages) and max(counts.values()) - min(counts.values()) <= 1
    assert all(j.id.startswith(f"{polyglot.name}-{j.language}-") for j in plan.train if j.speaker == polyglot.name)
    assert share_out(7, 3) == [3, 2, 2] and share_out(2, 3) == [1, 1, 0] and share_out(6, 1) == [6]


def test_cross_set_uses_training_speakers_in_new_languages(catalog):
    plan = plan_corpus(catalog, "small", 0)
    train_language = {j.speaker: j.language for j in plan.train}
    variant = {s.name: s.voice for s in catalog.speakers}
    assert plan.cross, "the cross-language test set is empty"
    for j in plan.cross:
        assert j.speaker in train_language, j.id
        assert j.language != train_language[j.speaker], j.id
        assert j.engine == "espeak" and j.voice.endswith("+" + variant[j.speaker]), j.voice
    assert {j.text for j in plan.cross}.isdisjoint({j.text for j in plan.train})


def test_ids_are_unique_and_paths_filesystem_safe(catalog):
    plan = plan_corpus(catalog, "small", 0, _fake_recordings())
    ids = [j.id for j in plan.jobs]
    assert len(ids) == len(set(ids))
    for j in plan.jobs:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", j.id), j.id
        assert j.audio == f"wavs/{j.speaker}/{j.id}.wav"


def test_espeak_voices_are_file_paths_with_a_variant(catalog):
    plan = plan_corpus(catalog, "tiny", 0)
    for j in (j for j in plan.jobs if j.engine == "espeak"):
        # "en-gb+f3" style aliases silently drop the variant; only "<group>/<file>+<variant>" keeps it
        assert re.fullmatch(r"[a-z]+/[A-Za-z-]+\+[A-Za-z0-9]+", j.voice), j.voice


def test_a_smaller_size_is_a_prefix_of_a_larger_one(catalog):
    # the same sentence stream per speaker lets `small` reuse the WAVs of a `tiny` build
    tiny = {j.id: j.text for j in plan_corpus(catalog, "tiny", 5).jobs if j.engine != "real"}
    small = {j.id: j.text for j in plan_corpus(catalog, "small", 5).jobs if j.engine != "real"}
    assert tiny.items() <= small.items()


def test_real_speaker_sample_follows_size_limits(catalog):
    recordings = _fake_recordings()
    spec = catalog.sizes["tiny"]
    plan = plan_corpus(catalog, "tiny", 0, recordings)
    real = [j for j in plan.jobs if j.engine == "real"]
    assert len(real) == spec.num_real_utterances
    assert all(len(j.text) <= spec.real_max_chars and j.voice.startswith("/nowhere/") for j in real)
    assert all(j.split == "train" and j.language == "ru" for j in real)
    without = plan_corpus(catalog, "tiny", 0)
    assert "real-ru-msu" not in {s.name for s in without.speakers}


@pytest.mark.parametrize("language", LANGUAGES)
def test_sentences_are_speakable_text(language):
    source = SentenceSource.for_language(language)
    sentences = sentence_stream(source, f"0/test/{language}", 40)
    assert len(set(sentences)) == 40
    for text in sentences:
        assert not re.search(r"[\d@/\\\"<>]|www|http", text), text
        assert text[0].isupper() and text[-1] in ".?", text
        assert 4 <= len(text.split()) <= 17, text


def test_festival_sentences_fit_the_voice_encoding(catalog):
    plan = plan_corpus(catalog, "small", 0)
    festival = [j for j in plan.jobs if j.engine == "festival"]
    assert {j.encoding for j in festival} >= {"latin-1", "iso-8859-2", "utf-8"}
    for j in festival:
        j.text.encode(j.encoding)


def test_catalog_rejects_a_cross_language_equal_to_the_training_one():
    with pytest.raises(ValueError, match="training language"):
        Speaker(name="espeak-x", engine="espeak", voice="m2", language="de", cross=("fr", "de"))
    with pytest.raises(ValueError, match="not one of"):
        Speaker(name="espeak-x", engine="espeak", voice="m2", language="xx")


def test_catalog_rejects_bad_polyglot_languages():
    with pytest.raises(ValueError, match="only espeak"):
        Speaker(name="flite-x", engine="flite", voice="slt", language="en-us", also_speaks=("de",))
    with pytest.raises(ValueError, match="repeats"):
        Speaker(name="espeak-x", engine="espeak", voice="m2", language="de", also_speaks=("fr", "de"))
    with pytest.raises(ValueError, match="both training"):
        Speaker(name="espeak-x", engine="espeak", voice="m2", language="de", also_speaks=("fr",), cross=("fr",))
    with pytest.raises(ValueError, match="not one of"):
        Speaker(name="espeak-x", engine="espeak", voice="m2", language="de", also_speaks=("xx",))


def test_catalog_cross_lists_only_new_languages(catalog):
    for sp in catalog.speakers:
        assert sp.language not in sp.cross and len(set(sp.cross)) == len(sp.cross), sp.name


def test_check_minimums_reports_a_small_corpus(catalog):
    plan = plan_corpus(catalog, "tiny", 0)
    few = [j for j in plan.jobs if j.language in {"it", "pl"}]
    problems = check_minimums(few)
    assert len(problems) == 2 and "languages" in problems[0] and "speakers" in problems[1]


def test_real_transcripts_lose_stress_marks_and_need_their_wav(tmp_path, monkeypatch):
    voice = tmp_path / "russian" / "msu_test"
    (voice / "etc").mkdir(parents=True)
    (voice / "wav").mkdir()
    transcripts = '( ru_0001 "Она завела, прядь вол+ос за ухо." )\n( ru_0002 "Нет файла." )\n'
    (voice / "etc" / "txt.done.data").write_text(transcripts, encoding="utf-8")
    (voice / "wav" / "ru_0001.wav").write_bytes(b"RIFF")
    monkeypatch.setattr(engines, "FESTIVAL_VOICES_DIR", tmp_path)
    assert engines.read_real_recordings("msu_test") == [
        RealRecording(id="ru_0001", text="Она завела, прядь волос за ухо.",
                      path=str(voice / "wav" / "ru_0001.wav"))
    ]
    assert engines.read_real_recordings("absent") == []


# ---- manifests and CLI behaviour that needs no engine ----

def test_csv_has_the_exact_header_and_round_trips(tmp_path, catalog):
    jobs = plan_corpus(catalog, "tiny", 0).train[:5]
    jobs[0] = dataclasses.replace(jobs[0], text='He said "so", then left, quietly.')
    write_csv(tmp_path / "metadata.csv", jobs)
    raw = (tmp_path / "metadata.csv").read_text(encoding="utf-8")
    assert raw.splitlines()[0] == ",".join(CSV_HEADER) == "id,audio,text,speaker,language"
    rows = list(csv.DictReader(raw.splitlines()))
    assert [r["text"] for r in rows] == [j.text for j in jobs]
    assert list(tmp_path.iterdir()) == [tmp_path / "metadata.csv"]  # no temp file left


def test_missing_engines_give_one_clear_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(engines.shutil, "which", lambda name: None)
    code = build_mod.main(["--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2
    assert "apt-get install espeak-ng" in err and "cannot build" in err
    assert not (tmp_path / "c").exists()


def test_a_folder_keeps_its_seed(tmp_path, capsys):
    (tmp_path / "build.json").write_text(json.dumps({"seed": 0, "format": 1}))
    assert build_mod.main(["--out", str(tmp_path), "--seed", "7"]) == 2
    assert "--seed 0" in capsys.readouterr().err


# ---- rendering (needs Debian's espeak-ng, festival, flite) ----

_BINARIES = ("espeak-ng", "festival", "flite")
needs_engines = pytest.mark.skipif(
    not all(shutil.which(b) for b in _BINARIES),
    reason="needs Debian's espeak-ng, festival and flite (apt-get install espeak-ng festival flite)",
)


@pytest.mark.corpus
@needs_engines
def test_a_failed_render_is_reported_and_skipped(tmp_path, catalog):
    good, bad = plan_corpus(catalog, "tiny", 0).train[:2]
    bad = dataclasses.replace(bad, text="")  # espeak writes an empty WAV for empty text
    seen: list[dict[str, str]] = []
    failures = build_mod.render_jobs([good, bad], tmp_path, 2, lambda n, f: seen.append(f))
    assert set(failures) == {bad.id} and len(seen) == 2
    assert (tmp_path / good.audio).is_file() and not (tmp_path / bad.audio).exists()
    assert not (tmp_path / ".partial").exists()


def _run_build(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BUILD_SCRIPT), "--out", str(out), "--size", "tiny"],
                          capture_output=True, text=True, timeout=180)


@pytest.mark.corpus
@needs_engines
@pytest.mark.timeout(240)
def test_tiny_build_is_valid_and_resumes(tmp_path):
    out = tmp_path / "corpus"
    done = _run_build(out)
    assert done.returncode == 0, done.stderr
    speakers = json.loads((out / "speakers.json").read_text(encoding="utf-8"))
    train_languages: dict[str, set[str]] = {}
    for name, split in (("metadata.csv", "train"), ("cross_test.csv", "cross")):
        lines = (out / name).read_text(encoding="utf-8").splitlines()
        assert lines[0] == "id,audio,text,speaker,language"
        rows = list(csv.DictReader(lines))
        assert rows, name
        for r in rows:
            audio, rate = sf.read(out / r["audio"], dtype="float32")
            assert audio.ndim == 1 and len(audio) > rate and np.abs(audio).max() > 0.05, r["id"]
            assert r["speaker"] in speakers and r["text"].strip()
            if split == "train":
                assert r["language"] in speakers[r["speaker"]]["languages"], r["id"]
                train_languages.setdefault(r["speaker"], set()).add(r["language"])
            else:
                assert train_languages[r["speaker"]] == {speakers[r["speaker"]]["language"]} != {r["language"]}, r["id"]
    assert {name: sorted(langs) for name, langs in train_languages.items()} == {name: sorted(s["languages"]) for name, s in speakers.items()}
    assert len(set().union(*train_languages.values())) >= MIN_LANGUAGES and len(train_languages) >= MIN_SPEAKERS
    assert any(s["real"] for s in speakers.values()) == Path("/usr/share/festival/voices/russian").is_dir()

    wavs = sorted(out.glob("wavs/*/*.wav"))
    before = {p: p.stat().st_mtime_ns for p in wavs}
    wavs[0].unlink()
    wavs[1].write_bytes(b"not a wav")
    again = _run_build(out)
    assert again.returncode == 0, again.stderr
    assert "2 rendered now" in " ".join(again.stdout.split())
    for p in wavs[2:]:
        assert p.stat().st_mtime_ns == before[p], f"{p} was rendered again"
    assert sf.info(wavs[0]).frames > 0 and sf.info(wavs[1]).frames > 0
