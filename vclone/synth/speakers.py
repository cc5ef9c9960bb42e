"""Who speaks: a voice's training speaker by name, a speaker embedding (file), or a reference
recording embedded with the voice's own speaker encoder, turned into the speaker condition the
acoustic model reads (`SpeakerChoice`), with the reference's pitch register and long-term spectrum
(vclone.f0, vclone.timbre) when they were measured.

Shape legend: E speaker vector size.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from vclone.f0 import PitchRegister
from vclone.models.speaker_embedding import SpeakerEmbedding, check_compatible, load_speaker_embedding
from vclone.models.voice import Voice, speaker_encoder_spec
from vclone.speech_rules import ShortReferenceWarning, SynthesisError, UnknownSpeakerError, is_audio_reference
from vclone.timbre import SpectralProfile, match_profile, mel_convention

__all__ = ["SpeakerChoice", "SpeakerResolver"]

# Names shown in an "unknown speaker" message before it says "and N more".
_MAX_LISTED = 20


@dataclass(frozen=True)
class SpeakerChoice:
    """Who speaks: a row of the voice's speaker table, or an external vector in the voice's space."""

    label: str
    """Training speaker name, or the embedding or reference file (for messages and plots)."""
    speaker_id: int
    """Row of the speaker table; 0 (unused) when `embedding` is given."""
    embedding: torch.Tensor | None = None
    """(E,) external speaker vector, or None to use the table row."""
    register: PitchRegister | None = None
    """The pitch register to speak in (a reference recording's), or None for the one the voice
    predicts from the speaker condition."""

    profile: SpectralProfile | None = None
    """The reference's long-term spectrum in the voice's mel convention, which the predicted mel is
    matched to (vclone.timbre), or None."""

    def match_timbre(self, mel_TM: torch.Tensor) -> torch.Tensor:
        """(T, M) log-mel matched to the reference's long-term spectrum, or unchanged without one."""
        if self.profile is None:
            return mel_TM
        return torch.from_numpy(match_profile(mel_TM.numpy(), self.profile.values, self.profile.spread))

    def pitch_stats(self, device: torch.device | str = "cpu") -> torch.Tensor | None:
        """(1, 2) [mean, std] of log F0 as the acoustic batch carries a measured register, or None."""
        if self.register is None:
            return None
        return torch.tensor([[self.register.mean_log_f0, self.register.std_log_f0]], device=device)


class SpeakerResolver:
    """Turns what a caller names as the speaker into a SpeakerChoice for one voice. The voice's
    speaker encoder is built on the first reference recording and kept by this instance."""

    def __init__(self, voice: Voice) -> None:
        self.voice = voice
        self._encoder = None

    def resolve(self, speaker: str | Path | SpeakerEmbedding) -> SpeakerChoice:
        """A training speaker's name, a speaker embedding file, a loaded SpeakerEmbedding, or a
        reference recording (embedded with the voice's speaker encoder).

        A name wins over a file of the same name in the working directory."""
        speakers = self.voice.vocab.speakers
        if isinstance(speaker, SpeakerEmbedding):
            return self._external(speaker, label=str(speaker.path or speaker.speaker or speaker.source or "embedding"))
        if isinstance(speaker, str) and speaker in speakers:
            return SpeakerChoice(label=speaker, speaker_id=speakers.index(speaker))
        if is_audio_reference(speaker):
            prepared = self.prepare(speaker)
            assert isinstance(prepared, SpeakerEmbedding)
            return self._external(prepared, label=str(speaker))
        if isinstance(speaker, Path) or Path(speaker).is_file() or speaker.endswith(".safetensors"):
            return self._external(load_speaker_embedding(Path(speaker)), label=str(speaker))
        listed = ", ".join(speakers[:_MAX_LISTED]) + (f" and {len(speakers) - _MAX_LISTED} more" if len(speakers) > _MAX_LISTED else "")
        raise UnknownSpeakerError(
            f"unknown speaker {speaker!r}: not a training speaker of the voice, a speaker embedding file nor a recording; "
            f"training speakers: {listed}"
        )

    def prepare(self, speaker: str | Path | SpeakerEmbedding) -> str | Path | SpeakerEmbedding:
        """`speaker` with a reference recording replaced by its embedding (a ShortReferenceWarning
        when it holds little speech), so that many texts spoken by it embed it once."""
        if isinstance(speaker, SpeakerEmbedding) or (isinstance(speaker, str) and speaker in self.voice.vocab.speakers):
            return speaker
        if not is_audio_reference(speaker):
            return speaker
        embedding, warning = self.embed_reference(Path(speaker))
        if warning:
            warnings.warn(warning, ShortReferenceWarning, stacklevel=3)  # the caller of Synthesizer.prepare_speaker
        return embedding

    def embed_reference(self, path: Path) -> tuple[SpeakerEmbedding, str]:
        """A reference recording -> (its speaker embedding in the voice's space, a warning when it
        holds little speech, else ""). Silent, too short or unreadable audio is an AudioError."""
        from vclone.models.speaker_encoder import load_encoder
        from vclone.models.speaker_encoder.reference import embed_references

        spec = speaker_encoder_spec(self.voice.meta, self.voice.speaker_space)
        if not spec:
            raise SynthesisError(
                f"the voice {self.voice.path} was trained on its own speaker table, not a speaker encoder, so it cannot "
                f"clone from a recording like {path}; pick a training speaker ({', '.join(self.voice.vocab.speakers[:_MAX_LISTED])}) "
                "or use a voice that clones (the shipped base voice)"
            )
        if self._encoder is None:
            self._encoder = load_encoder(spec)
        embedding, report = embed_references([path], self._encoder, audio=self.voice.vocab.audio)
        return embedding, report.warning

    def _external(self, embedding: SpeakerEmbedding, *, label: str) -> SpeakerChoice:
        check_compatible(embedding, self.voice.speaker_space)
        profile = embedding.profile
        fits = profile is not None and profile.convention == mel_convention(self.voice.vocab.audio.to_dict())
        return SpeakerChoice(label=label, speaker_id=0, embedding=embedding.vector, register=embedding.register,
                             profile=profile if fits else None)
