"""Tests of the Kokoro corpus engine: the IPA respelling, catalog, plan, file checks and (slow) real renders."""

from __future__ import annotations

import csv
import hashlib
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

from recipes.kokoro import assets as assets_mod  # noqa: E402
from recipes.kokoro.assets import (  # noqa: E402
    INSTALL_COMMAND,
    STYLE_DIM,
    STYLE_ROWS,
    KokoroAssetError,
    KokoroAssets,
    default_voices_dir,
    read_model,
    read_style_table,
)
from recipes.kokoro.catalog import load_catalog  # noqa: E402
from recipes.kokoro.engine import SAMPLE_RATE, missing_runtime  # noqa: E402
from recipes.kokoro.ipa import MAX_TOKENS, encode, to_kokoro  # noqa: E402
from recipes.kokoro.plan import SPLITS, check_minimums, plan_corpus  # noqa: E402
from recipes.polyglot.plan import RealRecording  # noqa: E402
from vclone.text.languages import get_language  # noqa: E402

BUILD_SCRIPT = ROOT / "recipes" / "kokoro" / "build.py"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _engine_unavailable(catalog) -> str:
    reason = missing_runtime()
    if not reason:
        try:
            KokoroAssets(catalog.sha256).check(["af_heart", "ef_dora"])
        except KokoroAssetError as e:
            reason = str(e)
    return reason


# ---- the IPA respelling (pure) ----

RESPELLINGS = [
    ("en-us", "həlˈoʊ ðˈɛɹ, hˌaʊ ɑːɹ juː?", "həlˈO ðˈɛɹ, hˌW ɑɹ ju?"),
    ("en-us", "tədˈeɪ ðə ˌoʊvɚ tʃˈiːz", "tədˈA ðə ˌOvəɹ ʧˈiz"),
    ("en-us", "kˈæts ænd dʒˈɔɪ", "kˈæts ænd ʤˈY"),
    ("en-gb", "həlˈəʊ ðˈeə, ɑː juː", "həlˈQ ðˈɛː, ɑː juː"),
    ("es", "el pˈero, ˈaɪ mˈutʃos.", "el pˈero, ˈI mˈuʧos."),
    ("it", "ʧˈao pˈitsːa ˈɔdʒːɪ", "ʧˈao pˈiʦːa ˈɔʤːɪ"),
    ("de", "tsˈaɪt ɪç", "ʦˈIt ɪç"),
    ("pl", "dʑˈɛɲ dˈɔbrɨ", "ʥˈɛɲ dˈɔbrɨ"),
    ("ru", "dʲˈeɭa jɪɕˈɵ", "dʲˈela jɪɕˈo"),
    ("cs", "r̝ˈekɲete", "rʒˈekɲete"),
    ("fr", "« bɔ̃ʒˈuʁ »", "“ bɔ̃ʒˈuʁ ”"),
    ("zh", "ni˨˩˦χˈɑu˨˩˦, tɕˈi˥n tʰˈiɛ˥n", "ni↓χɑu↓, ʨin→ tʰiɛn→"),
    ("zh", "wˈo˨˩˦ mˈə˩n ʂˈɻ̩˥˩ pʰˈə˧˥ŋ", "wo↓ mən ʂɨ↘ pʰəŋ↗"),
    ("zh", "ni˨˩˦nˈi˧˥", "ni↓ni↗"),  # an n that starts the next syllable stays after the tone
]


@pytest.mark.parametrize(("language", "ipa", "kokoro"), RESPELLINGS)
def test_ipa_is_respelled_in_kokoros_symbols(language, ipa, kokoro):
    assert to_kokoro(ipa, language) == kokoro


def test_encode_drops_unknown_symbols_and_refuses_empty_or_long_text():
    vocab = {"a": 43, "b": 44, " ": 16}
    assert encode("ab ¿a", vocab) == [43, 44, 16, 43]
    with pytest.raises(ValueError, match="vocabulary"):
        encode("¿¡", vocab)
    with pytest.raises(ValueError, match="510"):
        encode("a" * (MAX_TOKENS + 1), vocab)


# ---- the catalog and the plan (pure) ----

def test_catalog_uses_every_voice_table_once(catalog):
    tables = [v for s in catalog.speakers for v in s.voices]
    assert len(tables) == len(set(tables)) == len(catalog.sha256) == 54
    # A table's first letter is its native language: a en-us, b en-gb, z zh, j ja, h hi, e es, p pt-br, ...
    assert Counter(v[0] for v in tables) == {"a": 20, "b": 8, "z": 8, "j": 5, "h": 4, "e": 3, "p": 3, "i": 2, "f": 1}


def test_training_voices_speak_their_native_languages_and_vclone_speaks_them(catalog):
    for s in catalog.speakers:
        for lang in (*s.languages, *s.test):
            get_language(lang)  # raises for a language vclone does not speak
        if s.held_out:
            continue
        assert all(lang == s.native or lang in s.also for lang in s.languages), s.name
        assert not set(s.languages) & set(s.test), s.name
    held_out = {s.native for s in catalog.speakers if s.held_out}
    assert {"ja", "hi", "en-us", "en-gb", "zh"} <= held_out
    assert all(s.held_out for s in catalog.speakers if s.native in ("ja", "hi"))


def _fake_recordings(n: int = 30) -> list[RealRecording]:
    return [RealRecording(id=f"ru_{i:04d}", text="слово " * (3 + i % 15), path=f"/nowhere/ru_{i:04d}.wav")
            for i in range(n)]


def test_plan_is_deterministic_and_splits_are_disjoint(catalog):
    a = plan_corpus(catalog, "tiny", 0, _fake_recordings())
    assert a == plan_corpus(catalog, "tiny", 0, _fake_recordings())
    assert [j.text for j in a.jobs] != [j.text for j in plan_corpus(catalog, "tiny", 1, _fake_recordings()).jobs]
    ids = [j.id for j in a.jobs]
    assert len(ids) == len(set(ids))
    train_langs: dict[str, set[str]] = {}
    for j in a.split("train"):
        train_langs.setdefault(j.speaker, set()).add(j.language)
    for j in a.split("cross"):
        assert j.language not in train_langs[j.speaker], j.id
    assert not {j.speaker for j in a.split("zeroshot")} & set(train_langs)
    assert check_minimums(a.jobs) == []
    assert set(SPLITS) == {j.split for j in a.jobs}
    santa = {j.language: j.voice for j in a.split("train") if j.speaker == "kokoro-santa"}
    assert santa == {"en-us": "am_santa", "es": "em_santa"}  # tiny: 2 utterances over 3 languages


def test_sentences_exist_for_every_language(catalog):
    plan = plan_corpus(catalog, "small", 0)
    langs = {j.language for j in plan.jobs}
    assert {"zh", "pt-br", "en-us", "fr"} <= langs
    zh = next(j.text for j in plan.jobs if j.language == "zh")
    assert " " not in zh and zh[-1] in "。？"


def test_medium_keeps_small_held_out_sets_and_extends_its_training_split(catalog):
    # The base voice moves to `medium` with the benchmark unchanged: the same cross-language and
    # zero-shot clips, and every training clip of `small` (so a build in small's folder re-renders none).
    key = lambda j: (j.split, j.speaker, j.language, j.voice, j.text)  # noqa: E731
    small, medium = plan_corpus(catalog, "small", 0), plan_corpus(catalog, "medium", 0)
    for split in ("cross", "zeroshot"):
        assert {key(j) for j in small.split(split)} == {key(j) for j in medium.split(split)}
    assert {key(j) for j in small.split("train")} < {key(j) for j in medium.split("train")}
    assert len(medium.split("train")) == 6 * len(small.split("train"))
    assert check_minimums(medium.jobs) == []


# ---- file checks: one clear line naming the file and the install command ----

def test_a_missing_truncated_or_altered_voice_table_is_one_line(tmp_path):
    good = np.zeros((STYLE_ROWS, 1, STYLE_DIM), dtype="<f4").tobytes()
    digest = hashlib.sha256(good).hexdigest()
    with pytest.raises(KokoroAssetError, match="missing") as missing:
        read_style_table(tmp_path, "af_none", digest)
    (tmp_path / "af_short.bin").write_bytes(good[:1000])
    with pytest.raises(KokoroAssetError, match="1000 bytes") as short:
        read_style_table(tmp_path, "af_short", digest)
    (tmp_path / "af_bad.bin").write_bytes(b"\x01" + good[1:])
    with pytest.raises(KokoroAssetError, match="sha256") as bad:
        read_style_table(tmp_path, "af_bad", digest)
    for error in (missing, short, bad):
        message = str(error.value)
        assert "\n" not in message and INSTALL_COMMAND in message and str(tmp_path) in message
    (tmp_path / "af_ok.bin").write_bytes(good)
    assert read_style_table(tmp_path, "af_ok", digest).shape == (STYLE_ROWS, STYLE_DIM)


def test_a_missing_truncated_or_altered_model_part_is_one_line(tmp_path, monkeypatch):
    package = tmp_path / "fake_kokoro_part"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "part.bin").write_bytes(b"0123456789")
    monkeypatch.syspath_prepend(str(tmp_path))
    cases = [
        ((("kokoro-no-such-part", "no_such_kokoro_part", 10),), "kokoro-no-such-part is not installed"),
        ((("fake-kokoro-part", "fake_kokoro_part", 11),), "has 10 bytes, expected 11"),
        ((("fake-kokoro-part", "fake_kokoro_part", 10),), "sha256"),
    ]
    for parts, expected in cases:
        monkeypatch.setattr(assets_mod, "MODEL_PARTS", parts)
        with pytest.raises(KokoroAssetError, match=expected) as error:
            read_model()
        assert "\n" not in str(error.value) and INSTALL_COMMAND in str(error.value)


MINI_CATALOG = """
[sizes.tiny]
utterances = 1
cross_languages = 1
cross_utterances = 1
zeroshot_languages = 1
zeroshot_utterances = 1
real_utterances = 0
real_max_chars = 0

[[speaker]]
name = "kokoro-af_heart"
voice = "af_heart"
native = "en-us"
gender = "female"
languages = ["en-us"]
test = ["es"]

[[speaker]]
name = "kokoro-ef_dora"
voice = "ef_dora"
native = "es"
gender = "female"
test = ["en-us"]
"""


def _mini_catalog(tmp_path: Path, catalog) -> Path:
    path = tmp_path / "voices.toml"
    hashes = "".join(f'{v} = "{catalog.sha256[v]}"\n' for v in ("af_heart", "ef_dora"))
    path.write_text(MINI_CATALOG + "\n[sha256]\n" + hashes, encoding="utf-8")
    return path


def test_build_without_voice_tables_is_one_line_and_writes_nothing(tmp_path, catalog):
    out = tmp_path / "corpus"
    done = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--out", str(out), "--voices", str(_mini_catalog(tmp_path, catalog)),
         "--voices-dir", str(tmp_path / "no-voices")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "af_heart.bin" in lines[0] and INSTALL_COMMAND in lines[0]
    assert not out.exists()


# ---- real renders (need the kokoro extra and the voice tables; CI installs both) ----

@pytest.fixture(scope="module")
def engine(catalog):
    reason = _engine_unavailable(catalog)
    if reason:
        pytest.skip(f"Kokoro is not installed: {reason}")
    from recipes.kokoro.engine import KokoroEngine

    return KokoroEngine(KokoroAssets(catalog.sha256), num_threads=1)


@pytest.mark.slow
@pytest.mark.parametrize(("voice", "language", "text"), [
    ("af_heart", "en-us", "Good morning, my friend."),
    ("ef_dora", "es", "Buenos días, amigo mío."),
    ("af_heart", "es", "Buenos días, amigo mío."),
    ("ef_dora", "en-us", "Good morning, my friend."),
])
def test_engine_renders_a_few_words(engine, voice, language, text):
    audio = engine(text, language, voice)
    seconds = len(audio) / SAMPLE_RATE
    assert SAMPLE_RATE == 24_000 and audio.dtype == np.float32 and audio.ndim == 1
    assert 0.6 < seconds < 4.0, seconds
    assert float(np.abs(audio).max()) > 0.1
    assert float(np.sqrt(np.mean(audio**2))) > 0.01  # speech, not a click


@pytest.mark.slow
def test_tiny_build_writes_the_layout_and_resumes(tmp_path, catalog, engine):
    out = tmp_path / "corpus"
    command = [sys.executable, str(BUILD_SCRIPT), "--out", str(out), "--voices", str(_mini_catalog(tmp_path, catalog))]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "3 rendered now" in first.stdout
    rows = {}
    for split, name in SPLITS.items():
        with open(out / name, encoding="utf-8", newline="") as f:
            rows[split] = list(csv.DictReader(f))
    assert [len(rows[s]) for s in SPLITS] == [1, 1, 1]
    assert rows["zeroshot"][0]["speaker"] == "kokoro-ef_dora" and rows["zeroshot"][0]["language"] == "en-us"
    for row in (r for split in rows.values() for r in split):
        info = sf.info(out / row["audio"])
        assert info.samplerate == SAMPLE_RATE and info.duration > 0.5
    assert (out / "speakers.json").is_file() and (out / "build.json").is_file()
    assert not (out / ".partial").exists()
    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and "0 rendered now, 3 kept" in second.stdout, second.stdout


def test_default_voices_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(assets_mod.VOICES_ENV, str(tmp_path))
    assert default_voices_dir() == tmp_path


def test_a_mixture_is_the_weighted_mean_of_checked_tables(tmp_path):
    tables = {"af_one": np.ones((STYLE_ROWS, STYLE_DIM), "<f4"), "af_three": np.full((STYLE_ROWS, STYLE_DIM), 3, "<f4")}
    for name, table in tables.items():
        (tmp_path / f"{name}.bin").write_bytes(table.tobytes())
    sha = {name: hashlib.sha256(t.tobytes()).hexdigest() for name, t in tables.items()}
    assets = KokoroAssets(sha, tmp_path)
    name = assets.mix("one+three", {"af_one": 3.0, "af_three": 1.0})
    assert np.allclose(assets.style_table(name), 1.5)
    with pytest.raises(ValueError, match="weights"):
        assets.mix("bad", {"af_one": -1.0, "af_three": 0.5})
