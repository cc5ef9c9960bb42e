"""SpeakerResolver: a name, an embedding (file) or a recording -> the SpeakerChoice the model reads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from vclone.models.speaker_embedding import save_speaker_embedding, table_embedding
from vclone.models.speaker_encoder.reference import reference_profile
from vclone.synth.speakers import SpeakerChoice, SpeakerResolver
from vclone.synth.synthesizer import SynthesisError, Synthesizer, UnknownSpeakerError
from vclone.timbre import SpectralProfile, match_profile, mel_convention, speech_profile, speech_spread


def test_a_name_is_its_table_row_and_an_embedding_file_its_vector(synth: Synthesizer, tmp_path: Path) -> None:
    speakers = SpeakerResolver(synth.voice)
    assert speakers.resolve("bruno") == SpeakerChoice(label="bruno", speaker_id=synth.voice.vocab.speakers.index("bruno"))
    embedding = table_embedding(synth.voice, "bruno")
    path = save_speaker_embedding(
        tmp_path / "bruno.safetensors", embedding.vector, encoder=embedding.encoder, encoder_version="", speaker="bruno", source=embedding.source
    )
    by_file = speakers.resolve(str(path))
    assert by_file.label == str(path) and by_file.speaker_id == 0
    torch.testing.assert_close(by_file.embedding, embedding.vector)
    assert speakers.prepare("bruno") == "bruno" and speakers.prepare(embedding) is embedding


def test_an_unknown_name_lists_the_training_speakers(synth: Synthesizer) -> None:
    with pytest.raises(UnknownSpeakerError, match="training speakers: alice, bruno"):
        SpeakerResolver(synth.voice).resolve("carol")


def test_a_table_voice_cannot_clone_a_recording(synth: Synthesizer, tmp_path: Path) -> None:
    with pytest.raises(SynthesisError, match="own speaker table"):
        SpeakerResolver(synth.voice).resolve(tmp_path / "reference.wav")


def test_the_synthesizer_resolves_through_its_own_resolver(synth: Synthesizer) -> None:
    assert isinstance(synth.speakers, SpeakerResolver) and synth.speakers.voice is synth.voice
    assert synth.resolve_speaker("alice") == synth.speakers.resolve("alice")


def test_a_clone_matches_the_long_term_spectrum_its_embedding_carries(synth: Synthesizer) -> None:
    """A profile in the voice's mel convention moves every mel toward it; one in another convention is ignored."""
    row = table_embedding(synth.voice, "alice")
    text = "The quick brown fox jumps over the lazy dog."
    plain = synth(text, language="en-us", speaker=row, seed=0).mel.numpy()
    bands = plain.shape[1]
    target = speech_profile(plain) + np.linspace(1.0, -1.0, bands)  # brighter lows, darker highs
    ours = SpectralProfile(target.astype(np.float32), mel_convention(synth.voice.vocab.audio.to_dict()))
    matched = synth(text, language="en-us", speaker=replace(row, profile=ours), seed=0).mel.numpy()
    np.testing.assert_allclose(matched, match_profile(plain, target), atol=1e-5)  # no spread: the envelope alone
    before, after = (float(np.abs(speech_profile(m) - target)[: bands - 6].std()) for m in (plain, matched))
    assert after < 0.2 * before  # the shape is the target's (the level is the voice's own)
    other = SpectralProfile(target.astype(np.float32), ours.convention.replace("22050", "16000", 1))
    unmatched = synth(text, language="en-us", speaker=replace(row, profile=other), seed=0).mel.numpy()
    assert np.array_equal(unmatched, plain)
    spread = speech_spread(plain) * 1.5  # a speaker who moves more than the clone does: its contrast grows
    livelier = synth(text, language="en-us", speaker=replace(row, profile=replace(ours, spread=spread)), seed=0).mel.numpy()
    np.testing.assert_allclose(livelier, match_profile(plain, target, spread), atol=1e-5)
    grown = speech_spread(livelier)[: bands - 6] / speech_spread(plain)[: bands - 6]
    assert np.median(grown) == pytest.approx(1.5, rel=0.1)


def test_the_profile_of_a_recording_is_its_speech_spectrum_in_the_voices_convention(synth: Synthesizer, tmp_path: Path) -> None:
    from speaker_fixtures import utterance

    from vclone.audio import MelSpectrogram, load_audio

    audio = synth.voice.vocab.audio
    path = tmp_path / "ref.wav"
    sf.write(path, utterance(2, 0, seconds=2.0, sample_rate=16000).numpy(), 16000)  # read at the voice's rate
    profile = reference_profile([path, path], audio)
    assert profile.convention == mel_convention(audio.to_dict())
    mel = MelSpectrogram(audio)(load_audio(path, sample_rate=audio.sample_rate)).numpy()
    np.testing.assert_allclose(profile.values, speech_profile(mel), atol=1e-5)
    assert profile.spread is not None
    np.testing.assert_allclose(profile.spread, speech_spread(mel), atol=1e-5)
