"""Word error rate: text normalization for scoring, word-level edit distance, and a pocketsphinx recognizer."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import torch

from vclone.audio.io import resample
from vclone.errors import ConfigError

__all__ = ["RECOGNIZER_RATE", "Recognizer", "normalize_for_scoring", "recognizer_available", "word_error_rate"]

# pocketsphinx's bundled en-us acoustic model is trained on 16 kHz speech.
RECOGNIZER_RATE = 16000

# Anything but letters (any script), digits, apostrophes and whitespace separates words.
_NOT_WORD = re.compile(r"[^\w'\s]|_")


def normalize_for_scoring(text: str) -> list[str]:
    """Words of `text` as scored: lowercased, punctuation removed (apostrophes kept), split on whitespace."""
    words = _NOT_WORD.sub(" ", text.lower()).split()
    # A quote mark used as punctuation ('word') is not part of the word.
    stripped = (w.strip("'") for w in words)
    return [w for w in stripped if w]


def word_error_rate(ref: str, hyp: str) -> tuple[int, int]:
    """(word edits turning `ref` into `hyp`, number of reference words): WER = edits / words.

    Edits are Levenshtein substitutions, insertions and deletions over normalized words.
    """
    r, h = normalize_for_scoring(ref), normalize_for_scoring(hyp)
    row = list(range(len(h) + 1))
    for i, ref_word in enumerate(r, start=1):
        diagonal, row[0] = row[0], i
        for j, hyp_word in enumerate(h, start=1):
            best = min(row[j] + 1, row[j - 1] + 1, diagonal + (ref_word != hyp_word))
            diagonal, row[j] = row[j], best
    return row[len(h)], len(r)


def recognizer_available() -> bool:
    """Whether pocketsphinx (the `eval` extra) is installed."""
    return importlib.util.find_spec("pocketsphinx") is not None


class Recognizer:
    """English speech recognition with pocketsphinx's bundled en-us model: recognizer(wav, rate) -> text.

    Needs the `eval` extra (pip install -e ".[eval]"); the model ships inside the wheel, nothing is
    downloaded. Every utterance gets a fresh decoder (~0.25 s): a decoder carries adaptation state
    (its cepstral-mean estimate) from one utterance to the next, which made a transcript depend on
    what had been decoded before it.
    """

    name = "pocketsphinx en-us"

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as err:
            raise ConfigError(
                "speech recognition needs pocketsphinx, which is not installed; pip install -e '.[eval]'"
            ) from err
        self._decoder_class = Decoder

    def _decoder(self):  # noqa: ANN202 - pocketsphinx's type
        # pocketsphinx >= 5 (the eval extra's floor) takes config keys as keywords; FATAL silences its log.
        return self._decoder_class(samprate=RECOGNIZER_RATE, loglevel="FATAL")

    def __call__(self, wav: torch.Tensor, sample_rate: int) -> str:
        """Transcribe a mono (T,) float waveform in [-1, 1] at `sample_rate`; "" when nothing is heard."""
        audio = resample(wav.detach().cpu().float(), sample_rate, RECOGNIZER_RATE).clamp(-1.0, 1.0)
        pcm = np.round(audio.numpy() * 32767.0).astype(np.int16).tobytes()
        decoder = self._decoder()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp is not None else ""
