"""Text clean-up before phonemization: Unicode, punctuation, numbers, unspeakable characters."""

from __future__ import annotations

import re
import unicodedata

from num2words import num2words

from vclone.errors import TextError
from vclone.text.languages import Language, get_language
from vclone.text.phones import PUNCTUATION

__all__ = ["drop_unspeakable", "normalize_text"]

# One spelling per mark, so that the phone inventory does not grow a token per typographic variant.
_CHARACTER_MAP = str.maketrans(
    {
        **dict.fromkeys("“”„‟«»‹›〝〞＂「」『』《》", '"'),
        **dict.fromkeys("‘’‚‛′＇`´", "'"),
        **dict.fromkeys("\u2010\u2011\u2212\u2043", "-"),
        **dict.fromkeys("\u2012\u2013\u2014\u2015", "—"),
        # Fullwidth (CJK) punctuation, which espeak and phonemizer do not treat as punctuation.
        "，": ",", "、": ",", "。": ".", "．": ".", "！": "!", "？": "?", "：": ":", "；": ";",
        "（": "(", "）": ")", "【": "[", "】": "]",
    }
)
_ELLIPSIS = re.compile(r"\.{3,}")
# Han characters are written against digits with no space ("有1000个"); other letters next to digits
# make a word ("mp3") that espeak reads better itself.
_HAN = "\u3400-\u9fff\uf900-\ufaff"
_HAN_THEN_DIGIT = re.compile(f"(?<=[{_HAN}])(?=[0-9])")
_RANGE_HYPHEN = re.compile(r"(?<=\d)-(?=\d)")
# Digits next to each other across these are one number ("12 345" in French typography).
_NUMBER_SPACES = "\u00a0\u202f\u2009"
# num2words raises all of these for forms a language does not implement (Czech ordinals,
# Polish negatives, numbers past its largest named power); the digits are then left to espeak.
_NUM2WORDS_ERRORS = (
    NotImplementedError, ValueError, TypeError, OverflowError, KeyError, IndexError
)
# Floats carry ~15 significant digits; longer decimals are left to espeak rather than misspelled.
_MAX_FLOAT_DIGITS = 15


def normalize_text(text: str, *, language: str | Language) -> str:
    """Text ready for espeak: NFC, one spelling per quote/dash, numbers as words, single spaces.

    Raises TextError when the text is empty or whitespace only.
    """
    lang = language if isinstance(language, Language) else get_language(language)
    if not text or not text.strip():
        raise TextError(
            f"text must contain something to speak, got {text!r}; pass a non-empty sentence"
        )
    text = unicodedata.normalize("NFC", text)
    # Format characters (zero-width spaces, soft hyphens, joiners) are invisible and unspoken.
    text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    text = _ELLIPSIS.sub("…", text.translate(_CHARACTER_MAP))
    # "1990-2000" is a range: a pause, not "ninety-two thousand".
    text = _RANGE_HYPHEN.sub("—", text)
    # espeak's Mandarin voice drops the point of "3.5" when a hanzi comes right before it.
    text = _HAN_THEN_DIGIT.sub(" ", text)
    text = _spell_numbers(text, lang)
    text = " ".join(text.split())
    if not text:
        raise TextError(
            "text must contain something to speak, got only invisible formatting characters; "
            "pass a non-empty sentence"
        )
    return text


def _number_pattern(lang: Language) -> re.Pattern[str]:
    """A number with optional sign, thousands grouping, fraction and ordinal suffix."""
    groups = re.escape(lang.group_separators + _NUMBER_SPACES)
    decimal = re.escape(lang.decimal_separator)
    suffixes = sorted(lang.ordinal_suffixes, key=len, reverse=True)
    ordinal = "|".join(re.escape(suffix) for suffix in suffixes) or "(?!)"
    return re.compile(
        rf"(?<![^\W{_HAN}]|[{decimal}{groups}])(?P<sign>-)?"
        rf"(?P<int>\d{{1,3}}(?:[{groups}]\d{{3}})+|\d+)"
        rf"(?:{decimal}(?P<frac>\d+))?(?P<ord>{ordinal})?(?![^\W{_HAN}])"
    )


def _spell_numbers(text: str, lang: Language) -> str:
    """Replace each number by its words in ``lang``; numbers num2words cannot say stay digits."""
    pattern = _number_pattern(lang)
    return pattern.sub(lambda match: _spell_number(match, lang), text)


def _spell_number(match: re.Match[str], lang: Language) -> str:
    """Words for one matched number, or the number without grouping when it cannot be spelled."""
    sign = match["sign"] or ""
    integer = re.sub(r"\D", "", match["int"])
    fraction = match["frac"]
    plain = sign + integer + (lang.decimal_separator + fraction if fraction else "")
    if lang.num2words_lang is None or (fraction and match["ord"]):
        # espeak reads plain digits in the voice's language; grouping marks would split them.
        return plain + (match["ord"] or "")
    try:
        if match["ord"]:
            words = num2words(int(integer), lang=lang.num2words_lang, to="ordinal")
        elif fraction:
            if len(integer) + len(fraction) > _MAX_FLOAT_DIGITS:
                return plain
            # Floats, not Decimals: num2words' Italian drops the fraction of a Decimal.
            words = num2words(float(f"{sign}{integer}.{fraction}"), lang=lang.num2words_lang)
        else:
            words = num2words(int(sign + integer), lang=lang.num2words_lang)
    except _NUM2WORDS_ERRORS:
        return plain
    # Commas inside spelled numbers ("one thousand, two hundred") would become pauses.
    return " ".join(words.replace(",", " ").split())


_GAP = "\x00"
_ZWJ = "\u200d"
_GAP_BEFORE_CLOSING = re.compile(r"\s*\x00[\s\x00]*(?=[.,!?;:…)\]}])")


def _is_speakable_letter(char: str, lang: Language) -> bool:
    """True for letters of the scripts the language's voice reads."""
    name = unicodedata.name(char, "")
    return any(name.startswith(script) for script in lang.scripts)


def _is_speakable(char: str, lang: Language) -> bool:
    """True for characters espeak reads in ``lang`` without switching language or naming them."""
    category = unicodedata.category(char)
    if char.isspace() or char in PUNCTUATION or char in "'-" or char in lang.spoken_symbols:
        return True
    if category == "Nd":
        return "0" <= char <= "9"
    return category.startswith("L") and _is_speakable_letter(char, lang)


def drop_unspeakable(text: str, *, language: str | Language) -> tuple[str, tuple[str, ...]]:
    """Split ``text`` into what the voice can read and the characters it cannot.

    Emoji, symbols, letters of another script and digits of other numeral systems are dropped
    (replaced by a space, so words on either side stay apart); combining marks go with the
    character they modify. Returns the cleaned text (single spaces) and the dropped characters,
    each once, in order of first appearance.
    """
    lang = language if isinstance(language, Language) else get_language(language)
    kept: list[str] = []
    dropped: dict[str, None] = {}
    cluster, speakable = "", True
    for char in text + " ":
        # Combining marks and zero-width joiners belong to the character before them (emoji
        # sequences are one dropped character, not several).
        if cluster and (unicodedata.category(char).startswith("M") or _ZWJ in (char, cluster[-1])):
            cluster += char
            continue
        if cluster:
            kept.append(cluster if speakable else _GAP)
            if not speakable:
                dropped[cluster] = None
        cluster, speakable = char, _is_speakable(char, lang)
    # A gap before a closing mark would leave a word boundary in front of it ("place 🙂." ->
    # "place .") that the same sentence without the emoji does not have.
    cleaned = _GAP_BEFORE_CLOSING.sub("", "".join(kept)).replace(_GAP, " ")
    return " ".join(cleaned.split()), tuple(dropped)
