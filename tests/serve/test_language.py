"""The language of a text among a voice's languages: script first, then letters and common words, ties to the voice's order."""

from __future__ import annotations

import pytest

from vclone.serve.language import LanguageDetectionError, detect_language, text_script

VOICE = ("en-us", "es", "de", "fr", "pl", "ru", "zh")


@pytest.mark.parametrize(("text", "expected"), [
    ("Hello, how are you today?", "en-us"),
    ("¿Dónde está la biblioteca?", "es"),
    ("El perro de San Roque no tiene rabo.", "es"),
    ("Der Hund ist nicht groß.", "de"),
    ("Je ne sais pas où il est.", "fr"),
    ("Zażółć gęślą jaźń.", "pl"),
    ("Привет, как дела?", "ru"),
    ("你好，世界。", "zh"),
    ("Okay.", "en-us"),  # no clue: the voice's first Latin language
    ("12345 !!!", "en-us"),  # no letters at all: the voice's first language
])
def test_detects_among_the_voices_languages(text: str, expected: str) -> None:
    assert detect_language(text, VOICE) == expected


def test_ties_follow_the_voice_order_and_pinyin_counts_for_zh_pinyin() -> None:
    assert detect_language("Okay.", ("es", "en-us")) == "es"
    assert detect_language("Hello there.", ("en-gb", "en-us")) == "en-gb"
    assert detect_language("ni3 hao3 shi4 jie4", ("en-us", "zh-pinyin")) == "zh-pinyin"
    assert detect_language("Hola amigo", ("ru", "es")) == "es"


def test_a_script_the_voice_cannot_read_is_an_error() -> None:
    with pytest.raises(LanguageDetectionError, match=r"CYRILLIC letters, which none of the voice's languages uses \(en-us, es\)"):
        detect_language("Привет", ("en-us", "es"))
    assert text_script("ab где") == "CYRILLIC" and text_script("123") is None
