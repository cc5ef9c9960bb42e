"""Speakable sentences per language, generated offline and deterministically from a seed."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from faker import Faker

__all__ = ["LANGUAGES", "SentenceSource", "sentence_stream"]

# Language code -> (Faker locale for the word list or None, Faker locale for person names).
# Faker has no usable lorem words for Portuguese and Finnish (it falls back to Latin) and no
# Catalan locale at all, so those three draw from the small lexicons below instead.
_LOCALES: dict[str, tuple[str | None, str | None]] = {
    "en-us": ("en_US", "en_US"),
    "en-gb": ("en_US", "en_GB"),
    "es": ("es_ES", "es_ES"),
    "de": ("de_DE", "de_DE"),
    "fr": ("fr_FR", "fr_FR"),
    "it": ("it_IT", "it_IT"),
    "pt": (None, "pt_PT"),
    "nl": ("nl_NL", "nl_NL"),
    "pl": ("pl_PL", "pl_PL"),
    "cs": ("cs_CZ", "cs_CZ"),
    "fi": (None, "fi_FI"),
    "ru": ("ru_RU", "ru_RU"),
    "ca": (None, None),
}

LANGUAGES: tuple[str, ...] = tuple(_LOCALES)
"""Every language code the builder can write sentences for (vclone's registry spelling)."""

_LEXICONS: dict[str, str] = {
    "pt": """casa rio cidade jardim livro janela caminho mesa porta amigo tempo noite manhã sol
        chuva vento mar barco pão café escola trabalho música cor verde azul grande pequeno antigo
        novo bonito quente frio rápido sempre hoje amanhã ontem longe perto correr cantar escrever
        abrir fechar olhar ouvir falar comer beber viajar encontrar esperar voltar com para sem
        muito também ainda depois porque quando praia montanha estrada carta palavra história
        família cozinha cidadão feliz tranquilo claro escuro""",
    "fi": """talo järvi metsä kaupunki kirja ikkuna tie pöytä ovi ystävä aika yö aamu aurinko sade
        tuuli meri vene leipä kahvi koulu työ musiikki väri vihreä sininen suuri pieni vanha uusi
        kaunis lämmin kylmä nopea hitaasti aina tänään huomenna eilen kaukana lähellä juosta laulaa
        kirjoittaa avata sulkea katsoa kuunnella puhua syödä juoda matkustaa löytää odottaa palata
        mutta kanssa ilman paljon myös vielä sitten koska kun ranta tunturi kirje sana tarina perhe
        keittiö iloinen rauhallinen kirkas pimeä""",
    "ca": """casa riu ciutat jardí llibre finestra camí taula porta amic temps nit matí sol pluja
        vent mar vaixell pa cafè escola feina música color verd blau gran petit antic nou bonic
        calent fred ràpid sempre avui demà ahir lluny córrer cantar escriure obrir tancar mirar
        escoltar parlar menjar beure viatjar trobar esperar tornar amb per sense molt també encara
        després perquè quan platja muntanya carretera carta paraula història família cuina
        content tranquil clar fosc""",
}

# Faker has no Catalan names, so Catalan sentences name people and towns from this list.
_CATALAN_NAMES = """Jordi Montserrat Núria Pau Laia Arnau Marta Oriol Mireia Joan Mercè Roger Girona
    Lleida Tarragona Vic Manresa Reus Sabadell Olot Figueres Berga Solsona Tortosa""".split()

# Lorem word lists contain abbreviations and stray letters ("b", "np.", "1000"); a word is
# kept only if every part is made of letters and one-letter words are real function words.
_WORD_RE = re.compile(r"^[^\W\d_]+(?:['’ -][^\W\d_]+)*$")
_ONE_LETTER_WORDS = frozenset("a e o y i u w z v s k à и в с к о у а".split())


def _usable(word: str) -> bool:
    if not _WORD_RE.match(word):
        return False
    return len(word) > 1 or word.lower() in _ONE_LETTER_WORDS


@dataclass
class SentenceSource:
    """The vocabulary of one language: content words plus a generator of person names."""

    language: str
    """Language code (one of LANGUAGES)."""
    words: list[str]
    """Words sentences are made of (lower case, letters only)."""
    names: Faker | None
    """Faker instance for person names, or None to draw names from a fixed list."""

    @classmethod
    def for_language(cls, language: str) -> SentenceSource:
        if language not in _LOCALES:
            raise ValueError(
                f"no sentence source for language {language!r}; known: {', '.join(LANGUAGES)}"
            )
        word_locale, name_locale = _LOCALES[language]
        if word_locale is None:
            raw = _LEXICONS[language].split()
        else:
            raw = Faker(word_locale).get_words_list()
        words = sorted({w for w in raw if _usable(w)})
        return cls(language, words, Faker(name_locale) if name_locale else None)

    def _name(self, rng: random.Random) -> str:
        if self.names is None:
            return rng.choice(_CATALAN_NAMES)
        self.names.seed_instance(rng.getrandbits(32))
        if rng.random() < 0.5:
            return self.names.first_name()
        return f"{self.names.first_name()} {self.names.last_name()}"

    def sentence(self, rng: random.Random) -> str:
        """One sentence of 4-11 words (plus maybe a name) drawn with `rng`: about 1.5-8 s of speech."""
        target = rng.randint(4, 11)
        words: list[str] = []
        while sum(len(w.split()) for w in words) < target:  # some lorem entries are phrases
            words.append(rng.choice(self.words))
        if rng.random() < 0.5:
            name = self._name(rng)
            if _WORD_RE.match(name):
                words.insert(rng.randrange(len(words) + 1), name)
        if len(words) >= 7 and rng.random() < 0.5:
            cut = rng.randrange(3, len(words) - 2)
            words[cut] += ","
        text = " ".join(words)
        end = "?" if rng.random() < 0.15 else "."
        return text[0].upper() + text[1:] + end


def sentence_stream(source: SentenceSource, key: str, count: int, encoding: str = "utf-8") -> list[str]:
    """`count` distinct sentences for one stream, reproducible from `key` alone.

    A stream is one speaker in one language (key like "0/espeak-f3/es"), so the first n sentences
    of a larger build equal those of a smaller one and renders carry over between sizes.
    Sentences that the engine's text encoding cannot represent are drawn again.
    """
    rng = random.Random(key)  # str seeds hash with SHA-512: stable across runs and machines
    out: list[str] = []
    seen: set[str] = set()
    for _ in range(50 * count + 100):
        if len(out) == count:
            break
        text = source.sentence(rng)
        if text in seen:
            continue
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            continue
        seen.add(text)
        out.append(text)
    if len(out) < count:
        raise ValueError(
            f"stream {key!r}: only {len(out)} of {count} {source.language} sentences fit "
            f"encoding {encoding}; choose an encoding that can write this language"
        )
    return out
