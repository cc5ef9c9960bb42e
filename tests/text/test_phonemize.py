"""Tests for the Phonemizer: one real sentence per language through espeak-ng 1.52."""

import logging
import unicodedata

import pytest
from phonemizer.backend import EspeakBackend

from vclone.errors import ConfigError, TextError
from vclone.text.languages import supported_languages
from vclone.text.phonemize import PhonemizedText
from vclone.text.phones import AFFRICATES, WORD_BOUNDARY

# One sentence per language, and tokens that its phones must contain (affricates, length marks,
# diacritics and tones among them, so that each must come out as one token).
SENTENCES = {
    "en-us": ("The judge's church doesn't open at 9, does it?", {"dʒ", "tʃ", "ɜː", "ˈ", "?"}),
    "en-gb": ("The quick brown fox jumps over the lazy dog.", {"ɒ", "dʒ", "ə", "ˈ", "."}),
    "es": ("El veloz murciélago hindú comía feliz cardillo. ¿Chico?", {"θ", "tʃ", "ʎ", "¿"}),
    "de": ("Zwölf Boxkämpfer jagen Viktor quer über den Deich.", {"ts", "œ", "ç", "oː"}),
    "fr": ("Un bon vin blanc, portez ce vieux whisky au juge.", {"ʁ", "ɔ̃", "ɛ̃", "ɑ̃", "œ̃"}),
    "it": ("Quel vituperabile xenofobo zelante assaggia il whisky.", {"dʒː", "dz", "ɔ"}),
    "pt": ("Luís argüia à Júlia que brações, fé e chá eram palavras.", {"ɐ", "õ", "ʃ", "ɨ"}),
    "pt-br": ("O zângão voou para o pôr do sol.", {"ɐ̃", "ʊ̃"}),
    "nl": ("Pa's wijze lynx bezag vroom het fikse aquaduct. Goedemorgen!", {"ɣ", "ʋ", "aː"}),
    "pl": ("Pchnąć w tę łódź jeża lub ośm skrzyń fig. Dżem!", {"tɕ", "ɕ", "dʒ", "ɲ"}),
    "cs": ("Příliš žluťoučký kůň úpěl ďábelské ódy.", {"r̝̊", "ɲ", "ɟ", "iː", "uː"}),
    "fi": ("Hyvää huomenta, törkylempijävongahdus!", {"æː", "ø", "ŋ"}),
    "ru": ("Съешь же ещё этих мягких французских булок, да выпей чаю.", {"tʲ", "mʲ", "ɕ", "ts"}),
    "ca": ("Jove xef, porti whisky amb quinze glaçons d'hidrogen!", {"ʒ", "ɣ", "β", "ʃ"}),
    "zh": ("我们今天去北京。这是一个苹果！", {"˨˩˦", "˥˩", "˥", "tɕ", "ʈʂ", "pʰ"}),
    "zh-pinyin": ("wo3 men5 jin1 tian1 qu4 bei3 jing1. shi2 chi1?", {"˨˩˦", "˥˩", "˧˥", "tʰ"}),
}


def test_every_language_has_a_sentence():
    assert set(SENTENCES) == {language.code for language in supported_languages()}


def test_the_library_is_espeak_ng_1_52(phonemizer_for):
    phonemizer_for("en")
    assert EspeakBackend.version()[:2] == (1, 52)


@pytest.mark.parametrize("code", sorted(SENTENCES))
def test_sentence_in_every_language(code, phonemizer_for):
    sentence, expected = SENTENCES[code]
    result = phonemizer_for(code)(sentence)
    assert isinstance(result, PhonemizedText)
    assert result.unspeakable == ()
    assert "".join(result.phones) == result.ipa
    assert expected <= set(result.phones), expected - set(result.phones)
    assert WORD_BOUNDARY in result.phones
    for token in result.phones:
        first = token[0]
        assert not unicodedata.combining(first), token
        assert first not in "ːˑʰʲʷ", token
        assert not any(char.isascii() and char.isdigit() for char in token), token
    for left, right in zip(result.phones, result.phones[1:], strict=False):
        assert left + right not in AFFRICATES, (left, right)


def test_mandarin_hanzi_tones_in_order(phonemizer_for):
    tones = [p for p in phonemizer_for("zh")("妈麻马骂吗").phones if p[0] in "˥˦˧˨˩"]
    assert tones == ["˥", "˧˥", "˨˩˦", "˥˩", "˩"]


def test_mandarin_reads_decimals_after_hanzi(phonemizer_for):
    # 有3.5元: espeak drops the point ("dian3") unless a space separates hanzi and digits.
    assert "iɛ" in phonemizer_for("zh")("有3.5元").ipa


def test_mandarin_pinyin_and_hanzi_agree(phonemizer_for):
    hanzi = phonemizer_for("zh")("妈妈骂马")
    pinyin = phonemizer_for("zh-pinyin")("ma1 ma5 ma4 ma3")
    tones = [[p for p in result.phones if p[0] in "˥˦˧˨˩"] for result in (hanzi, pinyin)]
    assert tones[0] == tones[1] == ["˥", "˩", "˥˩", "˨˩˦"]


def test_unspeakable_characters_are_reported(phonemizer_for):
    result = phonemizer_for("en")("hello 🙂 world")
    assert result.unspeakable == ("🙂",)
    assert result.text == "hello world"
    assert result.phones == phonemizer_for("en")("hello world").phones


@pytest.mark.parametrize("text", ["", "  \n"])
def test_empty_text_is_an_error(text, phonemizer_for):
    with pytest.raises(TextError):
        phonemizer_for("en")(text)


def test_nothing_speakable_names_the_characters(phonemizer_for):
    with pytest.raises(TextError) as info:
        phonemizer_for("en")("🙂 🎉 ...")
    assert "'🙂'" in str(info.value) and "'🎉'" in str(info.value)
    assert "\n" not in str(info.value)


def test_batch_matches_single_calls_in_order(phonemizer_for):
    phonemizer = phonemizer_for("en")
    texts = ["First line, here.", "Is this the second?", "Three: 3!", "four"]
    assert phonemizer.phonemize_batch(texts) == [phonemizer(text) for text in texts]


def test_batch_texts_with_newlines_stay_one_item_each(phonemizer_for):
    phonemizer = phonemizer_for("de")
    results = phonemizer.phonemize_batch(["eins\nzwei", "drei", "vier\n\nfünf"])
    assert [result.text for result in results] == ["eins zwei", "drei", "vier fünf"]
    assert results[1] == phonemizer("drei")


@pytest.mark.parametrize("code", ["en", "zh"])
def test_batch_returns_errors_in_place(code, phonemizer_for):
    phonemizer = phonemizer_for(code)
    good = "hello world" if code == "en" else "你好"
    results = phonemizer.phonemize_batch([good, "", "🙂", good], errors="return")
    assert results[0] == results[3] == phonemizer(good)
    assert isinstance(results[1], TextError) and isinstance(results[2], TextError)


def test_batch_raises_naming_the_bad_text(phonemizer_for):
    with pytest.raises(TextError, match="text 1"):
        phonemizer_for("en").phonemize_batch(["fine", "🙂", "fine"])


def test_batch_rejects_an_unknown_errors_mode(phonemizer_for):
    with pytest.raises(ConfigError):
        phonemizer_for("en").phonemize_batch(["fine"], errors="ignore")


def test_empty_batch(phonemizer_for):
    assert phonemizer_for("en").phonemize_batch([]) == []


def test_language_switch_notices_stay_off_the_console(phonemizer_for, capfd, caplog):
    caplog.set_level(logging.DEBUG, logger="vclone.text.phonemize")
    phonemizer_for("fr").phonemize_batch(["Un whisky, s'il vous plaît.", "Le week-end."])
    assert capfd.readouterr().err == ""
    assert all(record.levelno == logging.DEBUG for record in caplog.records)


def test_punctuation_a_voice_never_saw_is_left_out_and_the_rest_kept() -> None:
    # A voice trained on Spanish texts without ¿ reads nothing for it, rather than <unk>.
    read = PhonemizedText(text="¿Qué?", ipa="¿kˈe?", phones=("¿", "k", "ˈ", "e", "?"))
    kept = read.keeping_punctuation({"k", "ˈ", "e", "?"})
    assert kept.phones == ("k", "ˈ", "e", "?") and kept.ipa == "kˈe?" and kept.text == read.text
    assert read.keeping_punctuation({"¿", "k", "ˈ", "e", "?"}) is read
    # Unknown phones are not punctuation: they stay, to be read as <unk> with a warning.
    assert read.keeping_punctuation({"k"}).phones == ("k", "ˈ", "e")
