"""Synthesizer: text -> phones -> token ids -> acoustic model -> log-mel -> vocoder -> waveform.

Shape legend: N phones, T mel frames, M mel bands, S samples (S = T * hop), E speaker vector size.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from vclone.errors import ConfigError, TextError
from vclone.models.acoustic.batch import Batch, LossNormalizer
from vclone.models.speaker_embedding import SpeakerEmbedding
from vclone.models.shipped import DEFAULT_VOICE
from vclone.models.voice import Voice, load_voice
from vclone.synth.speakers import SpeakerChoice, SpeakerResolver
from vclone.synth.stream import (
    DEFAULT_CHUNK_FRAMES, FIRST_CHUNK_FRAMES, SentencePlan, pause_samples, plan_chunks, stream_sentences, vocoder_context_frames,
)
from vclone.synth.vocoders import DEFAULT_VOCODER, build_vocoder, voice_vocoder
from vclone.text import Phonemizer, PhonemizedText, get_language, split_sentences
from vclone.speech_rules import (
    AUDIO_SUFFIXES,
    MAX_PEAK,
    NOT_PHONES,
    ShortReferenceWarning,
    SynthesisError,
    UnknownPhonesWarning,
    UnknownSpeakerError,
    UntrainedLanguageError,
    check_pace,
    check_prosody,
    is_audio_reference,
)

__all__ = [
    "SynthesisError",
    "UnknownSpeakerError",
    "UntrainedLanguageError",
    "UnknownPhonesWarning",
    "ShortReferenceWarning",
    "AUDIO_SUFFIXES",
    "is_audio_reference",
    "SpeakerChoice",
    "SynthesisResult",
    "Synthesizer",
    "check_pace",
    "check_prosody",
    "check_device",
]

@dataclass(frozen=True)
class SynthesisResult:
    """One synthesized text."""

    wav: torch.Tensor
    """(S,) float32 waveform in [-1, 1], S = T * hop."""
    mel: torch.Tensor
    """(T, M) float32 predicted log-mel."""
    phones: tuple[str, ...]
    """The N tokens the model read (phones, stress, word boundaries, punctuation)."""
    durations: torch.Tensor
    """(N,) int64 frames given to each token; sums to T."""
    sample_rate: int
    """Samples per second of `wav`."""
    language: str
    """Language the text was read in (its phones)."""
    model_language: str
    """Language id given to the model: `language`, or the accent."""
    speaker: str
    """Training speaker name, embedding file or reference recording."""
    unknown_phones: tuple[str, ...] = ()
    """Phones the voice does not know, read as <unk> (each once)."""
    unspeakable: tuple[str, ...] = ()
    """Characters the phonemizer dropped (each once)."""
    acoustic_seconds: float = 0.0
    """Wall time of the acoustic model."""
    vocoder_seconds: float = 0.0
    """Wall time of the vocoder."""
    f0: torch.Tensor | None = None
    """(T,) float32 predicted F0 in Hz per frame, 0 on unvoiced frames; None for a voice without a
    pitch model."""

    @property
    def seconds(self) -> float:
        """Duration of the audio."""
        return self.wav.numel() / self.sample_rate

    @property
    def rtf(self) -> float:
        """Real-time factor: compute time (acoustic model + vocoder) per second of audio."""
        return (self.acoustic_seconds + self.vocoder_seconds) / max(self.seconds, 1e-9)


class Synthesizer:
    """A loaded voice ready to speak: `Synthesizer(voice)("Hello", language="en-us", speaker="alice")`,
    or `Synthesizer.from_path()("Hola", language="es", speaker=Path("ref.wav"))` with the shipped base voice;
    `synth.stream(text, ...)` yields the audio sentence by sentence, in chunks, as it is made.

    Phonemizers (on first use of a language) and the voice's speaker encoder (on the first reference
    recording, by `self.speakers`) are built once and kept by this instance.
    """

    def __init__(self, voice: Voice, *, vocoder: str | Path | None = None, device: str | torch.device = "cpu") -> None:
        """`vocoder`: a name (see `vclone vocoders`) or a vocoder folder; None takes the one the voice
        names, else the universal HiFi-GAN."""
        self.voice = voice
        self.device = check_device(device)
        self.model = voice.model.to(self.device).eval()
        chosen = vocoder if vocoder is not None else voice_vocoder(voice.meta, voice.path) or DEFAULT_VOCODER
        self.vocoder = build_vocoder(chosen, audio=voice.vocab.audio, label=f"the voice {voice.path}").to(self.device)
        self.vocoder_name = str(chosen)
        self.speakers = SpeakerResolver(voice)
        self._phonemizers: dict[str, Phonemizer] = {}

    @classmethod
    def from_path(cls, path: Path | str = DEFAULT_VOICE, *, vocoder: str | Path | None = None,
                  device: str | torch.device = "cpu") -> "Synthesizer":
        """Load a voice folder, its voice.json, a training run folder, or a shipped voice by name
        (default: the shipped base voice)."""
        return cls(load_voice(path, device=check_device(device)), vocoder=vocoder, device=device)

    def __call__(
        self,
        text: str,
        *,
        language: str,
        speaker: str | Path | SpeakerEmbedding,
        accent: str | None = None,
        pace: float = 1.0,
        pitch_shift: float = 0.0,
        energy: float = 1.0,
        seed: int | None = None,
    ) -> SynthesisResult:
        """Speak `text` (written in `language`) with `speaker`'s voice: a training speaker's name, a
        speaker embedding (file), or a reference recording (WAV, FLAC, OGG, ...) embedded with the
        voice's own speaker encoder; `accent` is the language id the
        model gets instead of `language` (accented speech); `pace` above 1 speaks slower;
        `pitch_shift` raises the voice by that many semitones and `energy` scales its loudness (voices
        with a pitch model); `seed` makes Griffin-Lim's random phases repeatable and picks the noise a
        flow-matching voice samples its mel from (None: that voice's default seed), without touching
        torch's global RNG."""
        text_language, model_language, who = self.check(
            language=language, speaker=speaker, accent=accent, pace=pace, pitch_shift=pitch_shift, energy=energy
        )
        phonemized = self.phonemize(text, text_language)
        token_ids, unknown = self.tokenize(phonemized.phones)
        start = time.perf_counter()
        mel, durations, f0 = self.predict_mel(
            token_ids, language=model_language, speaker=who, pace=pace, pitch_shift=pitch_shift, energy=energy, seed=seed
        )
        middle = time.perf_counter()
        wav = self.vocode(mel, seed=seed)
        end = time.perf_counter()
        return SynthesisResult(
            wav=wav,
            mel=mel,
            phones=phonemized.phones,
            durations=durations,
            sample_rate=self.voice.vocab.audio.sample_rate,
            language=text_language,
            model_language=model_language,
            speaker=who.label,
            unknown_phones=unknown,
            unspeakable=phonemized.unspeakable,
            acoustic_seconds=middle - start,
            vocoder_seconds=end - middle,
            f0=f0,
        )

    def stream(
        self,
        text: str,
        *,
        language: str,
        speaker: str | Path | SpeakerEmbedding,
        accent: str | None = None,
        pace: float = 1.0,
        pitch_shift: float = 0.0,
        energy: float = 1.0,
        seed: int | None = None,
        chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    ) -> Iterator[torch.Tensor]:
        """Speak `text` as it is made: an iterator of (S,) float32 chunks at `self.sample_rate`.

        The text is split into sentences (`vclone.text.split_sentences`, with the language's
        punctuation and abbreviations); each is read, and its whole mel predicted, only when the
        previous one has been vocoded, and the mel is vocoded `chunk_frames` at a time (the very first
        chunk shorter, for a quick start) with enough context either side that the chunks join exactly:
        the stream equals `__call__` on each sentence, with a short pause (0.2 s times `pace`) between
        sentences, except that samples beyond the safe peak are clipped rather than the sentence
        scaled down. Griffin-Lim vocodes whole sentences. A sentence with nothing speakable is
        skipped. Settings are checked here, before the first chunk is asked for; the other
        arguments are those of `__call__`.

            for chunk in synth.stream("Hi. How are you?", language="en-us", speaker="alice"):
                player.write(chunk.numpy())
        """
        text_language, model_language, who = self.check(
            language=language, speaker=speaker, accent=accent, pace=pace, pitch_shift=pitch_shift, energy=energy
        )
        if not isinstance(text, str) or not text.strip():
            raise TextError("the text is empty; give the words to speak")
        audio = self.voice.vocab.audio
        plan = SentencePlan(
            hop_length=audio.hop_length,
            chunk_frames=chunk_frames,
            first_chunk_frames=min(FIRST_CHUNK_FRAMES, chunk_frames),
            context_frames=vocoder_context_frames(self.vocoder),
            pause=pause_samples(pace=pace, sample_rate=audio.sample_rate, hop_length=audio.hop_length),
            max_peak=MAX_PEAK,
        )
        plan_chunks(1, chunk_frames=chunk_frames, context_frames=plan.context_frames)  # refuses a bad chunk size now

        def mel_of(sentence: str) -> torch.Tensor:
            token_ids, _ = self.tokenize(self.phonemize(sentence, text_language).phones)
            mel, _, _ = self.predict_mel(
                token_ids, language=model_language, speaker=who, pace=pace, pitch_shift=pitch_shift, energy=energy, seed=seed
            )
            return mel

        return stream_sentences(
            split_sentences(text, language=text_language), mel_of=mel_of,
            vocode=lambda mel: self.vocode_unscaled(mel, seed=seed), plan=plan,
        )

    @property
    def sample_rate(self) -> int:
        """Samples per second of the audio this voice speaks."""
        return self.voice.vocab.audio.sample_rate

    def check(
        self,
        *,
        language: str,
        speaker: str | Path | SpeakerEmbedding,
        accent: str | None = None,
        pace: float = 1.0,
        pitch_shift: float = 0.0,
        energy: float = 1.0,
    ) -> tuple[str, str, SpeakerChoice]:
        """Raise the error `__call__` would raise for these settings, before any text is read
        (so a batch of lines fails once, not once per line); return what they resolve to: the text's
        language, the language id the model gets, and who speaks."""
        text_language, model_language = self.resolve_languages(language, accent)
        who = self.resolve_speaker(speaker)
        check_pace(pace)
        self.check_prosody(pitch_shift=pitch_shift, energy=energy)
        return text_language, model_language, who

    @property
    def has_pitch_model(self) -> bool:
        """Whether the voice predicts pitch and energy (and so can steer them)."""
        return bool(getattr(self.model.config, "pitch_energy", False))

    def check_prosody(self, *, pitch_shift: float, energy: float) -> None:
        """Raise ConfigError for out-of-range values, or for steering a voice without a pitch model."""
        check_prosody(pitch_shift=pitch_shift, energy=energy)
        if (pitch_shift != 0.0 or energy != 1.0) and not self.has_pitch_model:
            raise ConfigError(
                "this voice has no pitch and energy model (trained before vclone had one), so --pitch-shift and "
                "--energy cannot steer it; train a voice with a current preset"
            )

    def resolve_languages(self, language: str, accent: str | None) -> tuple[str, str]:
        """(language the text is phonemized in, language id the model gets), as vclone codes.

        The model's language must be one the voice was trained on; with an accent, the text's
        language only needs to be one vclone can phonemize (its phones are read through the shared
        inventory)."""
        text_language = get_language(language).code
        model_language = text_language if accent is None else get_language(accent).code
        if model_language not in self.voice.vocab.languages:
            option = "--language" if accent is None else "--accent"
            raise UntrainedLanguageError(
                f"the voice was not trained on {model_language!r} ({option}); "
                f"it speaks: {', '.join(self.voice.vocab.languages)}"
            )
        return text_language, model_language

    def resolve_speaker(self, speaker: str | Path | SpeakerEmbedding) -> SpeakerChoice:
        """Who speaks (see `SpeakerResolver.resolve`): a training speaker's name, a speaker embedding
        file, a loaded SpeakerEmbedding, or a reference recording."""
        return self.speakers.resolve(speaker)

    def prepare_speaker(self, speaker: str | Path | SpeakerEmbedding) -> str | Path | SpeakerEmbedding:
        """`speaker` with a reference recording replaced by its embedding, so that many texts spoken by
        it embed it once (see `SpeakerResolver.prepare`)."""
        return self.speakers.prepare(speaker)

    def embed_reference(self, path: Path) -> tuple[SpeakerEmbedding, str]:
        """A reference recording -> (its speaker embedding in the voice's space, a warning when it
        holds little speech, else ""); see `SpeakerResolver.embed_reference`."""
        return self.speakers.embed_reference(path)

    def phonemize(self, text: str, language: str) -> PhonemizedText:
        """Text -> phones with this instance's phonemizer for `language` (TextError if nothing to say)."""
        if not isinstance(text, str) or not text.strip():
            raise TextError("the text is empty; give the words to speak")
        if language not in self._phonemizers:
            self._phonemizers[language] = Phonemizer(language)
        return self._phonemizers[language](text).keeping_punctuation(self.voice.vocab.phones)

    def tokenize(self, phones: tuple[str, ...]) -> tuple[torch.Tensor, tuple[str, ...]]:
        """Phones -> (N,) token ids through the voice's inventory, and the phones it lacks.

        Unknown phones become <unk> with an UnknownPhonesWarning; a text none of whose phones the
        voice knows is a SynthesisError (it could only babble)."""
        inventory = self.voice.vocab.phones
        unknown = tuple(dict.fromkeys(p for p in phones if p not in inventory))
        if unknown:
            known = [p for p in phones if p in inventory and p not in NOT_PHONES]
            if not known:
                raise SynthesisError(
                    f"the voice knows none of the phones of this text ({' '.join(unknown)}); "
                    f"choose a language it was trained on: {', '.join(self.voice.vocab.languages)}"
                )
            warnings.warn(f"phones unknown to the voice, read as <unk>: {' '.join(unknown)}", UnknownPhonesWarning, stacklevel=3)
        return torch.tensor(inventory.encode(phones), dtype=torch.long), unknown

    @torch.inference_mode()
    def predict_mel(
        self,
        token_ids: torch.Tensor,
        *,
        language: str,
        speaker: SpeakerChoice,
        pace: float,
        pitch_shift: float = 0.0,
        energy: float = 1.0,
        seed: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(N,) token ids -> ((T, M) log-mel, (N,) int64 frames per token, (T,) F0 in Hz with 0 on
        unvoiced frames, or None without a pitch model) for one utterance. A voice with a pitch model
        speaks in `speaker.register`, and every mel matches `speaker.profile`, when set. A flow-matching
        voice samples the mel from noise seeded with `seed` (None: its default seed)."""
        n = token_ids.numel()
        embeddings = None if speaker.embedding is None else speaker.embedding[None, :].to(self.device, torch.float32)
        batch = Batch(
            ids=("synth",),
            phone_ids=token_ids[None, :].to(self.device),
            phone_lengths=torch.tensor([n], device=self.device),
            mel=None,
            mel_lengths=None,
            speaker_ids=torch.tensor([speaker.speaker_id], device=self.device),
            language_ids=torch.tensor([self.voice.vocab.languages.index(language)], device=self.device),
            norm=LossNormalizer(num_items=1.0, num_phones=float(n), num_frames=0.0),
            speaker_embeddings=embeddings,
            pitch_stats=speaker.pitch_stats(self.device),
            pace=pace,
            pitch_shift=pitch_shift,
            energy_scale=energy,
        )
        record = self.model.infer(batch, seed=seed)
        frames = int(record.frame_lengths[0])
        if frames < 1:
            raise SynthesisError("the acoustic model predicted no frames for this text; try a longer text or a larger --pace")
        mel = speaker.match_timbre(record.mel_pred[0, :frames].float().cpu())
        durations = record.durations[0, :n].round().long().cpu()
        f0 = None
        if record.frame_pitch is not None:
            log_f0 = record.frame_pitch[0, :frames].float().cpu()
            f0 = torch.where(log_f0 > 0, log_f0.exp(), torch.zeros_like(log_f0))
        return mel, durations, f0

    def vocode(self, mel: torch.Tensor, *, seed: int | None = None) -> torch.Tensor:
        """(T, M) log-mel -> (T * hop,) float32 waveform, scaled down (never clipped) to a safe peak."""
        wav = self.vocode_unscaled(mel, seed=seed)
        peak = float(wav.abs().max()) if wav.numel() else 0.0
        return wav * (MAX_PEAK / peak) if peak > MAX_PEAK else wav

    @torch.inference_mode()
    def vocode_unscaled(self, mel: torch.Tensor, *, seed: int | None = None) -> torch.Tensor:
        """(T, M) log-mel -> (T * hop,) float32 waveform as the vocoder made it (SynthesisError on NaN)."""
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            wav = self.vocoder(mel.to(self.device)).float().cpu()
        if not bool(torch.isfinite(wav).all()):
            raise SynthesisError("the vocoder produced NaN or infinite samples; the voice's weights are broken, export it again")
        return wav


def check_device(device: str | torch.device) -> torch.device:
    """The torch device, or ConfigError when it is malformed or absent on this machine."""
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but this machine has no usable CUDA GPU; use --device cpu")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ConfigError(f"device {device!r} asked for, but this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    return resolved
