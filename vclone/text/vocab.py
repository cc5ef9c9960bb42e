"""The phone vocabulary: one inventory of phone tokens for all languages, and their ids."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from vclone.errors import ConfigError
from vclone.text.phones import WORD_BOUNDARY

__all__ = ["PAD", "SPECIAL_TOKENS", "UNK", "VOCABULARY_FORMAT", "PhoneVocabulary", "union"]

PAD = "<pad>"
"""Padding token, id 0."""
UNK = "<unk>"
"""Token for phones the vocabulary does not know, id 1."""
SPECIAL_TOKENS = (PAD, UNK, WORD_BOUNDARY)
"""Tokens every vocabulary starts with, at ids 0, 1 and 2."""
VOCABULARY_FORMAT = 1
"""Version of the ``to_dict`` layout; bumped when it changes."""


class PhoneVocabulary:
    """Phone tokens and their ids: ``<pad>``=0, ``<unk>``=1, the word boundary=2, then phones.

    Ids never move once given: ``merge`` only appends, so a model trained with a vocabulary keeps
    working with any vocabulary merged from it.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        """Build from the full token list, specials included, in id order."""
        tokens = tuple(tokens)
        if tokens[: len(SPECIAL_TOKENS)] != SPECIAL_TOKENS:
            raise ConfigError(
                f"a phone vocabulary must start with {list(SPECIAL_TOKENS)}, got "
                f"{list(tokens[: len(SPECIAL_TOKENS)])}; build it with PhoneVocabulary.from_phones"
            )
        bad = [token for token in tokens if not isinstance(token, str) or not token]
        if bad:
            raise ConfigError(f"phone tokens must be non-empty strings, got {bad[:5]!r}")
        if len(set(tokens)) != len(tokens):
            duplicates = sorted({token for token in tokens if tokens.count(token) > 1})
            raise ConfigError(f"phone tokens must be unique, got duplicates {duplicates!r}")
        self._tokens = tokens
        self._ids = {token: index for index, token in enumerate(tokens)}

    @classmethod
    def from_phones(cls, phones: Iterable[str]) -> PhoneVocabulary:
        """A vocabulary of ``phones`` (duplicates and specials ignored), sorted by code point."""
        return cls(SPECIAL_TOKENS + tuple(sorted(set(phones) - set(SPECIAL_TOKENS))))

    @property
    def tokens(self) -> tuple[str, ...]:
        """All tokens in id order, specials first."""
        return self._tokens

    @property
    def pad_id(self) -> int:
        """Id of ``<pad>``."""
        return self._ids[PAD]

    @property
    def unk_id(self) -> int:
        """Id of ``<unk>``."""
        return self._ids[UNK]

    def encode(self, phones: Iterable[str]) -> list[int]:
        """Ids of ``phones``; a phone the vocabulary does not know becomes ``<unk>``."""
        unk = self.unk_id
        return [self._ids.get(phone, unk) for phone in phones]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids``; raises ValueError for an id outside the vocabulary."""
        tokens = []
        for index in ids:
            if not 0 <= index < len(self._tokens):
                raise ValueError(f"phone id must be in [0, {len(self._tokens)}), got {index}")
            tokens.append(self._tokens[index])
        return tokens

    def merge(self, other: PhoneVocabulary) -> PhoneVocabulary:
        """This vocabulary with ``other``'s new phones appended in sorted order; ids kept."""
        new = sorted(set(other.tokens) - set(self._ids))
        return PhoneVocabulary(self._tokens + tuple(new))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form: ``{"format": 1, "phones": {token: id, ...}}``."""
        return {"format": VOCABULARY_FORMAT, "phones": dict(self._ids)}

    @classmethod
    def from_dict(cls, data: Any) -> PhoneVocabulary:
        """The vocabulary saved by ``to_dict``; raises ConfigError when ``data`` is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("phones"), dict):
            raise ConfigError(
                f"a phone vocabulary must be a mapping with a 'phones' mapping, got "
                f"{type(data).__name__}; save it with PhoneVocabulary.to_dict"
            )
        if data.get("format") != VOCABULARY_FORMAT:
            raise ConfigError(
                f"phone vocabulary format must be {VOCABULARY_FORMAT}, got {data.get('format')!r}; "
                "re-prepare the corpus with this vclone version"
            )
        phones = data["phones"]
        ids = sorted(phones.values()) if all(type(i) is int for i in phones.values()) else None
        if ids != list(range(len(phones))):
            raise ConfigError(
                f"phone ids must be the integers 0..{len(phones) - 1}, each once, got "
                f"{sorted(map(repr, phones.values()))[:10]}; the vocabulary file is corrupt"
            )
        return cls(sorted(phones, key=phones.__getitem__))

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._ids

    def __iter__(self) -> Iterator[str]:
        return iter(self._tokens)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PhoneVocabulary):
            return NotImplemented
        return self._tokens == other._tokens

    def __hash__(self) -> int:
        return hash(self._tokens)

    def __repr__(self) -> str:
        return f"PhoneVocabulary({len(self)} tokens)"


def union(vocabularies: Iterable[PhoneVocabulary]) -> PhoneVocabulary:
    """One sorted vocabulary of every phone in ``vocabularies``, whatever their order.

    Use it to build the inventory of several prepared corpora at once; use ``merge`` instead to
    extend a vocabulary a model was already trained with.
    """
    return PhoneVocabulary.from_phones(
        token for vocabulary in vocabularies for token in vocabulary.tokens
    )
