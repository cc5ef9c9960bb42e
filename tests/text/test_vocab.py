"""Tests for the shared phone vocabulary."""

import itertools
import json

import pytest

from vclone.errors import ConfigError
from vclone.text.phones import WORD_BOUNDARY
from vclone.text.vocab import PAD, UNK, PhoneVocabulary, union


def test_specials_come_first_then_sorted_phones():
    vocab = PhoneVocabulary.from_phones(["tʃ", "a", "ˈ", WORD_BOUNDARY, "a", PAD])
    assert vocab.tokens == (PAD, UNK, WORD_BOUNDARY, "a", "tʃ", "ˈ")
    assert (vocab.pad_id, vocab.unk_id) == (0, 1)
    assert len(vocab) == 6
    assert "tʃ" in vocab and "x" not in vocab


def test_encode_decode_and_unknown_phones():
    vocab = PhoneVocabulary.from_phones(["a", "b"])
    ids = vocab.encode(["a", WORD_BOUNDARY, "zz", "b"])
    assert ids == [3, 2, 1, 4]
    assert vocab.decode(ids) == ["a", WORD_BOUNDARY, UNK, "b"]
    with pytest.raises(ValueError):
        vocab.decode([5])


def test_json_round_trip():
    vocab = PhoneVocabulary.from_phones(["ɑː", "tʃ", "˨˩˦", "r̝̊", ","])
    restored = PhoneVocabulary.from_dict(json.loads(json.dumps(vocab.to_dict(), ensure_ascii=True)))
    assert restored == vocab
    assert restored.tokens == vocab.tokens


@pytest.mark.parametrize("data", [
    [],
    {"format": 1},
    {"format": 2, "phones": {PAD: 0, UNK: 1, WORD_BOUNDARY: 2}},
    {"format": 1, "phones": {PAD: 0, UNK: 1, WORD_BOUNDARY: 3}},
    {"format": 1, "phones": {PAD: 0, UNK: 1, WORD_BOUNDARY: 2, "a": 2}},
    {"format": 1, "phones": {PAD: 0, UNK: 1, WORD_BOUNDARY: 2, "a": "3"}},
    {"format": 1, "phones": {PAD: 0, UNK: 1, WORD_BOUNDARY: 2, "a": True}},
    {"format": 1, "phones": {UNK: 0, PAD: 1, WORD_BOUNDARY: 2}},
    {"format": 1, "phones": {PAD: 0, UNK: 1, WORD_BOUNDARY: 2, "": 3}},
])
def test_from_dict_rejects_invalid_data(data):
    with pytest.raises(ConfigError):
        PhoneVocabulary.from_dict(data)


def test_constructor_rejects_duplicates_and_missing_specials():
    with pytest.raises(ConfigError):
        PhoneVocabulary([PAD, UNK, WORD_BOUNDARY, "a", "a"])
    with pytest.raises(ConfigError):
        PhoneVocabulary(["a", "b"])


def test_merge_keeps_ids_and_appends_new_phones_sorted():
    english = PhoneVocabulary.from_phones(["ð", "ə", "tʃ"])
    german = PhoneVocabulary.from_phones(["ç", "ə", "ts", "oː"])
    merged = english.merge(german)
    assert merged.tokens[: len(english)] == english.tokens
    assert merged.tokens[len(english):] == ("oː", "ts", "ç")
    assert english.merge(english) == english


def test_union_does_not_depend_on_input_order():
    vocabs = [PhoneVocabulary.from_phones(phones)
              for phones in (["a", "b"], ["c", "a"], ["˥", "tɕ"], [])]
    results = {union(order) for order in itertools.permutations(vocabs)}
    assert len(results) == 1
    (result,) = results
    assert set(result.tokens) == {PAD, UNK, WORD_BOUNDARY, "a", "b", "c", "˥", "tɕ"}


def test_union_of_merged_corpora_is_one_inventory():
    first = PhoneVocabulary.from_phones(["a", "b"])
    second = PhoneVocabulary.from_phones(["b", "c"])
    assert union([first, second]) == union([second, first]) == PhoneVocabulary.from_phones("abc")
