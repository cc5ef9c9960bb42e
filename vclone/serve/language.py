"""Which language a text is written in, chosen among a voice's languages (when a request names none).

The rule, in order:
1. The script of most of the letters (Unicode names: LATIN, CYRILLIC, CJK, ...) keeps the voice's
   languages written in it; none left is an error (the voice cannot read the text).
2. One language left wins. Among several (the Latin ones), each scores the letters only it uses
   (ñ, ß, ł, ř, ...) twice and its common short words once; the best score wins. Pinyin with tone
   digits (ni3 hao3) counts for zh-pinyin.
3. A tie keeps the first of the tied languages in the voice's order (so an English text, or one with
   no clue at all, goes to the voice's first language among its equals).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

from vclone.errors import TextError
from vclone.text import get_language

__all__ = ["LanguageDetectionError", "text_script", "detect_language"]

# Letters that mark one language among the Latin-script ones vclone speaks.
_LETTERS = {
    "es": "ñ¿¡áíóú", "de": "ßäöü", "fr": "çèêëîïôœùû", "it": "òì", "pt": "ãõç", "pt-br": "ãõç", "pl": "łąęśźżńć",
    "cs": "řěůčšžý", "fi": "äö", "ca": "ç·ò", "nl": "ĳ",
}
# A handful of frequent short words per language (lower case).
_WORDS = {
    "en-us": "the and is of to you it in that what this with are was",
    "en-gb": "the and is of to you it in that what this with are was",
    "es": "el la los las de que y es en un una por con para no",
    "de": "der die das und ist nicht ich ein eine zu mit den sie es",
    "fr": "le la les et est un une je vous de des que il pas",
    "it": "il la che di è non un una per sono gli le con",
    "pt": "o a que de não é um uma os as em com para",
    "pt-br": "o a que de não é um uma os as em com para você",
    "nl": "de het een en is niet ik van dat je op zijn",
    "pl": "i w nie się to jest na że z do jak",
    "cs": "a je se v ne to na že s jak",
    "fi": "ja on ei se että hän mitä kun oli",
    "ca": "el la i és que de amb els les per no",
}
_PINYIN = re.compile(r"\b[a-zü]+[1-5]\b")
_WORD = re.compile(r"[^\W\d_]+(?:·[^\W\d_]+)?")


class LanguageDetectionError(TextError):
    """The text is written in a script none of the voice's languages uses."""


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    if name.startswith("CJK"):
        return "CJK"
    return name.split(" ", 1)[0] or None


def text_script(text: str) -> str | None:
    """The script most letters of `text` are written in (LATIN, CYRILLIC, CJK, ...), or None without letters."""
    counts = Counter(s for s in map(_script, text) if s is not None)
    return counts.most_common(1)[0][0] if counts else None


def _uses(code: str, script: str) -> bool:
    return any(s.split(" ", 1)[0] == script for s in get_language(code).scripts)


def _score(code: str, text: str, words: Counter) -> int:
    letters = sum(2 * text.count(ch) for ch in _LETTERS.get(code, ""))
    common = sum(words[w] for w in _WORDS.get(code, "").split())
    pinyin = 3 * len(_PINYIN.findall(text)) if code == "zh-pinyin" else 0
    return letters + common + pinyin


def detect_language(text: str, languages: Sequence[str]) -> str:
    """The language among `languages` (vclone codes, in the voice's order) that `text` is most
    likely written in, by the rule in this module's docstring."""
    if not languages:
        raise LanguageDetectionError("the voice has no languages to choose from")
    script = text_script(text)
    if script is None:
        return languages[0]
    candidates = [code for code in languages if _uses(code, script)]
    if not candidates:
        raise LanguageDetectionError(
            f"the text is written in {script} letters, which none of the voice's languages uses ({', '.join(languages)}); "
            "give the language, or use a voice that speaks it"
        )
    if len(candidates) == 1:
        return candidates[0]
    lowered = text.lower()
    words = Counter(_WORD.findall(lowered))
    scores = [_score(code, lowered, words) for code in candidates]
    return candidates[scores.index(max(scores))]
