"""IPA strings split into phones, the units of the phone inventory shared by all languages.

Tokenization rules (the same in every language, so one phone is spelled one way everywhere):

- A phone is a base symbol plus everything that modifies it: combining diacritics (nasal ``̃``,
  syllabic ``̩``, voiceless ``̥``, ...), length ``ː``/``ˑ``, and modifier letters such as
  aspiration ``ʰ``, palatalization ``ʲ``, labialization ``ʷ`` and the rhotic hook ``˞``.
- The affricates in ``AFFRICATES`` are one phone, written without a tie bar (``t͡ʃ`` becomes
  ``tʃ``); any other tied pair stays one phone with its tie bar.
- Stress marks ``ˈ`` and ``ˌ`` are tokens of their own, where espeak puts them (before the stressed
  vowel), so the inventory does not double every vowel.
- Tones are tokens: a run of Chao tone letters (``˨˩˦``) or of tone digits is one token.
- A space is the word boundary token ``WORD_BOUNDARY``; each punctuation mark is its own token.

``"".join(tokenize_ipa(ipa)) == normalize_ipa(ipa)`` always holds.
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "AFFRICATES",
    "PUNCTUATION",
    "STRESS_MARKS",
    "TONE_LETTERS",
    "WORD_BOUNDARY",
    "normalize_ipa",
    "tokenize_ipa",
]

WORD_BOUNDARY = " "
"""The token between two words."""

STRESS_MARKS = frozenset("ˈˌ")
"""Primary and secondary stress, each a token of its own."""

PUNCTUATION = frozenset(';:,.!?¡¿—…"«»“”(){}[]')
"""Marks kept through phonemization (phonemizer's defaults), each a token of its own."""

TONE_LETTERS = frozenset("˥˦˧˨˩")
"""Chao tone letters; a run of them is one tone token."""

AFFRICATES = ("tʃ", "dʒ", "ts", "dz", "tɕ", "dʑ", "ʈʂ", "ɖʐ")
"""Stop + fricative pairs that are one phone, spelled without a tie bar."""

_TIE_BARS = "\u0361\u035c"
# espeak writes the voiced velar stop as the IPA letter "ɡ"; an ASCII "g" is the same phone.
# "^" leaks from espeak's Russian rules (e.g. "серьезный" written without ё) and is not a sound.
_SPELLING_FIXES = str.maketrans({"g": "ɡ", "-": None, "^": None})


def _attaches(char: str) -> bool:
    """True for characters that modify the phone before them instead of starting a new one."""
    if char in STRESS_MARKS:
        return False
    category = unicodedata.category(char)
    return category.startswith("M") or category == "Lm" or char == "˞"


def normalize_ipa(ipa: str) -> str:
    """One spelling per phone: NFC, affricates without tie bars, single spaces, no espeak ``-``/``^``.

    espeak marks some unstressed clitics with ``-`` (French ``sə-``); it is not a sound and is
    dropped.
    """
    text = unicodedata.normalize("NFC", ipa).translate(_SPELLING_FIXES)
    for tie in _TIE_BARS:
        for affricate in AFFRICATES:
            text = text.replace(affricate[0] + tie + affricate[1], affricate)
    return " ".join(text.split())


def _run_end(text: str, start: int, members: frozenset[str] | str) -> int:
    """Index just past the run of ``members`` characters that begins at ``start``."""
    end = start
    while end < len(text) and text[end] in members:
        end += 1
    return end


def _phone_end(text: str, start: int) -> int:
    """Index just past the phone that begins at ``start`` (base, affricate or tied pair + marks)."""
    end = start + 1
    if text[start:start + 2] in AFFRICATES:
        end = start + 2
    elif end + 1 < len(text) and text[end] in _TIE_BARS:
        end += 2
    while end < len(text) and _attaches(text[end]):
        end += 1
    return end


def tokenize_ipa(ipa: str) -> list[str]:
    """Split an espeak IPA string into phone, stress, tone, word boundary and punctuation tokens.

    The string is passed through ``normalize_ipa`` first; see the module docstring for the rules.
    A modifier with no phone before it (only possible in hand-written input) is a token alone.
    """
    text = normalize_ipa(ipa)
    tokens: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == WORD_BOUNDARY or char in STRESS_MARKS or char in PUNCTUATION:
            end = index + 1
        elif char in TONE_LETTERS:
            end = _run_end(text, index, TONE_LETTERS)
        elif char in "0123456789":
            end = _run_end(text, index, "0123456789")
        else:
            end = _phone_end(text, index)
        tokens.append(text[index:end])
        index = end
    return tokens
