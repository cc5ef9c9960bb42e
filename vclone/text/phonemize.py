"""Text to phones in one language: normalize, drop what cannot be spoken, espeak-ng, tokenize."""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, replace
from typing import Literal, overload

import espeakng_loader
from phonemizer.backend import EspeakBackend
from phonemizer.backend.espeak.wrapper import EspeakWrapper
from phonemizer.separator import Separator

from vclone.errors import ConfigError, TextError
from vclone.text.languages import Language, get_language
from vclone.text.mandarin import MandarinReader
from vclone.text.normalize import drop_unspeakable, normalize_text
from vclone.text.phones import PUNCTUATION, STRESS_MARKS, WORD_BOUNDARY, normalize_ipa, tokenize_ipa

__all__ = ["PhonemizedText", "Phonemizer"]

_LOG = logging.getLogger(__name__)
_NOT_PHONES = PUNCTUATION | STRESS_MARKS | {WORD_BOUNDARY}


@dataclass(frozen=True)
class PhonemizedText:
    """One text as a Phonemizer read it."""

    text: str
    """The normalized text that was phonemized, without the unspeakable characters."""
    ipa: str
    """espeak-ng's IPA after ``normalize_ipa``: words split by spaces, punctuation kept."""
    phones: tuple[str, ...]
    """``tokenize_ipa(ipa)``: phones, stress marks, tones, word boundaries and punctuation."""
    unspeakable: tuple[str, ...] = ()
    """Characters dropped because the voice cannot read them, each once, in order of appearance."""

    def __post_init__(self) -> None:
        if "".join(self.phones) != self.ipa:
            raise ValueError(
                f"phones must spell the IPA exactly, got {''.join(self.phones)!r} for "
                f"{self.ipa!r}; build them with tokenize_ipa(ipa)"
            )

    def keeping_punctuation(self, known: Container[str]) -> PhonemizedText:
        """This text without the punctuation marks that `known` (a voice's inventory) lacks: a mark
        carries no sound, so a voice that never saw it (Spanish ¿ in a voice trained on texts without
        one) reads nothing for it rather than <unk>."""
        kept = tuple(p for p in self.phones if p in known or p not in PUNCTUATION)
        if len(kept) == len(self.phones):
            return self
        return replace(self, ipa="".join(kept), phones=kept)


class _DemotedLogger(logging.LoggerAdapter):
    """Passes phonemizer's warnings on at DEBUG level.

    phonemizer warns once per batch that language-switch flags were removed, which is what we ask
    it to do; on a corpus of thousands of lines that is noise, not news.
    """

    def log(self, level: int, msg: object, *args: object, **kwargs: object) -> None:
        super().log(logging.DEBUG if level <= logging.WARNING else level, msg, *args, **kwargs)


def _espeak_reader(language: Language) -> Callable[[list[str]], list[str]]:
    """A function reading lines into raw IPA, one line out per line in, with the wheel's espeak."""
    library = espeakng_loader.get_library_path()
    data_path = espeakng_loader.get_data_path()
    if language.tonal:
        mandarin = MandarinReader(voice=language.espeak_voice, library=library, data_path=data_path)
        return lambda lines: [mandarin(line) for line in lines]
    # phonemizer keeps these as class-wide settings: every backend built afterwards in this
    # process uses the espeak-ng 1.52 from the espeakng-loader wheel, never a system install.
    EspeakWrapper.set_library(library)
    EspeakWrapper.set_data_path(data_path)
    backend = EspeakBackend(
        language.espeak_voice,
        preserve_punctuation=True,
        with_stress=True,
        language_switch="remove-flags",
        logger=_DemotedLogger(_LOG, {}),
    )
    separator = Separator(phone="", syllable="", word=WORD_BOUNDARY)
    return lambda lines: backend.phonemize(lines, separator=separator, strip=True, njobs=1)


class Phonemizer:
    """espeak-ng for one language: built once (it loads its own copy of the library), called often.

    ``Phonemizer("de")("Guten Tag!")`` normalizes the text (numbers become words), drops the
    characters the voice cannot read (reported in the result), and returns the IPA and its phones.
    """

    def __init__(self, language: str | Language) -> None:
        self.language = language if isinstance(language, Language) else get_language(language)
        self._read = _espeak_reader(self.language)

    def __repr__(self) -> str:
        return f"Phonemizer({self.language.code!r})"

    def __call__(self, text: str) -> PhonemizedText:
        """Phonemize one text; raises TextError if it is empty or has nothing speakable."""
        result = self._phonemize([text])[0]
        if isinstance(result, TextError):
            raise result
        return result

    @overload
    def phonemize_batch(
        self, texts: Sequence[str], *, errors: Literal["raise"] = "raise"
    ) -> list[PhonemizedText]: ...

    @overload
    def phonemize_batch(
        self, texts: Sequence[str], *, errors: Literal["return"]
    ) -> list[PhonemizedText | TextError]: ...

    def phonemize_batch(
        self, texts: Sequence[str], *, errors: Literal["raise", "return"] = "raise"
    ) -> list[PhonemizedText] | list[PhonemizedText | TextError]:
        """Phonemize many texts with one espeak call; results are in the order of ``texts``.

        ``errors="raise"`` raises the first text's TextError (naming its index);
        ``errors="return"`` puts the TextError in that text's place, so one bad line in a corpus
        does not sink the others.
        """
        if errors not in ("raise", "return"):
            raise ConfigError(f"errors must be 'raise' or 'return', got {errors!r}")
        results = self._phonemize(list(texts))
        if errors == "raise":
            for index, result in enumerate(results):
                if isinstance(result, TextError):
                    raise TextError(f"text {index}: {result}") from result
        return results

    def _phonemize(self, texts: list[str]) -> list[PhonemizedText | TextError]:
        """Results for ``texts``, with a TextError in place of each text that cannot be read."""
        results: list[PhonemizedText | TextError | None] = [None] * len(texts)
        prepared: list[tuple[int, str, tuple[str, ...]]] = []
        for index, text in enumerate(texts):
            try:
                speakable, dropped = self._prepare(text)
            except TextError as error:
                results[index] = error
            else:
                prepared.append((index, speakable, dropped))
        raw = self._read_lines([speakable for _, speakable, _ in prepared])
        for (index, speakable, dropped), raw_ipa in zip(prepared, raw, strict=True):
            results[index] = self._result(speakable, dropped, raw_ipa)
        return [result for result in results if result is not None]

    def _read_lines(self, lines: list[str]) -> list[str | TextError]:
        """Raw IPA per line, all lines in one espeak call; a TextError for a line it cannot read."""
        if not lines:
            return []
        try:
            raw = self._read(lines)
        except TextError:
            # Only the Mandarin reader raises, per line: find the bad lines and keep the rest.
            return [self._read_one(line) for line in lines]
        if len(raw) != len(lines):
            raise RuntimeError(
                f"espeak returned {len(raw)} lines for {len(lines)}; this is a vclone bug"
            )
        return raw

    def _read_one(self, line: str) -> str | TextError:
        """Raw IPA for one line, or the TextError that reading it raised."""
        try:
            return self._read([line])[0]
        except TextError as error:
            return error

    def _prepare(self, text: str) -> tuple[str, tuple[str, ...]]:
        """The speakable part of the normalized text and the dropped characters."""
        if not isinstance(text, str):
            raise TextError(f"text must be a string, got {type(text).__name__}; pass str")
        normalized = normalize_text(text, language=self.language)
        speakable, dropped = drop_unspeakable(normalized, language=self.language)
        symbols = self.language.spoken_symbols
        if not any(char.isalnum() or char in symbols for char in speakable):
            shown = ", ".join(repr(char) for char in dropped) or "only punctuation"
            raise TextError(
                f"nothing speakable in {text!r} for {self.language.code} ({shown}); "
                "remove those characters or choose the text's language"
            )
        return speakable, dropped

    def _result(
        self, speakable: str, dropped: tuple[str, ...], raw_ipa: str | TextError
    ) -> PhonemizedText | TextError:
        """The PhonemizedText for one line, or a TextError when espeak produced no phones."""
        if isinstance(raw_ipa, TextError):
            return raw_ipa
        ipa = normalize_ipa(raw_ipa)
        phones = tuple(tokenize_ipa(ipa))
        if all(token in _NOT_PHONES for token in phones):
            return TextError(
                f"espeak-ng produced no phones for {speakable!r} in {self.language.code}; "
                "check that the text is written in that language"
            )
        return PhonemizedText(text=speakable, ipa=ipa, phones=phones, unspeakable=dropped)
