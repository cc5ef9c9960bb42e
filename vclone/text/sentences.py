"""Splitting text into sentences per language: where a reader stops, not at every full stop.

A sentence ends at a run of `.`, `!`, `?` or `…` (with the quotes and brackets that close it) when a
space follows and the next word does not start in lower case; at `。！？` with no space needed; and at
a blank line. A full stop does not end a sentence after an abbreviation of the language ("Dr.",
"z.B.", "т.е."), an initial ("J. R. R. Tolkien"), a number word before a number ("No. 5"), or, in
languages that write ordinals with a dot ("am 3. Oktober"), a number. Numbers such as "3.5" never
split because no space follows their point. Each sentence keeps its own punctuation, so the
phonemizer reads it as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vclone.text.languages import Language, get_language

__all__ = ["SentenceRules", "sentence_rules", "split_sentences"]

_ENDERS = ".!?…"
# Fullwidth marks end a sentence with no space after them (Chinese and Japanese write none).
_SPACELESS_ENDERS = "。！？｡"
_CLOSERS = "\"'”’»)]}」』）】"
# Marks that may open a sentence before its first word: skipped when deciding whether the next word
# starts in lower case.
_OPENING_MARKS = "\"'“‘„«([{「『（【—–-"
_BOUNDARY = re.compile(
    rf"[{re.escape(_ENDERS + _SPACELESS_ENDERS)}]+(?:[{re.escape(_CLOSERS)}]|\s+»)*"
)
_PARAGRAPH = re.compile(r"\n\s*\n")
# Letters-and-dots like "U.S", "e.g", "z.B", "т.е": an abbreviation whatever the language.
_DOTTED = re.compile(r"^(?:[^\W\d_]{1,2}\.)+[^\W\d_]{1,2}$")


@dataclass(frozen=True)
class SentenceRules:
    """What ends a sentence in one language besides the shared marks."""

    abbreviations: frozenset[str] = frozenset()
    """Lower-case words, without their final dot, after which a full stop never ends a sentence."""
    numeric_abbreviations: frozenset[str] = frozenset()
    """Words that stand before a number ("no." in "No. 5"): a full stop after them ends no sentence
    when a digit follows, and does otherwise ("I said no. Then...")."""
    openers: str = ""
    """Marks that open a sentence (Spanish ¿ ¡): a sentence ends before them even in lower case."""
    ordinal_dot: bool = False
    """Numbers written with a dot are ordinals ("3. Oktober"), so a number's dot ends no sentence."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_MONTHS_EN = "jan feb mar apr jun jul aug sep sept oct nov dec"
_RULES: dict[str, SentenceRules] = {
    "en": SentenceRules(
        _words("mr mrs ms dr prof sr jr st mt vs etc cf inc ltd co corp approx dept gen gov lt col sgt capt rev hon ave blvd"),
        _words(f"no nos p pp vol fig ch art sec {_MONTHS_EN}"),
    ),
    "es": SentenceRules(
        _words("sr sra srta sres dr dra ud uds lic ing prof etc sto sta av avda aprox"),
        _words("pág núm n art cap vol"),
        openers="¿¡",
    ),
    "fr": SentenceRules(_words("mm mme mmes mlle mlles dr pr me mgr st ste etc cf env av bd"), _words("n no nº vol art chap")),
    "de": SentenceRules(
        _words("dr prof hr fr frl str usw bzw ca vgl evtl ggf inkl bspw"), _words("nr abs art bd jh"), ordinal_dot=True
    ),
    "it": SentenceRules(_words("sig sigg dott prof avv ing ecc"), _words("n pag art cap vol")),
    "pt": SentenceRules(_words("sr sra srs dr dra prof exmo exma etc av"), _words("n nº pág art cap vol")),
    "nl": SentenceRules(_words("dhr mevr mw dr prof ir ing mr drs bijv enz ca"), _words("nr blz")),
    "pl": SentenceRules(_words("ul al pl dr prof hab mgr inż np tzn itd itp tj ok godz"), _words("nr str"), ordinal_dot=True),
    "cs": SentenceRules(_words("ul nám dr prof ing mgr např tzn atd apod tj resp"), _words("čís str"), ordinal_dot=True),
    "fi": SentenceRules(_words("esim ns jne yms mm ks tri prof"), _words("nro s"), ordinal_dot=True),
    "ru": SentenceRules(_words("г гг ул д стр см им проф др напр тыс млн млрд руб коп пр ср ок"), _words("№ стр")),
    "ca": SentenceRules(_words("sr sra dr dra etc av"), _words("pàg núm art cap vol")),
}
_FAMILY = {"en-us": "en", "en-gb": "en", "pt-br": "pt"}


def sentence_rules(language: str | Language) -> SentenceRules:
    """The rules of `language` (a vclone code or Language); languages without a table get the shared marks only."""
    code = (language if isinstance(language, Language) else get_language(language)).code
    return _RULES.get(_FAMILY.get(code, code), SentenceRules())


def split_sentences(text: str, *, language: str | Language) -> list[str]:
    """The sentences of `text` in order, each stripped and with its punctuation; none empty.

    Whitespace inside a sentence (line breaks included) becomes one space; a blank line always
    ends a sentence. Text with no sentence end is one sentence; blank text is none."""
    rules = sentence_rules(language)
    sentences: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        flat = " ".join(paragraph.split())
        start = 0
        for match in _BOUNDARY.finditer(flat):
            if _ends_sentence(flat, match, rules):
                sentences.append(flat[start : match.end()].strip())
                start = match.end()
        sentences.append(flat[start:].strip())
    return [sentence for sentence in sentences if sentence]


def _ends_sentence(text: str, match: re.Match[str], rules: SentenceRules) -> bool:
    """Whether the punctuation run `match` ends a sentence of `text`."""
    marks, rest = match.group(), text[match.end() :]
    if not rest:
        return True
    if any(mark in _SPACELESS_ENDERS for mark in marks):
        return True
    if not rest[0].isspace():
        return False  # "3.5", "e.g.", "word.Word": no space, no end
    following = rest.lstrip()
    if following[0] in rules.openers:
        return True
    if marks == "." and _dot_is_not_an_end(text[: match.start()], following, rules):
        return False
    word = following.lstrip(_OPENING_MARKS)
    return not word or not word[0].islower()


def _dot_is_not_an_end(before: str, following: str, rules: SentenceRules) -> bool:
    """Whether the word `before` a full stop makes it an abbreviation's or a number's dot."""
    token = before.rsplit(" ", 1)[-1].lstrip(_OPENING_MARKS)
    lowered = token.lower()
    if not token:
        return False
    if len(token) == 1 and token.isalpha():
        return True  # an initial: "J. Smith", "p. 5", "т. е."
    if lowered in rules.abbreviations or _DOTTED.match(token):
        return True
    if lowered in rules.numeric_abbreviations and following[0].isdigit():
        return True
    return rules.ordinal_dot and token.isdigit()
