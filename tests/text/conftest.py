"""Shared fixtures for the text front end tests: one Phonemizer per language per test module."""

from collections.abc import Callable

import pytest

from vclone.text.phonemize import Phonemizer


@pytest.fixture(scope="module")
def phonemizer_for() -> Callable[[str], Phonemizer]:
    """Returns the module's Phonemizer for a language code, building it on first use."""
    built: dict[str, Phonemizer] = {}

    def get(code: str) -> Phonemizer:
        if code not in built:
            built[code] = Phonemizer(code)
        return built[code]

    return get
