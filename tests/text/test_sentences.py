"""split_sentences against literal tables, per language."""

from __future__ import annotations

import pytest

from vclone.text import split_sentences
from vclone.text.sentences import sentence_rules

CASES = [
    # (language, text, sentences)
    ("en-us", "Hello there. How are you? I'm fine!", ["Hello there.", "How are you?", "I'm fine!"]),
    ("en-us", "Dr. Smith paid $3.50 for it. Then he left.", ["Dr. Smith paid $3.50 for it.", "Then he left."]),
    ("en-us", "Pi is about 3.14 and e is 2.72. Both are irrational.", ["Pi is about 3.14 and e is 2.72.", "Both are irrational."]),
    ("en-us", "See No. 5 on p. 12, e.g. the table. I said no. Then I left.",
     ["See No. 5 on p. 12, e.g. the table.", "I said no.", "Then I left."]),
    ("en-us", "J. R. R. Tolkien wrote it. Mr. and Mrs. Jones read it in the U.S. every year.",
     ["J. R. R. Tolkien wrote it.", "Mr. and Mrs. Jones read it in the U.S. every year."]),
    ("en-us", 'He said "Stop!" Then he ran. "Why?" she asked.', ['He said "Stop!"', "Then he ran.", '"Why?" she asked.']),
    ("en-us", "Wait... what? Really?! Yes.", ["Wait... what?", "Really?!", "Yes."]),
    ("en-us", "Version 2.0 is out (finally). It works.", ["Version 2.0 is out (finally).", "It works."]),
    ("en-us", "One line\nwrapped here. Two.\n\nNew paragraph without a stop\n\n  ", ["One line wrapped here.", "Two.", "New paragraph without a stop"]),
    ("en-gb", "No full stop at all", ["No full stop at all"]),
    ("en-us", "   \n ", []),
    ("es", "¿Qué hora es? ¡Son las tres! Vale.", ["¿Qué hora es?", "¡Son las tres!", "Vale."]),
    ("es", "¡Hola! ¿qué tal? La Sra. García cuesta 3,5 euros. Adiós.", ["¡Hola!", "¿qué tal?", "La Sra. García cuesta 3,5 euros.", "Adiós."]),
    ("es", "¡Hola! —dijo él. Ver pág. 7.", ["¡Hola! —dijo él.", "Ver pág. 7."]),
    ("fr", "Bonjour ! Comment allez-vous ? M. Dupont est là.", ["Bonjour !", "Comment allez-vous ?", "M. Dupont est là."]),
    ("fr", "« Vraiment ! » Il rit. Mme Curie arriva.", ["« Vraiment ! »", "Il rit.", "Mme Curie arriva."]),
    ("de", "Am 3. Oktober kam Dr. Müller, z.B. mit Prof. Weber. Es regnete.",
     ["Am 3. Oktober kam Dr. Müller, z.B. mit Prof. Weber.", "Es regnete."]),
    ("de", "Das kostet 3,50 Euro usw. Danach? Nichts!", ["Das kostet 3,50 Euro usw. Danach?", "Nichts!"]),
    ("ru", "Привет. Как дела? А. С. Пушкин родился в 1799 г. в Москве. Это т.е. пример!",
     ["Привет.", "Как дела?", "А. С. Пушкин родился в 1799 г. в Москве.", "Это т.е. пример!"]),
    ("ru", "Цена 3,5 рубля. Хорошо.", ["Цена 3,5 рубля.", "Хорошо."]),
    ("zh", "你好。今天天气很好！你呢？我很好", ["你好。", "今天天气很好！", "你呢？", "我很好"]),
    ("zh", "价格是3.5元。他说：“好！”然后走了。", ["价格是3.5元。", "他说：“好！”", "然后走了。"]),
    ("it", "Il sig. Rossi è qui. Bene.", ["Il sig. Rossi è qui.", "Bene."]),
    ("pt-br", "O Dr. Silva chegou. Ótimo!", ["O Dr. Silva chegou.", "Ótimo!"]),
    ("pl", "Dnia 3. maja przyszedł dr Nowak. Dobrze.", ["Dnia 3. maja przyszedł dr Nowak.", "Dobrze."]),
]


@pytest.mark.parametrize(("language", "text", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_split_sentences_table(language: str, text: str, expected: list[str]) -> None:
    assert split_sentences(text, language=language) == expected


def test_sentences_keep_every_word() -> None:
    text = "Dr. Who? Yes. 3.5 kg, e.g. flour! ¿Y tú? Fin…"
    assert " ".join(split_sentences(text, language="es")).split() == text.split()


def test_rules_follow_the_language_family() -> None:
    assert sentence_rules("en-gb") == sentence_rules("en-us")
    assert sentence_rules("pt-br") == sentence_rules("pt")
    assert sentence_rules("es").openers == "¿¡"
    assert sentence_rules("zh-pinyin").abbreviations == frozenset()
