"""Tests for IPA tokenization (pure: no espeak)."""

import unicodedata

import pytest

from vclone.text.phones import AFFRICATES, WORD_BOUNDARY, normalize_ipa, tokenize_ipa


@pytest.mark.parametrize(("ipa", "expected"), [
    ("dʒˈʌdʒ", ["dʒ", "ˈ", "ʌ", "dʒ"]),
    ("tʃˈɜːtʃ", ["tʃ", "ˈ", "ɜː", "tʃ"]),
    ("t͡ʃˈɜːt͡ʃ", ["tʃ", "ˈ", "ɜː", "tʃ"]),
    ("d͜ʒa", ["dʒ", "a"]),
    ("pxnˈɔɲtɕ", ["p", "x", "n", "ˈ", "ɔ", "ɲ", "tɕ"]),
    ("ʈʂʰˈɻ̩˥", ["ʈʂʰ", "ˈ", "ɻ̩", "˥"]),
    ("assˈadʒːa", ["a", "s", "s", "ˈ", "a", "dʒː", "a"]),
    ("pr̝̊ˈiːliʒ", ["p", "r̝̊", "ˈ", "iː", "l", "i", "ʒ"]),
    ("mʲˈɑxkʲix", ["mʲ", "ˈ", "ɑ", "x", "kʲ", "i", "x"]),
    ("ɐ̃ʊ̃", ["ɐ̃", "ʊ̃"]),
    ("kʷa˞", ["kʷ", "a˞"]),
    ("mˈɑ˨˩˦n", ["m", "ˈ", "ɑ", "˨˩˦", "n"]),
    ("ma35", ["m", "a", "35"]),
    ("ˌoʊvɚ", ["ˌ", "o", "ʊ", "v", "ɚ"]),
    ("eˑ", ["eˑ"]),
    ("k͡pa", ["k͡p", "a"]),
])
def test_tokens(ipa, expected):
    assert tokenize_ipa(ipa) == expected


def test_word_boundaries_and_punctuation():
    tokens = tokenize_ipa("dˈɑːɡ,  dˈʌzənt ɪt? ¿sí!")
    assert tokens == ["d", "ˈ", "ɑː", "ɡ", ",", WORD_BOUNDARY, "d", "ˈ", "ʌ", "z", "ə", "n", "t",
                      WORD_BOUNDARY, "ɪ", "t", "?", WORD_BOUNDARY, "¿", "s", "í", "!"]
    assert WORD_BOUNDARY == " "


def test_tie_bar_and_plain_spellings_are_the_same_phone():
    for affricate in AFFRICATES:
        tied = affricate[0] + "\u0361" + affricate[1]
        assert tokenize_ipa(tied + "a") == tokenize_ipa(affricate + "a") == [affricate, "a"]


def test_precomposed_and_decomposed_spellings_are_the_same_phone():
    assert tokenize_ipa("o\u0303") == tokenize_ipa("\u00f5") == [unicodedata.normalize("NFC", "õ")]


def test_normalize_ipa_drops_espeak_clitic_marks_and_unifies_g():
    assert normalize_ipa("  sə- vjˈø\tga ") == "sə vjˈø ɡa"


@pytest.mark.parametrize("ipa", ["ðə kwˈɪk, bɹˈaʊn!", "t͡ʃa  b", "ʈʂʰˈɻ̩˥ ɐ̃ʊ̃", "", "  "])
def test_tokens_spell_the_normalized_ipa(ipa):
    assert "".join(tokenize_ipa(ipa)) == normalize_ipa(ipa)


def test_no_token_is_a_lone_modifier_after_a_phone():
    for token in tokenize_ipa("tʰa̰ːʲ ŋ̍ kʷ"):
        assert not unicodedata.combining(token[0])
        assert unicodedata.category(token[0]) != "Lm"


def test_lone_leading_modifier_is_its_own_token():
    assert tokenize_ipa("ʰa") == ["ʰ", "a"]


def test_normalize_ipa_drops_espeak_caret_leak():
    # espeak 1.52 leaks "^" into Russian words spelled without ё (серьезный).
    assert normalize_ipa("sʲirɪ^jjˈeznyj") == "sʲirɪjjˈeznyj"
    assert "^" not in tokenize_ipa("sʲirɪ^jjˈeznyj")
