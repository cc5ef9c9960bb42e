"""Every voice actually shipped in vclone/voices/ loads and speaks every language it lists.

Parametrized over what the package holds: with no voice shipped there is nothing to check (and the
`base` check passes vacuously); once one is dropped in, these run for real."""

from __future__ import annotations

import warnings

import pytest
import torch

from vclone.models import shipped
from vclone.models.voice import load_voice
from vclone.synth.synthesizer import Synthesizer, UnknownPhonesWarning

SHIPPED = shipped.shipped_voice_names()
# A short sentence per language where we have one; any other language reads digits (spelled out in it).
SENTENCES = {
    "en-us": "The weather is nice today.", "en-gb": "The weather is nice today.", "es": "Hoy hace buen tiempo.",
    "fr": "Il fait beau aujourd'hui.", "de": "Heute ist schönes Wetter.", "it": "Oggi fa bel tempo.",
    "pt-br": "Hoje o tempo está bom.", "ru": "Сегодня хорошая погода.", "ja": "今日はいい天気です。",
    "zh": "今天天气很好。", "hi": "आज मौसम अच्छा है।", "nl": "Het is mooi weer vandaag.", "pl": "Dziś jest ładna pogoda.",
}


def test_the_base_voice_is_installed_when_its_folder_is_there() -> None:
    base = shipped.VOICES_DIR / shipped.DEFAULT_VOICE
    if base.exists():
        assert shipped.DEFAULT_VOICE in SHIPPED, f"{base} exists but holds no loadable voice"


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_voice_loads_and_speaks_every_language(name: str) -> None:
    torch.set_num_threads(1)
    described = shipped.describe_voice(shipped.shipped_voice_dir(name), name=name)
    assert described.provenance, f"{name} has no provenance in its voice.json"
    synth = Synthesizer(load_voice(name))
    speaker = synth.voice.vocab.speakers[0]
    for language in synth.voice.vocab.languages:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownPhonesWarning)
            result = synth(SENTENCES.get(language, "12 34 56"), language=language, speaker=speaker, seed=0)
        assert result.seconds > 0.3 and bool(torch.isfinite(result.wav).all()), language
        assert float(result.wav.abs().max()) > 1e-3, f"{name} is silent in {language}"


@pytest.mark.slow
@pytest.mark.skipif(shipped.DEFAULT_VOICE not in SHIPPED, reason="no base voice shipped")
def test_base_voice_pitch_shift_moves_the_audio_f0() -> None:
    """--pitch-shift acts on the sound, not only on the predicted contour: the median F0 of the audio,
    measured by prepare's extractor, moves by most of the interval asked for, up and down. A low
    voice (the real Russian speaker, around 120 Hz), so an octave up stays inside the range of voices the
    decoder heard: beyond it (e.g. 250 -> 500 Hz) the audio saturates at the highest training voices."""
    from vclone.data.features import extract_f0

    torch.set_num_threads(1)
    synth = Synthesizer(load_voice(shipped.DEFAULT_VOICE))
    speaker = "real-ru-msu"
    assert speaker in synth.voice.vocab.speakers
    text = "Please call Stella and ask her to bring these things with her from the store."

    def median_f0(shift: float) -> float:
        result = synth(text, language="en-us", speaker=speaker, pitch_shift=shift, seed=0)
        f0 = extract_f0(result.wav, sample_rate=result.sample_rate, hop_length=synth.voice.vocab.audio.hop_length,
                        num_frames=result.mel.shape[0])
        return float(f0[f0 > 0].median())

    base, octave_up, down = median_f0(0.0), median_f0(12.0), median_f0(-6.0)
    assert octave_up / base > 1.6  # an octave is 2.0; the shipped voice reaches about 1.8
    assert down / base < 0.85  # six semitones down is 0.71
