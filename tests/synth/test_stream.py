"""Streamed synthesis: chunk plans, context against the measured receptive field, stream == whole, pauses, first chunk early."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from vclone.audio import AudioConfig, MelSpectrogram
from vclone.errors import ConfigError, TextError
from vclone.models.vocoder.config import build_generator, vocoder_preset
from vclone.models.vocoder.store import save_vocoder
from vclone.synth.stream import (
    SENTENCE_PAUSE_SECONDS, ChunkSpan, SentencePlan, pause_samples, plan_chunks, stream_sentences, vocoder_context_frames,
)
from vclone.synth.synthesizer import Synthesizer
from vclone.synth.vocoders import build_vocoder

AUDIO = AudioConfig()
HOP = AUDIO.hop_length
TOLERANCE = 1e-4
"""Largest |stream - whole| sample difference allowed: float round-off of convolutions run on
different lengths (measured ~1e-6); an audible click at a join would be orders of magnitude larger."""
PARAGRAPH = "The quick brown fox jumps over the lazy dog. She sells sea shells! Does it work?"


def _speech_mel(seconds: float = 3.0) -> torch.Tensor:
    """(T, M) log-mel of a voiced, gliding harmonic signal with syllable-like loudness and a silent gap."""
    rate = AUDIO.sample_rate
    t = torch.arange(int(seconds * rate), dtype=torch.float64) / rate
    f0 = 120 + 30 * torch.sin(2 * math.pi * 0.7 * t)
    phase = 2 * math.pi * torch.cumsum(f0, 0) / rate
    wav = sum(torch.sin(k * phase) / k for k in range(1, 30))
    envelope = 0.5 * (1 - torch.cos(2 * math.pi * 4 * t)).clamp_min(0) * (t % 1.5 < 1.2)
    wav = (0.2 * wav * envelope + 1e-3 * torch.randn(t.shape, generator=torch.Generator().manual_seed(0))).float()
    return MelSpectrogram(AUDIO)(wav)


def _vocoder_folder(root: Path, preset: str) -> Path:
    kind, settings = vocoder_preset(preset)
    torch.manual_seed(0)
    return save_vocoder(root / preset, build_generator(kind, settings).eval(), kind=kind, config=settings, audio=AUDIO, name=preset)


@pytest.fixture(scope="module")
def vocoders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.nn.Module]:
    """Every vocoder `vclone vocoders` lists here, and random-init ones of the trainable presets."""
    root = tmp_path_factory.mktemp("vocoders")
    built = {name: build_vocoder(name, audio=AUDIO) for name in ("hifigan-universal", "griffin-lim")}
    for preset in ("fast", "small", "tiny-fast"):
        built[preset] = build_vocoder(_vocoder_folder(root, preset), audio=AUDIO)
    return built


def test_plan_chunks_table() -> None:
    assert plan_chunks(10, chunk_frames=4, context_frames=2) == [
        ChunkSpan(0, 4, 0, 6), ChunkSpan(4, 8, 2, 10), ChunkSpan(8, 10, 6, 10)
    ]
    assert plan_chunks(10, chunk_frames=4, context_frames=1, first_chunk_frames=2) == [
        ChunkSpan(0, 2, 0, 3), ChunkSpan(2, 6, 1, 7), ChunkSpan(6, 10, 5, 10)
    ]
    assert plan_chunks(7, chunk_frames=3, context_frames=None) == [ChunkSpan(0, 7, 0, 7)]
    assert plan_chunks(3, chunk_frames=8, context_frames=20) == [ChunkSpan(0, 3, 0, 3)]
    with pytest.raises(ConfigError, match="at least 1"):
        plan_chunks(3, chunk_frames=0, context_frames=2)


def _measured_context(vocoder: torch.nn.Module, frames: int = 81) -> int:
    """Frames either side of a changed middle frame whose samples change: the receptive field, measured."""
    mel = _speech_mel(frames * HOP / AUDIO.sample_rate + 0.1)[:frames]
    middle = frames // 2
    bumped = mel.clone()
    bumped[middle] += 1.0
    with torch.inference_mode():
        changed = (vocoder(bumped) != vocoder(mel)).nonzero().flatten()
    first, last = int(changed.min()) // HOP, int(changed.max()) // HOP
    assert 0 < first and last < frames - 1, "the test mel is too short to see the whole receptive field"
    return max(middle - first, last - middle)


@pytest.mark.parametrize("name", ["hifigan-universal", "fast", "small", "tiny-fast"])
def test_context_covers_the_measured_receptive_field(vocoders: dict, name: str) -> None:
    context = vocoder_context_frames(vocoders[name])
    measured = _measured_context(vocoders[name])
    assert measured <= context <= measured + 3, (measured, context)


def test_griffin_lim_vocodes_whole_sentences(vocoders: dict) -> None:
    assert vocoder_context_frames(vocoders["griffin-lim"]) is None


def _plan(vocoder: torch.nn.Module, *, chunk_frames: int = 40, pause: int = 0) -> SentencePlan:
    return SentencePlan(hop_length=HOP, chunk_frames=chunk_frames, first_chunk_frames=16, context_frames=vocoder_context_frames(vocoder),
                        pause=pause, max_peak=0.99)


@pytest.mark.parametrize("name", ["hifigan-universal", "griffin-lim", "fast", "small", "tiny-fast"])
def test_stream_equals_whole_sentence_vocoding(vocoders: dict, name: str) -> None:
    vocoder, mel = vocoders[name], _speech_mel()

    def vocode(part: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(5)  # Griffin-Lim's phases, as Synthesizer.vocode(seed=5) draws them
            return vocoder(part)

    chunks = list(stream_sentences(["one"], mel_of=lambda _: mel, vocode=vocode, plan=_plan(vocoder)))
    whole = vocode(mel).clamp(-0.99, 0.99)
    streamed = torch.cat(chunks)
    assert len(chunks) == (1 if name == "griffin-lim" else 1 + math.ceil((mel.shape[0] - 16) / 40))
    assert streamed.shape == whole.shape == (mel.shape[0] * HOP,)
    assert float((streamed - whole).abs().max()) <= TOLERANCE
    assert float(whole.abs().max()) > 0.05  # the test signal makes real sound, not silence


def test_too_little_context_would_be_heard(vocoders: dict) -> None:
    """The tolerance is tight enough to catch joins made with too little context."""
    vocoder, mel = vocoders["hifigan-universal"], _speech_mel()
    plan = SentencePlan(hop_length=HOP, chunk_frames=40, first_chunk_frames=None, context_frames=2, pause=0, max_peak=0.99)
    with torch.inference_mode():
        streamed = torch.cat(list(stream_sentences(["one"], mel_of=lambda _: mel, vocode=vocoder, plan=plan)))
        whole = vocoder(mel).clamp(-0.99, 0.99)
    assert float((streamed - whole).abs().max()) > 100 * TOLERANCE


@pytest.mark.filterwarnings("ignore::vclone.synth.synthesizer.UnknownPhonesWarning")
def test_synthesizer_stream_equals_each_sentence_spoken_with_a_pause(synth: Synthesizer) -> None:
    # pace 8: the random-init voice predicts only a few frames per sentence at its own pace.
    sentences = ["The quick brown fox jumps over the lazy dog.", "She sells sea shells!", "Does it work?"]
    chunks = list(synth.stream(PARAGRAPH, language="en-us", speaker="alice", pace=8.0, chunk_frames=6))
    pause = pause_samples(pace=8.0, sample_rate=AUDIO.sample_rate, hop_length=HOP)
    expected = []
    for index, sentence in enumerate(sentences):
        result = synth(sentence, language="en-us", speaker="alice", pace=8.0)
        expected += [torch.zeros(pause)] * (index > 0) + [synth.vocode_unscaled(result.mel).clamp(-0.99, 0.99)]
    assert len(chunks) > len(sentences)
    assert all(c.dtype == torch.float32 and c.dim() == 1 for c in chunks)
    torch.testing.assert_close(torch.cat(chunks), torch.cat(expected), atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("pace", [1.0, 2.0])
def test_sentences_are_parted_by_a_short_pause(synth: Synthesizer, pace: float) -> None:
    chunks = list(synth.stream("The dog. The fox.", language="en-us", speaker="alice", pace=pace))
    assert len(chunks) == 2  # one short sentence, one chunk each
    leading_zeros = int((chunks[1] != 0).nonzero()[0])
    assert leading_zeros == pause_samples(pace=pace, sample_rate=AUDIO.sample_rate, hop_length=HOP)
    assert leading_zeros / AUDIO.sample_rate == pytest.approx(SENTENCE_PAUSE_SECONDS * pace, abs=HOP / AUDIO.sample_rate)
    assert 0.1 <= SENTENCE_PAUSE_SECONDS <= 0.4  # a breath between sentences, not a stop


@pytest.mark.filterwarnings("ignore::vclone.synth.synthesizer.UnknownPhonesWarning")
def test_first_chunk_comes_before_the_last_sentence_is_read(synth: Synthesizer, monkeypatch: pytest.MonkeyPatch) -> None:
    read = []
    real = synth.phonemize
    monkeypatch.setattr(synth, "phonemize", lambda text, language: read.append(text) or real(text, language))
    stream = synth.stream(PARAGRAPH, language="en-us", speaker="alice")
    assert read == []  # nothing is read before the first chunk is asked for
    next(stream)
    assert read == ["The quick brown fox jumps over the lazy dog."]
    rest = list(stream)
    assert len(rest) >= 2 and read[-1] == "Does it work?"


def test_unspeakable_sentences_are_skipped_and_bad_settings_fail_at_once(synth: Synthesizer) -> None:
    spoken = torch.cat(list(synth.stream("🙂🙂. The dog.", language="en-us", speaker="alice")))
    alone = torch.cat(list(synth.stream("The dog.", language="en-us", speaker="alice")))
    assert torch.equal(spoken, alone)
    with pytest.raises(TextError, match="nothing speakable"):
        list(synth.stream("🙂. 🙂!", language="en-us", speaker="alice"))
    with pytest.raises(TextError, match="empty"):
        synth.stream("  ", language="en-us", speaker="alice")
    with pytest.raises(ConfigError, match="pace"):
        synth.stream("Hi.", language="en-us", speaker="alice", pace=0)
    with pytest.raises(ConfigError, match="at least 1"):
        synth.stream("Hi.", language="en-us", speaker="alice", chunk_frames=0)
