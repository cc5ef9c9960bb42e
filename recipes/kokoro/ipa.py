"""espeak-ng IPA, as vclone's Phonemizer writes it, respelled in Kokoro-82M's symbol set.

Kokoro reads one symbol per sound. It writes English diphthongs as capital letters (``aɪ`` is ``I``,
``oʊ`` is ``O``), affricates as ligatures (``ʧ``, ``ʦ``, ``ʨ``), Mandarin tones as arrows after the
syllable (``→ ↗ ↓ ↘``), and has no symbol for a few sounds espeak writes (``ɵ``, Czech ``r̝``);
those get their nearest neighbour. vclone's IPA has no tie bars (``normalize_ipa`` drops them), so
a diphthong is recognised by its letters alone; espeak writes these pairs for diphthongs in every
language this recipe speaks. What is still outside the vocabulary after the respelling is dropped
when the phonemes are encoded (``encode``), never sent to the model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

__all__ = ["ENGLISH", "MAX_TOKENS", "to_kokoro", "encode", "unknown_symbols"]

ENGLISH = frozenset({"en-us", "en-gb"})
"""Languages Kokoro reads in its English spelling (misaki's), with ɹ and capital-letter diphthongs."""

MAX_TOKENS = 510
"""Kokoro's context is 512 positions, two of them the pad token at each end."""

_DIPHTHONGS = (("aɪ", "I"), ("aʊ", "W"), ("eɪ", "A"), ("ɔɪ", "Y"))
_AFFRICATES = (("tʃ", "ʧ"), ("dʒ", "ʤ"), ("tɕ", "ʨ"), ("dʑ", "ʥ"))
# English "ts" is a cluster ("cats"), elsewhere espeak's ts/dz are affricates (German "z", Italian "zz").
_OTHER_AFFRICATES = (("ts", "ʦ"), ("dz", "ʣ"))
# Sounds English Kokoro voices never use, respelled as their English neighbours.
_ENGLISH_SOUNDS = (("ɚ", "əɹ"), ("r", "ɹ"), ("x", "k"), ("ç", "k"), ("ɐ", "ə"), ("ɬ", "l"), ("ʲ", "j"))
_AMERICAN = (("oʊ", "O"), ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"), ("ɪə", "iə"), ("ː", ""), ("e", "A"))
_BRITISH = (("əʊ", "Q"), ("eə", "ɛː"), ("iə", "ɪə"))
# Non-English sounds without a Kokoro symbol: Russian hard l and ё-vowel, Czech ř, lone ʑ.
_FOREIGN_SOUNDS = (("ɭ", "l"), ("ɵ", "o"), ("r\u031d", "rʒ"), ("ʑ", "ʒ"))
_FOREIGN_DIPHTHONGS = (("oʊ", "O"), ("əʊ", "Q"))

# Mandarin: vclone writes Chao tone letters after the syllable's vowel; Kokoro's Chinese voices
# learned arrows (misaki's spelling) after the whole syllable, with no stress marks.
_TONES = (("˨˩˦", "↓"), ("˧˥", "↗"), ("˥˩", "↘"), ("˥˧", "↘"), ("˨˩", "↓"), ("˥", "→"))
_CHAO = "˥˦˧˨˩"
_SYLLABIC = "\u0329"
_MANDARIN_SYLLABIC = (("ɻ" + _SYLLABIC, "ɨ"), ("ɹ" + _SYLLABIC, "ɨ"))
_ARROWS = "→↗↓↘"
_MANDARIN_VOWELS = "aeiouyəɑɛɔɤɨʊɪɯɚ"
# A nasal after the tone closes the syllable unless a vowel follows (then it starts the next one).
_CODA_AFTER_TONE = re.compile(f"([{_ARROWS}])(ŋ|n)(?![{_MANDARIN_VOWELS}])")
_QUOTES = str.maketrans({"«": "“", "»": "”"})


def _replace_all(text: str, pairs: Sequence[tuple[str, str]]) -> str:
    for old, new in pairs:
        text = text.replace(old, new)
    return text


def _mandarin(ipa: str) -> str:
    text = _replace_all(ipa.replace("ˈ", "").replace("ˌ", ""), _MANDARIN_SYLLABIC)
    text = _replace_all(text, _AFFRICATES + _OTHER_AFFRICATES)
    text = _replace_all(text, _TONES)
    text = "".join(c for c in text if c not in _CHAO)  # neutral and other tones: no arrow
    return _CODA_AFTER_TONE.sub(r"\2\1", text)


def to_kokoro(ipa: str, language: str) -> str:
    """Kokoro's spelling of ``ipa`` (a vclone ``PhonemizedText.ipa``) in ``language`` (vclone code)."""
    text = ipa.translate(_QUOTES)
    if language in ("zh", "zh-pinyin"):
        return _mandarin(text)
    if language in ENGLISH:
        text = _replace_all(text, _AFFRICATES + _ENGLISH_SOUNDS)
        text = _replace_all(text, _DIPHTHONGS + (_AMERICAN if language == "en-us" else _BRITISH))
        return text
    text = _replace_all(text, _AFFRICATES + _OTHER_AFFRICATES + _FOREIGN_SOUNDS)
    return _replace_all(text, _DIPHTHONGS + _FOREIGN_DIPHTHONGS)


def unknown_symbols(phonemes: str, vocab: Mapping[str, int]) -> list[str]:
    """Symbols of ``phonemes`` that Kokoro's vocabulary lacks, each once, in order of appearance."""
    return list(dict.fromkeys(c for c in phonemes if c not in vocab))


def encode(phonemes: str, vocab: Mapping[str, int]) -> list[int]:
    """Token ids of ``phonemes`` (symbols outside ``vocab`` dropped), without the pad tokens.

    Raises ValueError when nothing is left or the text is longer than Kokoro reads at once.
    """
    ids = [vocab[c] for c in phonemes if c in vocab]
    if not ids:
        raise ValueError(f"no symbol of {phonemes!r} is in Kokoro's vocabulary")
    if len(ids) > MAX_TOKENS:
        raise ValueError(f"{len(ids)} Kokoro tokens, more than the {MAX_TOKENS} it reads at once; "
                         "split the text into shorter sentences")
    return ids
