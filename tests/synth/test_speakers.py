"""SpeakerResolver: a name, an embedding (file) or a recording -> the SpeakerChoice the model reads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vclone.models.speaker_embedding import save_speaker_embedding, table_embedding
from vclone.synth.speakers import SpeakerChoice, SpeakerResolver
from vclone.synth.synthesizer import SynthesisError, Synthesizer, UnknownSpeakerError


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
