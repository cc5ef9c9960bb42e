"""Synthesizer with a random-init voice: shapes, the data flow, speakers, accents, and bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

import vclone.synth.synthesizer as synthesizer_module
from vclone.errors import ConfigError, TextError, UnsupportedLanguageError
from vclone.models.speaker_embedding import SpeakerEmbeddingError, save_speaker_embedding, table_embedding
from vclone.synth.synthesizer import (
    SynthesisError,
    Synthesizer,
    UnknownPhonesWarning,
    UnknownSpeakerError,
    UntrainedLanguageError,
)

RUN_ID = "test-run"  # the voice_dir fixture's run id (tests/synth/conftest.py)


def test_shapes_follow_the_audio_convention(synth: Synthesizer) -> None:
    result = synth("The lazy dog jumps over the brown fox.", language="en-us", speaker="alice", seed=0)
    audio = synth.voice.vocab.audio
    frames = result.mel.shape[0]
    assert result.mel.shape == (frames, audio.n_mels) and frames > 0
    assert result.wav.dtype == torch.float32 and result.wav.shape == (frames * audio.hop_length,)
    assert float(result.wav.abs().max()) <= 0.99 + 1e-6
    assert result.durations.shape == (len(result.phones),) and int(result.durations.sum()) == frames
    assert result.sample_rate == audio.sample_rate
    assert result.seconds == pytest.approx(frames * audio.hop_length / audio.sample_rate)
    assert result.rtf > 0 and result.acoustic_seconds > 0 and result.vocoder_seconds > 0
    assert (result.language, result.model_language, result.speaker) == ("en-us", "en-us", "alice")


def test_text_reaches_the_model_as_the_voices_token_ids(synth: Synthesizer, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real_infer = synth.model.infer
    monkeypatch.setattr(synth.model, "infer", lambda batch, **kw: seen.append(batch) or real_infer(batch, **kw))
    result = synth("Sea shells.", language="en", speaker="bruno", pace=1.5)
    (batch,) = seen
    vocab = synth.voice.vocab
    assert batch.phone_ids[0].tolist() == vocab.phones.encode(result.phones)
    assert batch.speaker_ids.tolist() == [vocab.speakers.index("bruno")] and batch.speaker_embeddings is None
    assert batch.language_ids.tolist() == [vocab.languages.index("en-us")]
    assert batch.mel is None and batch.pace == 1.5


def test_accent_changes_the_language_id_only(synth: Synthesizer, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real_infer = synth.model.infer
    monkeypatch.setattr(synth.model, "infer", lambda batch, **kw: seen.append(batch) or real_infer(batch, **kw))
    native = synth("The lazy dog.", language="en-us", speaker="alice", seed=1)
    accented = synth("The lazy dog.", language="en-us", speaker="alice", accent="es", seed=1)
    assert accented.phones == native.phones
    assert torch.equal(seen[0].phone_ids, seen[1].phone_ids)
    languages = synth.voice.vocab.languages
    assert [b.language_ids.item() for b in seen] == [languages.index("en-us"), languages.index("es")]
    assert (accented.language, accented.model_language) == ("en-us", "es")
    assert not torch.equal(native.mel[:5], accented.mel[:5])


def test_speaker_by_name_or_by_its_table_row_file_is_the_same(synth: Synthesizer, tmp_path: Path) -> None:
    embedding = table_embedding(synth.voice, "bruno")
    assert embedding.encoder == f"table:{RUN_ID}" and embedding.source == "voice-table"
    path = save_speaker_embedding(
        tmp_path / "bruno.safetensors", embedding.vector, encoder=embedding.encoder, encoder_version="", speaker="bruno", source=embedding.source
    )
    by_name = synth("Dónde está.", language="es", speaker="bruno", seed=0)
    by_file = synth("Dónde está.", language="es", speaker=str(path), seed=0)
    by_object = synth("Dónde está.", language="es", speaker=embedding, seed=0)
    other = synth("Dónde está.", language="es", speaker="alice", seed=0)
    torch.testing.assert_close(by_file.mel, by_name.mel)
    torch.testing.assert_close(by_object.mel, by_name.mel)
    assert by_file.speaker == str(path)
    assert other.mel.shape != by_name.mel.shape or not torch.allclose(other.mel, by_name.mel)


def test_default_vocoder_is_the_universal_hifigan(synth: Synthesizer) -> None:
    assert synth.vocoder_name == "hifigan-universal"
    first = synth("The fox.", language="en-us", speaker="alice")
    again = synth("The fox.", language="en-us", speaker="alice")
    assert torch.equal(first.wav, again.wav)  # a neural vocoder needs no seed


def test_seed_repeats_the_griffin_lim_waveform_and_leaves_global_rng_alone(voice_dir: Path) -> None:
    synth = Synthesizer.from_path(voice_dir, vocoder="griffin-lim")
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = synth("The fox.", language="en-us", speaker="alice", seed=7)
    assert torch.equal(torch.random.get_rng_state(), before)
    second = synth("The fox.", language="en-us", speaker="alice", seed=7)
    assert torch.equal(first.wav, second.wav)
    unseeded = synth("The fox.", language="en-us", speaker="alice")
    assert not torch.equal(first.wav, unseeded.wav)


def test_pace_above_one_gives_more_frames(synth: Synthesizer) -> None:
    normal = synth("The quick brown fox.", language="en-us", speaker="alice")
    slow = synth("The quick brown fox.", language="en-us", speaker="alice", pace=3.0)
    assert slow.mel.shape[0] > normal.mel.shape[0]


def test_one_phonemizer_per_language_is_built_and_kept(voice_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    real = synthesizer_module.Phonemizer
    monkeypatch.setattr(synthesizer_module, "Phonemizer", lambda code: built.append(code) or real(code))
    synth = Synthesizer.from_path(voice_dir)
    for text in ("The dog.", "The fox."):
        synth(text, language="en-us", speaker="alice")
    synth("El perro.", language="es", speaker="alice")
    assert built == ["en-us", "es"]


@pytest.mark.parametrize(
    ("kwargs", "error", "needles"),
    [
        ({"speaker": "carol"}, UnknownSpeakerError, ["'carol'", "alice, bruno"]),
        ({"speaker": "missing.safetensors"}, SpeakerEmbeddingError, ["not found"]),
        ({"language": "de"}, UntrainedLanguageError, ["'de'", "en-us, es"]),
        ({"accent": "fr"}, UntrainedLanguageError, ["'fr'", "--accent", "en-us, es"]),
        ({"language": "klingon"}, UnsupportedLanguageError, ["klingon"]),
        ({"text": ""}, TextError, ["empty"]),
        ({"text": "   \n"}, TextError, ["empty"]),
        ({"text": "?!… --"}, TextError, ["nothing speakable"]),
        ({"pace": 0.0}, ConfigError, ["pace"]),
        ({"pace": float("nan")}, ConfigError, ["pace"]),
    ],
)
def test_bad_input_is_one_clear_error(synth: Synthesizer, kwargs: dict, error: type, needles: list[str]) -> None:
    call = {"text": "Hello.", "language": "en-us", "speaker": "alice", **kwargs}
    with pytest.raises(error) as info:
        synth(call.pop("text"), **call)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message


@pytest.mark.parametrize(
    ("encoder", "dim", "needle"),
    [("table:another-run", 16, "'table:another-run'"), (f"table:{RUN_ID}", 12, "12 values"), ("resemblyzer", 256, "resemblyzer")],
)
def test_embedding_from_another_space_or_size_is_refused(synth: Synthesizer, tmp_path: Path, encoder: str, dim: int, needle: str) -> None:
    path = save_speaker_embedding(tmp_path / "e.safetensors", torch.ones(dim), encoder=encoder, encoder_version="")
    with pytest.raises(SpeakerEmbeddingError, match=needle) as info:
        synth("Hello.", language="en-us", speaker=str(path))
    assert f"table:{RUN_ID}" in str(info.value)
    with pytest.raises(SpeakerEmbeddingError):
        synth.check(language="en-us", speaker=str(path))


def test_unknown_phones_warn_and_become_unk(synth: Synthesizer) -> None:
    phones = synth.voice.vocab.phones
    known = next(p for p in phones.tokens[3:] if p.isalpha())
    with pytest.warns(UnknownPhonesWarning, match="ʘ"):
        ids, unknown = synth.tokenize((known, "ʘ", " ", known))
    assert unknown == ("ʘ",)
    assert ids.tolist() == [phones.encode([known])[0], phones.unk_id, phones.encode([" "])[0], phones.encode([known])[0]]


def test_text_whose_phones_are_all_unknown_is_an_error(synth: Synthesizer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(SynthesisError, match="knows none of the phones"):
            synth.tokenize(("ʘ", " ", "ǃ", "."))


def test_accented_text_in_an_untrained_language_reports_its_unknown_phones(synth: Synthesizer) -> None:
    # German text, read with the English language id: phones shared with en/es are kept, others are <unk>.
    with pytest.warns(UnknownPhonesWarning):
        result = synth("Schöne Grüße aus München.", language="de", speaker="alice", accent="en-us")
    assert result.unknown_phones and result.language == "de" and result.model_language == "en-us"
    assert set(result.unknown_phones) <= set(result.phones)


def test_unknown_vocoder_lists_choices(voice_dir: Path) -> None:
    with pytest.raises(ConfigError, match="griffin-lim"):
        Synthesizer.from_path(voice_dir, vocoder="wavenet")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_device_without_a_gpu_is_a_clear_error(voice_dir: Path) -> None:
    with pytest.raises(ConfigError, match="no usable CUDA GPU"):
        Synthesizer.from_path(voice_dir, device="cuda")


def test_a_voice_that_names_its_vocoder_gets_it_by_default(voice_dir: Path, tmp_path: Path) -> None:
    import json
    import shutil

    from vclone.audio import AudioConfig
    from vclone.models.vocoder.config import build_generator, vocoder_preset
    from vclone.models.vocoder.store import save_vocoder

    voice = tmp_path / "voice"
    shutil.copytree(voice_dir, voice)
    kind, settings = vocoder_preset("tiny")
    save_vocoder(voice / "vocoder", build_generator(kind, settings), kind=kind, config=settings, audio=AudioConfig(), name="tuned")
    meta = json.loads((voice / "voice.json").read_text())
    (voice / "voice.json").write_text(json.dumps({**meta, "vocoder": "vocoder"}))
    named = Synthesizer.from_path(voice)
    assert named.vocoder_name == str((voice / "vocoder").resolve())
    assert Synthesizer.from_path(voice, vocoder="griffin-lim").vocoder_name == "griffin-lim"  # the command wins
    (voice / "voice.json").write_text(json.dumps({**meta, "vocoder": "gone"}))
    with pytest.raises(ConfigError, match="no such vocoder folder"):
        Synthesizer.from_path(voice)
