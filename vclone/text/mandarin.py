"""Mandarin IPA with its tones, from espeak-ng's phoneme mnemonics.

espeak-ng 1.52 writes a Mandarin tone in IPA as the first digit of its Chao number only, so tone 1
(55) and tone 4 (51) both come out as ``5``, tone 2 (35) as ``ɜ`` (a vowel letter), and several
phonemes come out in ASCII (``th``, ``ts.h``, ``i.``). This module asks espeak for every clause
twice, once in IPA and once in mnemonics, with one separator between phonemes in both, so the two
answers line up phoneme by phoneme: tones and the ASCII phonemes are taken from the mnemonics
(tones become Chao tone letters such as ``˥˩``), everything else from the IPA.
"""

from __future__ import annotations

import ctypes
import re

from phonemizer.backend.espeak.api import EspeakAPI

from vclone.errors import TextError
from vclone.text.phones import PUNCTUATION, STRESS_MARKS

__all__ = ["TONE_LETTERS_BY_NUMBER", "MandarinReader"]

TONE_LETTERS_BY_NUMBER = {
    "55": "˥", "35": "˧˥", "214": "˨˩˦", "21": "˨˩", "51": "˥˩", "53": "˥˧",
    "11": "˩", "22": "˨", "33": "˧", "44": "˦",
}
"""espeak's Mandarin tone phonemes (Chao numbers) and the tone letters vclone writes for them."""

# Phonemes of espeak's Mandarin voice whose IPA rendering is ASCII or a wrong segmentation.
_MNEMONIC_IPA = {
    "ph": "pʰ", "th": "tʰ", "kh": "kʰ", "tsh": "tsʰ", "tS;h": "tɕʰ",
    "ts.": "ʈʂ", "ts.h": "ʈʂʰ", "s.": "ʂ", "z.": "ʐ",
    "i.": "ɻ̩", "i[": "ɹ̩", "o-": "ɤ", "N-": "ŋ̍", "ong": "ʊŋ", "@r": "ɚ",
}
_SEPARATOR = "¦"
_IPA_MODE = ord(_SEPARATOR) << 8 | 0x02
_MNEMONIC_MODE = ord(_SEPARATOR) << 8
_UTF8_INPUT = 1
_TONED = re.compile(
    r"(?P<stress>[',]?)(?P<phone>.*?)(?P<tone>" + "|".join(TONE_LETTERS_BY_NUMBER) + r")?"
)
_FLAG = re.compile(r"\([a-z-]+\)")
# A run of punctuation, except a point or comma between digits ("3.5", "1,000"), which espeak
# reads as part of the number.
_PUNCTUATION_RUN = re.compile(
    r"((?:[" + re.escape("".join(sorted(PUNCTUATION - {".", ","}))) + r"]|(?<!\d)[.,]|[.,](?!\d))+)"
)
_OPENING = "([{¿¡"
_SPACE_BEFORE_CLOSING = re.compile(
    " +(?=[" + re.escape("".join(sorted(PUNCTUATION - set(_OPENING)))) + "])"
)
_SPACE_AFTER_OPENING = re.compile("(?<=[" + re.escape(_OPENING) + "]) +")


class MandarinReader:
    """One espeak-ng instance with a Mandarin voice, reading text into toned IPA."""

    def __init__(self, *, voice: str, library: str, data_path: str) -> None:
        # EspeakAPI loads its own copy of the library, so this voice never disturbs another.
        self._api = EspeakAPI(library, data_path)
        if self._api.set_voice_by_name(voice.encode()) != 0:
            raise RuntimeError(f"espeak-ng at {library} has no voice {voice!r}")

    def __call__(self, text: str) -> str:
        """IPA for ``text``: words split by spaces, punctuation kept after the word before it."""
        parts: list[str] = []
        for piece in _PUNCTUATION_RUN.split(text):
            if not piece.strip():
                continue
            if _PUNCTUATION_RUN.fullmatch(piece.strip()):
                parts.append(piece.strip() + " ")
            else:
                parts.append(self._read(piece) + " ")
        # As in phonemizer's output: opening marks cling to the next word, others to the previous.
        joined = _SPACE_AFTER_OPENING.sub("", _SPACE_BEFORE_CLOSING.sub("", "".join(parts)))
        return " ".join(joined.split())

    def _clauses(self, text: str, mode: int) -> list[str]:
        """espeak's answer for each clause of ``text`` in one output mode."""
        pointer = ctypes.pointer(ctypes.c_char_p(text.encode("utf-8")))
        clauses = []
        while pointer.contents.value is not None:
            answer = self._api.text_to_phonemes(pointer, _UTF8_INPUT, mode)
            if answer:
                clauses.append(answer.decode("utf-8"))
        return clauses

    def _read(self, text: str) -> str:
        """Toned IPA for text without punctuation."""
        ipa, mnemonics = self._clauses(text, _IPA_MODE), self._clauses(text, _MNEMONIC_MODE)
        ipa_words = " ".join(ipa).split(" ")
        mnemonic_words = " ".join(mnemonics).split(" ")
        if len(ipa_words) != len(mnemonic_words):
            raise _misaligned(text)
        words, foreign = [], False
        for ipa_word, mnemonic_word in zip(ipa_words, mnemonic_words, strict=True):
            ipa_items, mnemonic_items = ipa_word.split(_SEPARATOR), mnemonic_word.split(_SEPARATOR)
            if len(ipa_items) != len(mnemonic_items):
                raise _misaligned(text)
            phones = []
            for ipa_item, mnemonic_item in zip(ipa_items, mnemonic_items, strict=True):
                if _FLAG.fullmatch(mnemonic_item):
                    # Words espeak reads in another language sit between flags; keep their IPA.
                    foreign = not mnemonic_item.startswith("(cmn")
                elif foreign:
                    phones.append(ipa_item)
                else:
                    phones.append(_toned_phone(ipa_item, mnemonic_item))
            words.append("".join(phones))
        return " ".join(word for word in words if word)


def _toned_phone(ipa_item: str, mnemonic_item: str) -> str:
    """One Mandarin phoneme (with its stress and tone) in IPA, from both of espeak's renderings."""
    if not mnemonic_item or mnemonic_item.startswith("_"):
        return ""  # a pause: IPA mode writes nothing for it
    match = _TONED.fullmatch(mnemonic_item)
    stress = ipa_item[:1] if ipa_item[:1] in STRESS_MARKS else ""
    body = ipa_item[len(stress):]
    tone = match["tone"] if match else None
    if tone:
        body = body[:-1]  # espeak's one-character rendering of the tone
        phone = match["phone"]
    else:
        phone = mnemonic_item.lstrip("',")
    return stress + _MNEMONIC_IPA.get(phone, body) + (TONE_LETTERS_BY_NUMBER[tone] if tone else "")


def _misaligned(text: str) -> TextError:
    """The error for a clause whose IPA and mnemonic readings do not line up."""
    return TextError(
        f"espeak-ng's Mandarin IPA and mnemonics for {text!r} do not line up phoneme by phoneme, "
        "so its tones cannot be recovered; rephrase or split the sentence"
    )
