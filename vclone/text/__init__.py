"""Text front end: normalization, phonemization, the shared phone inventory."""

from vclone.text.languages import Language, get_language, supported_languages
from vclone.text.normalize import drop_unspeakable, normalize_text
from vclone.text.phonemize import PhonemizedText, Phonemizer
from vclone.text.phones import WORD_BOUNDARY, normalize_ipa, tokenize_ipa
from vclone.text.sentences import split_sentences
from vclone.text.vocab import PhoneVocabulary, union

__all__ = [
    "WORD_BOUNDARY",
    "Language",
    "PhoneVocabulary",
    "PhonemizedText",
    "Phonemizer",
    "drop_unspeakable",
    "get_language",
    "normalize_ipa",
    "normalize_text",
    "split_sentences",
    "supported_languages",
    "tokenize_ipa",
    "union",
]
