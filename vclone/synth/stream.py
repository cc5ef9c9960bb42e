"""Streamed synthesis: sentence by sentence, each sentence's mel vocoded in chunks with enough context that the joins are exact.

Shape legend: T mel frames, M mel bands, S samples (S = T * hop).

Why the joins are exact: a convolutional vocoder's output sample depends only on the mel frames
within its receptive field. Chunk k keeps the samples of frames [start, end) but is vocoded from
frames [start - C, end + C) (clipped at the sentence's edges, where whole-sentence vocoding pads in
the same way), so with C at least the receptive field every kept sample sees exactly the frames it
sees in whole-sentence vocoding; only float round-off differs. C comes from the generator's
configuration (`vocoder_context_frames`) and tests measure it against the real receptive field.
Griffin-Lim has no bounded receptive field (each iteration spreads phase over n_fft / hop frames,
and it starts from random phases drawn for the whole mel), so it vocodes whole sentences.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from vclone.errors import ConfigError, TextError

__all__ = [
    "DEFAULT_CHUNK_FRAMES",
    "FIRST_CHUNK_FRAMES",
    "SENTENCE_PAUSE_SECONDS",
    "ChunkSpan",
    "plan_chunks",
    "vocoder_context_frames",
    "hifigan_context_frames",
    "istft_context_frames",
    "pause_samples",
    "SentencePlan",
    "stream_sentences",
]

DEFAULT_CHUNK_FRAMES = 128
"""Mel frames per vocoded chunk (about 1.5 s at hop 256 / 22050 Hz): large enough that the context
each side costs little, small enough that the next chunk is ready long before this one has played."""
FIRST_CHUNK_FRAMES = 32
"""The stream's very first chunk is shorter (about 0.37 s), so the first audio comes out sooner."""
SENTENCE_PAUSE_SECONDS = 0.2
"""Silence between sentences at pace 1 (scaled by the pace), on top of the pause the voice itself
puts after a sentence's final punctuation; Piper's default sentence silence is the same."""


@dataclass(frozen=True)
class ChunkSpan:
    """One chunk of a sentence's mel: the frames whose samples it yields, and the frames it is vocoded from."""

    start: int
    """First frame whose samples this chunk yields."""
    end: int
    """One past the last such frame."""
    left: int
    """First frame given to the vocoder (start minus the context, at least 0)."""
    right: int
    """One past the last frame given to the vocoder (end plus the context, at most T)."""


def plan_chunks(num_frames: int, *, chunk_frames: int, context_frames: int | None, first_chunk_frames: int | None = None) -> list[ChunkSpan]:
    """Cut T frames into chunks of `chunk_frames` (the first of `first_chunk_frames`, when given), each
    with `context_frames` of context either side; None context means the vocoder needs the whole mel
    (one chunk)."""
    if num_frames < 1:
        raise ValueError(f"plan_chunks needs at least one frame, got {num_frames}")
    if chunk_frames < 1 or (first_chunk_frames is not None and first_chunk_frames < 1):
        raise ConfigError(f"chunk frames must be at least 1, got {chunk_frames} (first chunk {first_chunk_frames})")
    if context_frames is None:
        return [ChunkSpan(0, num_frames, 0, num_frames)]
    spans, start = [], 0
    size = first_chunk_frames or chunk_frames
    while start < num_frames:
        end = min(start + size, num_frames)
        spans.append(ChunkSpan(start, end, max(0, start - context_frames), min(num_frames, end + context_frames)))
        start, size = end, chunk_frames
    return spans


def hifigan_context_frames(config) -> int:
    """Frames of context each side that cover a HiFi-GAN generator's receptive field (an upper bound).

    Summed one side, in frames: the input conv (kernel 7: 3 frames); per upsampling, the transposed
    conv (each output reads at most ceil(kernel / rate) inputs at the previous rate) and the widest
    residual block (per dilation d: (k - 1) * d / 2 + (k - 1) / 2 samples at the new rate); the output
    conv (kernel 7: 3 samples)."""
    frames, rate = 3.0, 1
    for up_rate, kernel in zip(config.upsample_rates, config.upsample_kernel_sizes):
        frames += math.ceil(kernel / up_rate) / rate
        rate *= up_rate
        widest = max(
            sum((k - 1) * d // 2 + (k - 1) // 2 for d in dilations)
            for k, dilations in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes)
        )
        frames += widest / rate
    frames += 3 / rate
    return math.ceil(frames)


def istft_context_frames(config) -> int:
    """Frames of context each side that cover an iSTFT generator's receptive field: the embedding
    conv and every ConvNeXt block's depthwise conv ((kernel - 1) / 2 frames each), then the
    overlap-add, where a sample lies under the windows of frames up to n_fft / (2 hop) away."""
    convs = (config.num_layers + 1) * (config.kernel_size // 2)
    return convs + math.ceil(config.n_fft / (2 * config.hop_length))


def vocoder_context_frames(vocoder: torch.nn.Module) -> int | None:
    """Context frames each side for chunked vocoding with `vocoder` (as `build_vocoder` returns it),
    or None when it must vocode whole sentences (Griffin-Lim, or a generator of unknown kind)."""
    from vclone.models.vocoder.hifigan import HifiganGenerator
    from vclone.models.vocoder.istft import IstftGenerator

    generator = getattr(vocoder, "generator", vocoder)
    if isinstance(generator, HifiganGenerator):
        return hifigan_context_frames(generator.config)
    if isinstance(generator, IstftGenerator):
        return istft_context_frames(generator.config)
    return None


def pause_samples(*, pace: float, sample_rate: int, hop_length: int) -> int:
    """Samples of silence between two sentences: SENTENCE_PAUSE_SECONDS times the pace, in whole frames."""
    return round(SENTENCE_PAUSE_SECONDS * pace * sample_rate / hop_length) * hop_length


@dataclass(frozen=True)
class SentencePlan:
    """How to stream: fixed for every sentence of one text."""

    hop_length: int
    """Samples per mel frame."""
    chunk_frames: int
    """Frames per chunk after the first."""
    first_chunk_frames: int | None
    """Frames of the stream's first chunk (None: `chunk_frames`)."""
    context_frames: int | None
    """Context each side of a chunk; None vocodes whole sentences."""
    pause: int
    """Samples of silence before every sentence but the first."""
    max_peak: float
    """Samples beyond it are clipped (the stream cannot turn down audio it has already sent)."""


def stream_sentences(
    sentences: Sequence[str],
    *,
    mel_of: Callable[[str], torch.Tensor],
    vocode: Callable[[torch.Tensor], torch.Tensor],
    plan: SentencePlan,
) -> Iterator[torch.Tensor]:
    """Yield (S,) float32 chunks: each sentence's (T, M) mel from `mel_of` (which reads and speaks it
    only when its turn comes), vocoded by `vocode` chunk by chunk, a pause between sentences.

    A sentence with nothing speakable (TextError) is skipped; when every sentence is, the first one's
    error is raised before anything is yielded."""
    first_error: TextError | None = None
    spoken = 0
    for sentence in sentences:
        try:
            mel = mel_of(sentence)
        except TextError as err:
            first_error = first_error or err
            continue
        spans = plan_chunks(
            mel.shape[0], chunk_frames=plan.chunk_frames, context_frames=plan.context_frames,
            first_chunk_frames=plan.first_chunk_frames if spoken == 0 else None,
        )
        for index, span in enumerate(spans):
            wav = vocode(mel[span.left : span.right])
            hop = plan.hop_length
            chunk = wav[(span.start - span.left) * hop : (span.end - span.left) * hop].clamp(-plan.max_peak, plan.max_peak)
            if index == 0 and spoken > 0:
                chunk = torch.cat([torch.zeros(plan.pause, dtype=chunk.dtype), chunk])
            yield chunk
        spoken += 1
    if spoken == 0:
        raise first_error or TextError("the text is empty; give the words to speak")
