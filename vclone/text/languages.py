"""The languages vclone can speak: their codes, espeak-ng voices and text conventions."""

from __future__ import annotations

from dataclasses import dataclass

from vclone.errors import ConfigError, UnsupportedLanguageError

__all__ = ["Language", "get_language", "supported_languages"]

# Characters espeak-ng reads as words in most European voices; each language keeps the ones its
# voice actually reads (checked against espeak-ng 1.52 in tests/text/test_languages.py).
_EURO_SYMBOLS = "%&+$€£@"


@dataclass(frozen=True)
class Language:
    """One supported language and everything the text front end needs to know about it."""

    code: str
    """vclone's code for the language, lower case (``en-us``, ``pt-br``, ``zh``)."""
    name: str
    """English name, for messages and listings."""
    espeak_voice: str
    """espeak-ng 1.52 voice that phonemizes the language (``fr-fr``, ``cmn``)."""
    num2words_lang: str | None
    """num2words language for spelling out numbers; None leaves digits for espeak to read."""
    scripts: tuple[str, ...]
    """Prefixes of the Unicode names of the letters the voice reads (``LATIN``, ``CYRILLIC``)."""
    decimal_separator: str
    """Character between the integer and fractional part of a decimal number (``.`` or ``,``)."""
    group_separators: str = ""
    """Characters that group thousands in numbers (``1,000`` in English, ``1.000`` in German)."""
    ordinal_suffixes: tuple[str, ...] = ()
    """Suffixes that turn a number into an ordinal (``st`` in ``1st``), spelled out as ordinals."""
    spoken_symbols: str = ""
    """Symbols the voice reads as words in this language (``%``: "percent"); others are dropped."""
    tonal: bool = False
    """True for Mandarin voices, whose tones espeak's IPA output collapses (read via mnemonics)."""

    def __post_init__(self) -> None:
        if not self.code or self.code != self.code.strip().lower():
            raise ConfigError(
                f"language code must be non-empty lower case, got {self.code!r}; use e.g. 'en-us'"
            )
        if not self.espeak_voice:
            raise ConfigError(f"language {self.code!r} needs an espeak voice, got an empty string")
        if not self.scripts:
            raise ConfigError(
                f"language {self.code!r} needs at least one script, got none; use e.g. ('LATIN',)"
            )
        if self.decimal_separator not in (".", ","):
            raise ConfigError(
                f"decimal separator must be '.' or ',', got {self.decimal_separator!r} "
                f"for {self.code!r}"
            )
        if self.decimal_separator in self.group_separators:
            raise ConfigError(
                f"decimal separator {self.decimal_separator!r} of {self.code!r} must not also "
                f"group thousands (group separators {self.group_separators!r}); remove it from one"
            )


def _latin(code: str, name: str, voice: str, num2words_lang: str | None, **kwargs) -> Language:
    """A language written in Latin letters with a comma decimal separator unless told otherwise."""
    options = {"decimal_separator": ",", "group_separators": ".", "spoken_symbols": _EURO_SYMBOLS}
    options.update(kwargs)
    return Language(code, name, voice, num2words_lang, ("LATIN",), **options)


# "°" is left out: "20°" is a temperature far more often than an ordinal.
_ROMANCE_ORDINALS = (".º", "º")

_LANGUAGES: tuple[Language, ...] = (
    _latin("en-us", "English (American)", "en-us", "en", decimal_separator=".",
           group_separators=",", ordinal_suffixes=("st", "nd", "rd", "th")),
    _latin("en-gb", "English (British)", "en-gb", "en", decimal_separator=".",
           group_separators=",", ordinal_suffixes=("st", "nd", "rd", "th")),
    _latin("es", "Spanish", "es", "es", ordinal_suffixes=_ROMANCE_ORDINALS),
    _latin("de", "German", "de", "de"),
    _latin("fr", "French", "fr-fr", "fr", group_separators="",
           ordinal_suffixes=("ème", "eme", "er", "e")),
    _latin("it", "Italian", "it", "it", ordinal_suffixes=_ROMANCE_ORDINALS),
    _latin("pt", "Portuguese (European)", "pt", "pt", ordinal_suffixes=_ROMANCE_ORDINALS),
    _latin("pt-br", "Portuguese (Brazilian)", "pt-br", "pt_BR", ordinal_suffixes=_ROMANCE_ORDINALS),
    _latin("nl", "Dutch", "nl", "nl", ordinal_suffixes=("ste", "de", "e")),
    _latin("pl", "Polish", "pl", "pl", group_separators="", spoken_symbols="%&+$£@"),
    _latin("cs", "Czech", "cs", "cs", group_separators=""),
    _latin("fi", "Finnish", "fi", "fi", group_separators=""),
    Language("ru", "Russian", "ru", "ru", ("CYRILLIC",), decimal_separator=",",
             spoken_symbols="%&+$@"),
    _latin("ca", "Catalan", "ca", "ca", ordinal_suffixes=_ROMANCE_ORDINALS),
    # espeak's Mandarin voice reads digits itself, in Mandarin, so numbers stay digits.
    Language("zh", "Mandarin Chinese (hanzi)", "cmn", None, ("CJK UNIFIED", "CJK COMPATIBILITY"),
             decimal_separator=".", group_separators=",", tonal=True),
    Language("zh-pinyin", "Mandarin Chinese (pinyin with tone digits)", "cmn-latn-pinyin", None,
             ("LATIN",), decimal_separator=".", group_separators=",", tonal=True),
)

_ALIASES = {"en": "en-us", "pt-pt": "pt", "cmn": "zh", "zh-cn": "zh"}


def supported_languages() -> list[Language]:
    """Every supported language, in a fixed order (English first, Mandarin last)."""
    return list(_LANGUAGES)


def get_language(code: str) -> Language:
    """The language for ``code`` (case and ``_``/``-`` insensitive; ``en`` means ``en-us``)."""
    key = code.strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    for language in _LANGUAGES:
        if language.code == key:
            return language
    codes = ", ".join(language.code for language in _LANGUAGES)
    raise UnsupportedLanguageError(
        f"unsupported language {code!r}: use one of {codes} (or 'en' for en-us)"
    )
