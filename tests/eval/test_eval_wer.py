"""Word error rate: scoring normalization, edit counts, and the pocketsphinx recognizer when installed."""

from __future__ import annotations

import math

import pytest
import torch

from vclone.eval.wer import Recognizer, normalize_for_scoring, recognizer_available, word_error_rate


def test_normalization_keeps_apostrophes_only() -> None:
    assert normalize_for_scoring("Don't STOP, 'Bob' — it's 5 o'clock!") == ["don't", "stop", "bob", "it's", "5", "o'clock"]
    assert normalize_for_scoring("  ...  ") == []


@pytest.mark.parametrize(
    ("ref", "hyp", "expected"),
    [
        ("the cat sat", "the cat sat", (0, 3)),
        ("The cat sat.", "the cat sat", (0, 3)),
        ("the cat sat", "the hat sat", (1, 3)),
        ("the cat sat", "the sat", (1, 3)),
        ("the cat sat", "the big cat sat down", (2, 3)),
        ("the cat sat", "", (3, 3)),
        ("", "noise", (1, 0)),
        ("a b c d", "b c d e", (2, 4)),
    ],
)
def test_word_edits(ref: str, hyp: str, expected: tuple[int, int]) -> None:
    assert word_error_rate(ref, hyp) == expected


def test_availability_is_a_bool() -> None:
    assert isinstance(recognizer_available(), bool)


@pytest.mark.skipif(not recognizer_available(), reason="pocketsphinx (eval extra) is not installed")
def test_recognizer_returns_text_for_any_rate() -> None:
    recognizer = Recognizer()
    t = torch.arange(11025) / 22050
    tone = 0.3 * torch.sin(2 * math.pi * 200 * t)
    assert isinstance(recognizer(tone, 22050), str)
    assert isinstance(recognizer(torch.zeros(8000), 16000), str)


@pytest.mark.skipif(not recognizer_available(), reason="pocketsphinx (eval extra) is not installed")
def test_every_utterance_gets_a_fresh_decoder() -> None:
    """A pocketsphinx decoder adapts its cepstral mean from one utterance to the next (a transcript of
    the demo corpus changed with what was decoded before it), so no decoder is reused."""
    made = []

    class Recording:
        def __init__(self, **config) -> None:
            self.config, self.utterances = config, 0
            made.append(self)

        def start_utt(self) -> None:
            self.utterances += 1

        def process_raw(self, pcm: bytes, full_utt: bool) -> None:
            assert full_utt and len(pcm) > 0

        def end_utt(self) -> None:
            pass

        def hyp(self):
            return None

    recognizer = Recognizer()
    recognizer._decoder_class = Recording
    assert recognizer(torch.zeros(8000), 16000) == "" and recognizer(torch.zeros(4000), 8000) == ""
    assert len(made) == 2 and all(d.utterances == 1 and d.config["samprate"] == 16000 for d in made)
