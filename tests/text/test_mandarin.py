"""Tests for Mandarin tone recovery from espeak-ng's mnemonics."""

import espeakng_loader
import pytest

from vclone.errors import TextError
from vclone.text.languages import get_language
from vclone.text.mandarin import TONE_LETTERS_BY_NUMBER, MandarinReader


@pytest.fixture(scope="module")
def pinyin_reader():
    return MandarinReader(voice="cmn-latn-pinyin", library=espeakng_loader.get_library_path(),
                          data_path=espeakng_loader.get_data_path())


def test_all_five_tones_are_distinct(pinyin_reader):
    ipa = pinyin_reader("ma1 ma2 ma3 ma4 ma5")
    assert ipa == "mˈɑ˥ mˈɑ˧˥ mˈɑ˨˩˦ mˈɑ˥˩ mˈɑ˩"


def test_no_ascii_leftovers_of_espeak_mnemonics(pinyin_reader):
    ipa = pinyin_reader("shi4 zhi1 chi1 ri4 zi4 ci2 si4 er2 ta1 pa1 ka1 qi1 re4 dong1 ")
    assert not set(ipa) & set(".[-h0123456789")
    assert ipa.split() == ["ʂˈɻ̩˥˩", "ʈʂˈɻ̩˥", "ʈʂʰˈɻ̩˥", "ʐˈɻ̩˥˩", "tsˈɹ̩˥˩", "tsʰˈɹ̩˧˥", "sˈɹ̩˥˩",
                           "ˈɚ˧˥", "tʰˈɑ˥", "pʰˈɑ˥", "kʰˈɑ˥", "tɕʰˈi˥", "ʐˈɤ˥˩", "tˈʊŋ˥"]


def test_punctuation_is_kept_where_phonemizer_would_put_it(pinyin_reader):
    assert pinyin_reader("ni3, (hao3)! ma5?") == "nˈi˨˩˦, (χˈɑu˨˩˦)! mˈɑ˩?"


def test_words_in_another_language_keep_their_ipa(pinyin_reader):
    # espeak reads non-pinyin words in English between language flags; no tone parsing there.
    ipa = pinyin_reader("ni3 hello")
    assert ipa.startswith("nˈi˨˩˦ ")
    assert "(" not in ipa and "˥" not in ipa.split()[1]


def test_tone_letters_are_distinct_per_tone():
    letters = list(TONE_LETTERS_BY_NUMBER.values())
    assert len(set(letters)) == len(letters)
    assert all(set(letter) <= set("˥˦˧˨˩") for letter in letters)


def test_hanzi_voice_is_registered_as_tonal():
    assert get_language("zh").tonal and get_language("zh-pinyin").tonal
    assert not get_language("en").tonal


def test_misaligned_readings_are_a_text_error(pinyin_reader, monkeypatch):
    monkeypatch.setattr(pinyin_reader, "_clauses",
                        lambda text, mode: ["a¦b"] if mode & 0x02 else ["a"])
    with pytest.raises(TextError):
        pinyin_reader("ma1")


def test_decimal_points_between_digits_are_not_punctuation(pinyin_reader):
    ipa = pinyin_reader("3.5")  # san1 dian3 wu3
    assert "." not in ipa
    assert "iɛ" in ipa and ipa.endswith("u˨˩˦")
