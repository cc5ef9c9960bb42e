"""Acoustic model hyper-parameters and the named presets registry (tiny, small, base, deep)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from vclone.errors import ConfigError

__all__ = ["AcousticConfig", "ModelDims", "PRESETS", "preset", "preset_names"]


@dataclass(frozen=True)
class ModelDims:
    """Sizes that come from the data (vocabulary), not from the preset."""

    num_phones: int
    """Phone vocabulary size including <pad>, <unk> and the word boundary."""
    num_languages: int
    """Languages the voice knows."""
    num_speakers: int
    """Rows of the speaker table (training speakers)."""
    n_mels: int
    """Mel bands of the audio convention."""

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 1:
                raise ConfigError(f"{f.name} must be at least 1, got {getattr(self, f.name)}")


@dataclass(frozen=True)
class AcousticConfig:
    """Architecture and loss settings of the acoustic model; a preset is one of these."""

    d_model: int = 128
    """Width of phone and frame hidden states."""
    num_heads: int = 2
    """Self-attention heads in encoder and decoder blocks."""
    num_encoder_layers: int = 2
    """Transformer blocks over phones (each is one named pipeline block)."""
    num_decoder_layers: int = 2
    """Transformer blocks over frames (each is one named pipeline block)."""
    ffn_dim: int = 256
    """Hidden width of the convolutional feed-forward inside each transformer block."""
    ffn_kernel: int = 5
    """Kernel size of that convolutional feed-forward."""
    dropout: float = 0.1
    """Dropout in every block (0 in deterministic runs)."""
    speaker_embedding_dim: int = 64
    """Size E of the speaker vectors: the table's rows and external (speaker encoder) embeddings."""
    language_embedding_dim: int = 16
    """Size of the learned language embedding."""
    aligner_dim: int = 80
    """Width of the aligner's phone and mel encoders."""
    aligner_temperature: float = 0.0005
    """Scale of the aligner's squared key-query distances before the softmax over phones (small:
    alignments start from the beta-binomial prior and sharpen as the encoders learn)."""
    duration_predictor_dim: int = 128
    """Width of the duration predictor's convolutions."""
    condition_language_dropout: float = 0.0
    """Training only: the share of items whose language is hidden from the condition block (its
    language vector zeroed), so the decoder cannot keep voice in the language id; with one language
    per training speaker, that id otherwise pulls a cross-language clone towards that language's voices."""
    decoder_speaker_norm: bool = False
    """Decoder layers take their LayerNorms' scale and shift from the speaker (conditional LayerNorm,
    as in AdaSpeech), so every decoder layer hears the voice, not only the condition block's sum.
    False in voices trained before it existed (their config has no such key)."""
    pitch_energy: bool = False
    """A `variance` block after `duration`: per-frame pitch (normalized per speaker, scaled by a register
    predicted from the speaker) and energy are predicted and told to the decoder. False in voices
    trained before it existed."""
    pitch_embedding: str = "conv"
    """How the decoder is told pitch and energy: "conv" (a convolution over the values; voices trained
    before the setting existed) or "bucket" (FastSpeech 2's quantized embeddings, the presets')."""
    variance_predictor_dim: int = 128
    """Width of the pitch and energy predictors' convolutions."""
    pitch_loss_weight: float = 1.0
    """Weight of the pitch, voicing and register losses."""
    energy_loss_weight: float = 1.0
    """Weight of the energy loss."""
    postnet_layers: int = 0
    """Convolutions of the residual `postnet` block after `mel_head` (0: no postnet). Off in the
    presets: in bench/prosody_ablation.py (tiny, 1500 steps) it bought nothing (MCD 6.87 vs 6.85 dB)."""
    postnet_dim: int = 256
    """Channels of the postnet's inner convolutions."""
    flow_decoder: bool = False
    """A conditional flow-matching `flow` block after `mel_head` (and the postnet): synthesis samples
    the mel around the regression mel through an ODE instead of taking the regression mel, which is
    smeared towards the mean. False in the presets and in voices trained before it existed."""
    flow_dim: int = 96
    """Channels of the flow's vector-field estimator."""
    flow_layers: int = 4
    """Residual convolution layers of that estimator."""
    flow_steps: int = 10
    """Euler steps of the ODE at synthesis (one estimator call each)."""
    flow_temperature: float = 0.667
    """Scale of the noise the ODE starts from at synthesis (1: the prior it was trained from)."""
    flow_loss_weight: float = 1.0
    """Weight of the flow-matching loss."""
    flow_random_draws: bool = True
    """Training only: each item's time and noise are seeded with a number drawn from torch's RNG
    (False: from the item's id and its mini-batch's totals alone, as deterministic runs should, so
    a pipelined run draws what one process draws)."""
    adversary_weight: float = 0.02
    """Weight of the domain-adversarial speaker classifier loss on phone encodings."""
    adversary_grad_clip: float = 0.5
    """Norm to which the reversed gradient is clipped before it enters the encoder."""
    speaker_consistency_weight: float = 0.0
    """Weight of the speaker consistency loss: 1 - cosine between the speaker encoder's embeddings of
    a window of predicted and of target mel (0: no such loss and no `speaker_consistency` block)."""
    speaker_consistency_encoder: str = ""
    """The speaker encoder that judges it (resemblyzer, or a run of --task speaker-encoder); only
    read in training, and never part of the voice's weights."""
    speaker_consistency_swaps: float = 0.0
    """Training only: the share of items rendered in another training speaker's voice (that speaker's
    vector in place of their own): they have no mel or duration target, only the speaker consistency
    loss against that speaker's mean embedding, so the decoder learns to keep a voice on text its
    speaker never read (across languages, with one language per speaker)."""
    speaker_consistency_random_windows: bool = True
    """Judge a random window of each item (False: the middle one, as deterministic runs do, so a
    pipelined run draws the same windows as one process)."""
    mel_loss_weight: float = 1.0
    duration_loss_weight: float = 1.0
    align_loss_weight: float = 1.0
    """Weight of the forward-sum (CTC) alignment loss."""
    bin_loss_weight: float = 0.1
    """Weight of the loss pulling the soft alignment towards the hard one."""

    def __post_init__(self) -> None:
        positive = ["d_model", "num_heads", "ffn_dim", "ffn_kernel", "speaker_embedding_dim", "language_embedding_dim", "aligner_dim", "duration_predictor_dim", "variance_predictor_dim", "postnet_dim", "flow_dim", "flow_layers", "flow_steps"]
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.num_encoder_layers < 1 or self.num_decoder_layers < 1:
            raise ConfigError("the model needs at least one encoder and one decoder layer")
        if self.d_model % self.num_heads:
            raise ConfigError(f"d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads})")
        if self.ffn_kernel % 2 == 0:
            raise ConfigError(f"ffn_kernel must be odd (same-length convolutions), got {self.ffn_kernel}")
        if self.aligner_temperature <= 0:
            raise ConfigError(f"aligner_temperature must be positive, got {self.aligner_temperature}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.speaker_consistency_weight < 0:
            raise ConfigError(f"speaker_consistency_weight must be >= 0, got {self.speaker_consistency_weight}")
        if self.speaker_consistency_weight > 0 and not self.speaker_consistency_encoder:
            raise ConfigError("a speaker consistency loss needs the speaker encoder that judges it (speaker_consistency_encoder)")
        if not 0.0 <= self.speaker_consistency_swaps < 1.0:
            raise ConfigError(f"speaker_consistency_swaps must be in [0, 1), got {self.speaker_consistency_swaps}")
        if self.speaker_consistency_swaps > 0 and self.speaker_consistency_weight <= 0:
            raise ConfigError("speaker swaps are trained by the speaker consistency loss alone: give it a weight (speaker_consistency_weight)")
        if self.pitch_embedding not in ("conv", "bucket"):
            raise ConfigError(f"pitch_embedding must be conv or bucket, got {self.pitch_embedding!r}")
        if self.postnet_layers < 0 or self.postnet_layers == 1:
            raise ConfigError(f"postnet_layers must be 0 (none) or at least 2, got {self.postnet_layers}")
        if self.flow_temperature < 0:
            raise ConfigError(f"flow_temperature must be >= 0, got {self.flow_temperature}")
        if not 0.0 <= self.condition_language_dropout <= 1.0:
            raise ConfigError(f"condition_language_dropout must be in [0, 1], got {self.condition_language_dropout}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AcousticConfig":
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown acoustic model settings {sorted(unknown)}")
        return cls(**data)


PRESETS: dict[str, AcousticConfig] = {
    # Trains on CPU in minutes on the tiny demo corpus; what tests shrink further.
    "tiny": AcousticConfig(d_model=96, num_heads=2, num_encoder_layers=2, num_decoder_layers=2, ffn_dim=192, aligner_dim=64, duration_predictor_dim=96, decoder_speaker_norm=True,
                          pitch_energy=True, pitch_embedding="bucket", variance_predictor_dim=96),
    # CPU-friendly quality preset for the small demo corpus.
    "small": AcousticConfig(d_model=192, num_heads=2, num_encoder_layers=4, num_decoder_layers=4, ffn_dim=512, speaker_embedding_dim=128, duration_predictor_dim=192, decoder_speaker_norm=True,
                           pitch_energy=True, pitch_embedding="bucket", variance_predictor_dim=192),
    # GPU preset.
    "base": AcousticConfig(d_model=384, num_heads=4, num_encoder_layers=6, num_decoder_layers=6, ffn_dim=1536, speaker_embedding_dim=256, language_embedding_dim=32, aligner_dim=128, duration_predictor_dim=256, decoder_speaker_norm=True,
                          pitch_energy=True, pitch_embedding="bucket", variance_predictor_dim=256),
    # Exists to exercise the pipeline: 12 + 12 transformer blocks plus the fixed blocks.
    "deep": AcousticConfig(d_model=256, num_heads=4, num_encoder_layers=12, num_decoder_layers=12, ffn_dim=1024, speaker_embedding_dim=256, language_embedding_dim=32, aligner_dim=128, duration_predictor_dim=256, decoder_speaker_norm=True,
                          pitch_energy=True, pitch_embedding="bucket", variance_predictor_dim=256),
}


def preset_names() -> list[str]:
    return list(PRESETS)


def preset(name: str, **overrides: Any) -> AcousticConfig:
    """A named preset, optionally shrunk or changed (`preset("tiny", d_model=32)`)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides) if overrides else PRESETS[name]
