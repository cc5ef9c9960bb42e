"""Tests for text normalization and the removal of unspeakable characters."""

import pytest

from vclone.errors import TextError
from vclone.text.normalize import drop_unspeakable, normalize_text


@pytest.mark.parametrize(("language", "text", "expected"), [
    ("en", "I have 3 cats.", "I have three cats."),
    ("en", "It costs 1,234.5", "It costs one thousand two hundred and thirty-four point five"),
    ("en", "the 21st and 2nd", "the twenty-first and second"),
    ("en", "from -5 up", "from minus five up"),
    ("en-gb", "pi is 3.14", "pi is three point one four"),
    ("de", "Ich habe 3 Katzen und 1.000 Euro", "Ich habe drei Katzen und eintausend Euro"),
    ("de", "Es sind 2,5 Liter", "Es sind zwei Komma fünf Liter"),
    ("fr", "Il a 21 ans, le 2e jour", "Il a vingt et un ans, le deuxième jour"),
    ("fr", "3,5 et 12\u00a0345", "trois virgule cinq et douze mille trois cent quarante-cinq"),
    ("es", "Tengo 15 gatos, el 1º", "Tengo quince gatos, el primero"),
    ("es", "Son 2,5 kilos", "Son dos punto cinco kilos"),
    ("ru", "Мне 21 год", "Мне двадцать один год"),
    ("ru", "Это 3,5 литра", "Это три целых пять десятых литра"),
    ("it", "Sono 3,14 metri", "Sono tre virgola uno quattro metri"),
])
def test_numbers_become_words_in_the_text_language(language, text, expected):
    assert normalize_text(text, language=language) == expected


def test_numbers_inside_words_are_left_to_espeak():
    assert normalize_text("an mp3 in 3D", language="en") == "an mp3 in 3D"


def test_languages_without_num2words_keep_digits_without_grouping():
    assert normalize_text("有1,000个", language="zh") == "有 1000个"


def test_unsupported_number_forms_stay_digits():
    # num2words has no Czech ordinals and no negative Polish numbers.
    assert normalize_text("-5 stopni", language="pl") == "-5 stopni"


def test_numeric_ranges_are_a_pause():
    assert normalize_text("1990-2000", language="en") == (
        "one thousand nine hundred and ninety—two thousand"
    )


def test_quotes_dashes_ellipses_and_whitespace_are_unified():
    text = "«Hé»  — “quoi”…\n l’homme – ‘x’ ..."
    assert normalize_text(text, language="fr") == "\"Hé\" — \"quoi\"… l'homme — 'x' …"


def test_nfc_and_invisible_characters():
    assert normalize_text("cafe\u0301 zero\u200bwidth soft\u00adhyphen", language="en") == (
        "café zerowidth softhyphen"
    )


def test_fullwidth_punctuation_becomes_ascii():
    assert normalize_text("你好，世界！好吗？", language="zh") == "你好,世界!好吗?"


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\u200b"])
def test_empty_text_is_an_error(text):
    with pytest.raises(TextError) as info:
        normalize_text(text, language="en")
    assert "\n" not in str(info.value)


def test_emoji_are_dropped_and_reported():
    assert drop_unspeakable("hello 🙂 world 🙂!", language="en") == ("hello world!", ("🙂",))


def test_emoji_sequences_are_one_character():
    text, dropped = drop_unspeakable("a ❤️ b 👨\u200d👩\u200d👧", language="en")
    assert text == "a b"
    assert dropped == ("❤️", "👨\u200d👩\u200d👧")


def test_letters_of_another_script_are_dropped():
    assert drop_unspeakable("Привет hi", language="en") == ("hi", tuple("Привет"))
    assert drop_unspeakable("да ok", language="ru") == ("да", ("o", "k"))
    assert drop_unspeakable("你好ok", language="zh") == ("你好", ("o", "k"))


def test_symbols_are_kept_only_where_the_voice_reads_them():
    assert drop_unspeakable("5 % * #", language="en") == ("5 %", ("*", "#"))
    assert drop_unspeakable("5 %", language="zh") == ("5", ("%",))


def test_accented_letters_and_apostrophes_are_speakable():
    text = "Ça m'a coûté, naïve-ment: ¿qué? ß ø ł ř"
    assert drop_unspeakable(text, language="fr") == (text, ())
