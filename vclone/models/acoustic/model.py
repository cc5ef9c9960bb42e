"""AcousticModel: phones + language + speaker -> mel, as an ordered sequence of named blocks.

Block order (each one a possible pipeline cut point):
    embed, aligner, encoder.0 .. encoder.{L-1}, speaker_adversary, condition, duration[, variance],
    decoder.0 .. decoder.{L-1}, mel_head[, postnet][, flow][, speaker_consistency]
(variance with config.pitch_energy, postnet with config.postnet_layers, flow with config.flow_decoder,
speaker_consistency only when the config weights that loss). The aligner reads only the batch (phone ids and target mel); the adversary reads the encoder's
output before `condition` adds speaker and language.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from vclone.models.acoustic.adversary import SpeakerAdversaryBlock
from vclone.models.acoustic.aligner import AlignerBlock
from vclone.models.acoustic.batch import Batch
from vclone.models.acoustic.condition import ConditionBlock
from vclone.models.acoustic.config import AcousticConfig, ModelDims
from vclone.models.acoustic.consistency import SpeakerConsistencyBlock
from vclone.models.acoustic.duration import DurationBlock
from vclone.models.acoustic.embedding import EmbedBlock
from vclone.models.acoustic.flow import FlowBlock
from vclone.models.acoustic.head import MelHeadBlock
from vclone.models.acoustic.postnet import PostnetBlock
from vclone.models.acoustic.stacks import DecoderBlock, EncoderBlock
from vclone.models.acoustic.variance import VarianceBlock
from vclone.models.blocks import Block, BlockSequence
from vclone.models.record import AcousticRecord

__all__ = ["AcousticModel", "build_acoustic_model", "acoustic_blocks", "acoustic_block_names"]


def acoustic_block_names(config: AcousticConfig) -> list[str]:
    """The block names of a model with `config`, in running order, without building it."""
    return (
        ["embed", "aligner"]
        + [f"encoder.{i}" for i in range(config.num_encoder_layers)]
        + ["speaker_adversary", "condition", "duration"]
        + (["variance"] if config.pitch_energy else [])
        + [f"decoder.{i}" for i in range(config.num_decoder_layers)]
        + ["mel_head"]
        + (["postnet"] if config.postnet_layers else [])
        + (["flow"] if config.flow_decoder else [])
        + (["speaker_consistency"] if config.speaker_consistency_weight > 0 else [])
    )


def acoustic_blocks(config: AcousticConfig, dims: ModelDims) -> list[tuple[str, Block]]:
    """The model's named blocks in running order (named as acoustic_block_names says)."""
    blocks: list[tuple[str, Block]] = [
        ("embed", EmbedBlock(config=config, dims=dims)),
        ("aligner", AlignerBlock(config=config, dims=dims)),
    ]
    blocks += [(f"encoder.{i}", EncoderBlock(config=config)) for i in range(config.num_encoder_layers)]
    blocks += [
        ("speaker_adversary", SpeakerAdversaryBlock(config=config, dims=dims)),
        ("condition", ConditionBlock(config=config, dims=dims)),
        ("duration", DurationBlock(config=config)),
    ]
    if config.pitch_energy:
        blocks.append(("variance", VarianceBlock(config=config)))
    blocks += [(f"decoder.{i}", DecoderBlock(config=config)) for i in range(config.num_decoder_layers)]
    blocks.append(("mel_head", MelHeadBlock(config=config, dims=dims)))
    if config.postnet_layers:
        blocks.append(("postnet", PostnetBlock(config=config, dims=dims)))
    if config.flow_decoder:
        blocks.append(("flow", FlowBlock(config=config, dims=dims)))
    if config.speaker_consistency_weight > 0:
        blocks.append(("speaker_consistency", SpeakerConsistencyBlock(config=config)))
    return blocks


class AcousticModel(nn.Module):
    """The multilingual acoustic model. `forward` trains (targets in the batch, losses filled);
    `infer` synthesizes (no targets: predicted durations, batch.pace applied)."""

    def __init__(self, config: AcousticConfig, dims: ModelDims) -> None:
        super().__init__()
        self.config = config
        self.dims = dims
        self.blocks = BlockSequence(acoustic_blocks(config, dims))

    def named_blocks(self) -> list[tuple[str, Block]]:
        """(name, block) in running order: what the pipeline partitions."""
        return list(self.blocks)

    def state_prefix(self, name: str) -> str:
        """The prefix of the state-dict keys of block `name` (e.g. `blocks.blocks.flow.`), read off the
        module tree, so no caller spells out how the block container names its blocks."""
        block = self.blocks.block(name)
        return next(path for path, module in self.named_modules() if module is block) + "."

    def forward(self, batch: Batch) -> AcousticRecord:  # type: ignore[override]
        """Training/validation pass: record with mel_pred (B, T, M), durations (B, N) from the
        alignment, log_duration_pred, frame_lengths and the weighted, normalized losses."""
        if not batch.has_targets:
            raise ValueError("AcousticModel.forward needs mel targets in the batch; use infer() to synthesize")
        return self.blocks(batch)

    def alignments(self, batch: Batch) -> AcousticRecord:
        """Record with attn_soft and attn_hard (B, T, N) and durations (B, N) for a batch with mel
        targets (for alignment plots); no gradients, the module's mode is kept (eval: no dropout)."""
        if not batch.has_targets:
            raise ValueError("alignments need mel targets in the batch")
        aligner = self.blocks.block("aligner")
        assert isinstance(aligner, AlignerBlock)
        with torch.no_grad():
            log_soft, hard, _ = aligner.align(batch)
            soft = log_soft.exp() * batch.mel_mask()[..., None]
        return AcousticRecord(attn_soft=soft, attn_hard=hard, durations=hard.sum(dim=1).long())

    def infer(self, batch: Batch, *, seed: int | None = None, flow_steps: int | None = None) -> AcousticRecord:
        """Synthesis: record with mel_pred (B, T, M), frame_lengths (B,) and durations (B, N).

        A model with a `flow` block samples its mel from noise drawn from a generator seeded with
        `seed` (None: flow.DEFAULT_FLOW_SEED; torch's global RNG is never touched) in `flow_steps` ODE
        steps (None: the config's); other models ignore both. Both travel in the batch (its
        sample_seed and flow_steps, which a None here leaves as they are). Runs in eval mode under
        torch.inference_mode; the module's previous mode is restored after.
        """
        # Synthesis never looks at targets, even when a batch carries them.
        batch = replace(
            batch, mel=None, mel_lengths=None,
            sample_seed=batch.sample_seed if seed is None else seed,
            flow_steps=batch.flow_steps if flow_steps is None else flow_steps,
        )
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                return self.blocks(batch)
        finally:
            self.train(was_training)


def build_acoustic_model(config: AcousticConfig, dims: ModelDims) -> AcousticModel:
    """A freshly initialized model for `config` (a preset, maybe shrunk) and the data's sizes."""
    return AcousticModel(config, dims)
