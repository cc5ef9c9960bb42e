"""Kokoro-82M speaking: text -> espeak-ng IPA -> Kokoro symbols -> token ids -> ONNX model -> 24 kHz audio."""

from __future__ import annotations

import numpy as np

from recipes.kokoro.assets import STYLE_ROWS, KokoroAssetError, KokoroAssets, read_model, read_vocab
from recipes.kokoro.ipa import encode, to_kokoro

__all__ = ["SAMPLE_RATE", "KokoroEngine", "missing_runtime"]

SAMPLE_RATE = 24_000
"""Kokoro writes 24 kHz mono audio."""


def missing_runtime() -> str:
    """Why the Kokoro engine cannot run here ("" when it can): a missing package or model file."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        from recipes.kokoro.assets import INSTALL_COMMAND
        return f"onnxruntime is not installed; install with: {INSTALL_COMMAND}"
    try:
        read_vocab()
        read_model()
    except KokoroAssetError as e:
        return str(e)
    return ""


class KokoroEngine:
    """One ONNX Runtime session of Kokoro-82M on the CPU, plus one espeak-ng Phonemizer per language.

    ``KokoroEngine(assets)("Hello there.", "en-us", "af_heart")`` returns float32 samples at
    SAMPLE_RATE. Build it once (loading checks the 92 MB model's hash) and call it often.
    """

    def __init__(self, assets: KokoroAssets, *, num_threads: int = 1) -> None:
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        try:
            import onnxruntime as ort
        except ImportError:
            from recipes.kokoro.assets import INSTALL_COMMAND
            raise KokoroAssetError(f"onnxruntime is not installed; install with: {INSTALL_COMMAND}") from None
        self.assets = assets
        self.vocab = read_vocab()
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # the int8 graph's initializer warnings are not news
        self._session = ort.InferenceSession(read_model(), sess_options=options,
                                             providers=["CPUExecutionProvider"])
        # kokoro-onnx's export names the ids "tokens", the onnx-community export "input_ids".
        self._ids_input = self._session.get_inputs()[0].name
        self._phonemizers: dict[str, object] = {}

    def phonemes(self, text: str, language: str) -> str:
        """``text`` in Kokoro's symbols: vclone's espeak-ng IPA for ``language``, respelled."""
        if language not in self._phonemizers:
            from vclone.text.phonemize import Phonemizer

            self._phonemizers[language] = Phonemizer(language)
        return to_kokoro(self._phonemizers[language](text).ipa, language)

    def render(self, phonemes: str, voice: str, *, speed: float = 1.0) -> np.ndarray:
        """Audio (float32, mono, SAMPLE_RATE) of Kokoro symbols in the voice of style table ``voice``."""
        ids = encode(phonemes, self.vocab)
        table = self.assets.style_table(voice)
        style = table[min(len(ids), STYLE_ROWS - 1)][None, :]
        feeds = {
            self._ids_input: np.array([[0, *ids, 0]], dtype=np.int64),
            "style": style.astype(np.float32),
            "speed": np.array([speed], dtype=np.float32),
        }
        audio = self._session.run(None, feeds)[0]
        return np.asarray(audio, dtype=np.float32).reshape(-1)

    def __call__(self, text: str, language: str, voice: str, *, speed: float = 1.0) -> np.ndarray:
        """Speak ``text`` in ``language`` with style table ``voice``."""
        return self.render(self.phonemes(text, language), voice, speed=speed)
