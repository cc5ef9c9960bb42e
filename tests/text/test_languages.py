"""Tests for the language registry."""

import pytest

from vclone.errors import ConfigError, UnsupportedLanguageError
from vclone.text.languages import Language, get_language, supported_languages

REQUIRED = {"en-us", "en-gb", "es", "de", "fr", "it", "pt", "pt-br", "nl", "pl", "cs", "fi", "ru",
            "ca", "zh", "zh-pinyin"}


def test_every_required_language_is_supported():
    assert {language.code for language in supported_languages()} >= REQUIRED


def test_codes_are_unique():
    codes = [language.code for language in supported_languages()]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(("code", "expected"), [
    ("en", "en-us"), ("EN-US", "en-us"), ("pt_BR", "pt-br"), (" de ", "de"), ("cmn", "zh"),
])
def test_get_language_accepts_aliases_and_spellings(code, expected):
    assert get_language(code).code == expected


def test_mandarin_voices():
    assert get_language("zh").espeak_voice == "cmn"
    assert get_language("zh-pinyin").espeak_voice == "cmn-latn-pinyin"


def test_unsupported_language_message_lists_codes_on_one_line():
    with pytest.raises(UnsupportedLanguageError) as info:
        get_language("klingon")
    message = str(info.value)
    assert "\n" not in message
    assert "'klingon'" in message
    for code in REQUIRED:
        assert code in message


@pytest.mark.parametrize("kwargs", [
    {"code": "EN"}, {"espeak_voice": ""}, {"scripts": ()}, {"decimal_separator": ";"},
    {"decimal_separator": ",", "group_separators": ","},
])
def test_language_validates_fields(kwargs):
    fields = {"code": "xx", "name": "X", "espeak_voice": "en-us", "num2words_lang": None,
              "scripts": ("LATIN",), "decimal_separator": "."}
    with pytest.raises(ConfigError):
        Language(**{**fields, **kwargs})


@pytest.mark.parametrize("language", supported_languages(), ids=lambda language: language.code)
def test_spoken_symbols_are_spoken(language, phonemizer_for):
    """Every symbol a language keeps must come out of espeak as phones, not silence."""
    phonemizer = phonemizer_for(language.code)
    word = {"ru": "да", "zh": "妈", "zh-pinyin": "ma1"}.get(language.code, "a")
    bare = phonemizer(f"{word} {word}").phones
    for symbol in language.spoken_symbols:
        assert phonemizer(f"{word} {symbol} {word}").phones != bare, symbol
