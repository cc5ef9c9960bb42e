"""Vocoder training data: a pure plan of (item, start frame) segments per step, and the audio + mel of each segment.

Shape legend: B segments, F frames per segment, M mel bands, S = F * hop samples.
Frame k of a prepared mel is centred on sample k * hop + hop / 2 of the prepared (trimmed, loudness
normalized) audio, so frames [k, k + F) go with samples [k * hop, (k + F) * hop).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from vclone.data.dataset import TrainingData
from vclone.errors import ConfigError, CorpusError

__all__ = ["Segment", "eligible_items", "plan_segments", "SegmentSource", "teacher_forced_mels"]

_WAV_CACHE_BYTES = 1 << 30
"""Bound of the int16 audio kept in memory: about 6 hours at 22.05 kHz."""


@dataclass(frozen=True)
class Segment:
    """Frames [start, start + F) of item `index` (and its audio)."""

    index: int
    start: int


def eligible_items(frame_lengths: Sequence[int], segment_frames: int) -> list[int]:
    """Items with at least one whole segment; CorpusError when there are none."""
    items = [i for i, frames in enumerate(frame_lengths) if frames >= segment_frames]
    if not items:
        raise CorpusError(
            f"no utterance has {segment_frames} mel frames (the longest has {max(frame_lengths, default=0)}); "
            "lower --segment-frames or add longer recordings"
        )
    return items


def plan_segments(frame_lengths: Sequence[int], *, step: int, seed: int, num_items: int, segment_frames: int) -> list[Segment]:
    """The B segments of optimizer step `step` (1-based): a function of (seed, step) only, so a
    resumed run draws exactly the segments an uninterrupted one would."""
    items = eligible_items(frame_lengths, segment_frames)
    gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
    if len(items) >= num_items:
        picks = [items[i] for i in torch.randperm(len(items), generator=gen)[:num_items].tolist()]
    else:
        picks = [items[i] for i in torch.randint(len(items), (num_items,), generator=gen).tolist()]
    starts = torch.rand(num_items, generator=gen, dtype=torch.float64).tolist()
    return [Segment(index, int(u * (frame_lengths[index] - segment_frames + 1))) for index, u in zip(picks, starts)]


class SegmentSource:
    """Audio and mels of the prepared items (audio read lazily, kept as int16 in a bounded cache)."""

    def __init__(self, data: TrainingData, *, mels: dict[int, torch.Tensor] | None = None, cache_bytes: int = _WAV_CACHE_BYTES) -> None:
        self.data = data
        self.hop = data.vocab.audio.hop_length
        self.mels = mels
        """Item index -> (T, M) mel to condition on instead of the prepared one (predicted mels)."""
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._cached = 0

    def wav(self, index: int) -> torch.Tensor:
        """(samples,) int16 prepared audio of item `index`."""
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        item = self.data.items[index]
        path = item.corpus / item.entry.features
        try:
            with safe_open(str(path), framework="pt") as handle:
                wav = handle.get_tensor("wav")
        except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as err:
            raise CorpusError(f"cached features {path} cannot be read ({err}); re-run `vclone prepare`") from None
        if wav.numel() < item.entry.num_frames * self.hop:
            raise CorpusError(f"{path} holds {wav.numel()} samples, fewer than its {item.entry.num_frames} frames need; re-run `vclone prepare`")
        self._cache[index] = wav
        self._cached += wav.numel() * wav.element_size()
        while self._cached > self.cache_bytes and len(self._cache) > 1:
            _, evicted = self._cache.popitem(last=False)
            self._cached -= evicted.numel() * evicted.element_size()
        return wav

    def mel(self, index: int) -> torch.Tensor:
        """(T, M) mel the generator is conditioned on for item `index`."""
        return self.mels[index] if self.mels is not None else self.data.mel(index)

    def batch(self, segments: Sequence[Segment], *, segment_frames: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, S) float32 audio, (B, F, M) conditioning mel, (B, F, M) real mel of the segments."""
        hop = self.hop
        wavs = [self.wav(s.index)[s.start * hop : (s.start + segment_frames) * hop].float() / 32767.0 for s in segments]
        cond = [self.mel(s.index)[s.start : s.start + segment_frames] for s in segments]
        real = [self.data.mel(s.index)[s.start : s.start + segment_frames] for s in segments]
        return torch.stack(wavs), torch.stack(cond), torch.stack(real)


def teacher_forced_mels(voice_path: Path, data: TrainingData, *, device: torch.device,
                        tick: Callable[[], None] | None = None, batch_items: int = 8) -> dict[int, torch.Tensor]:
    """Item index -> (T, M) mel the acoustic voice predicts for it when its durations come from the
    alignment with the real mel (teacher forcing): frame k of the prediction lines up with frame k of
    the real audio, so a vocoder can be fine-tuned on it. The voice must know the data's vocabulary."""
    from vclone.models.acoustic import mel_pad_value
    from vclone.models.voice import load_voice
    from vclone.models.vocoder.store import check_mel_convention

    voice = load_voice(voice_path, device=device)
    check_mel_convention(voice.vocab.audio, data.vocab.audio, vocoder_label=f"the voice {voice.path}", mel_label="the training data")
    ours, theirs = data.vocab, voice.vocab
    if list(ours.phones) != list(theirs.phones) or list(ours.speakers) != list(theirs.speakers) or list(ours.languages) != list(theirs.languages):
        raise ConfigError(
            f"the voice {voice.path} was trained on other data (its phones, speakers or languages differ from --data's); "
            "fine-tune the vocoder on the prepared data the voice was trained on"
        )
    order = sorted(range(len(data)), key=lambda i: data.frame_lengths[i])
    pad, model, mels = mel_pad_value(data.vocab.audio), voice.model.eval(), {}
    for first in range(0, len(order), batch_items):
        indices = order[first : first + batch_items]
        batch = data.batch(indices, mel_pad_value=pad).to(device)
        with torch.no_grad():
            predicted = model(batch).mel_pred.float().cpu()
        for row, index in enumerate(indices):
            mels[index] = predicted[row, : data.frame_lengths[index]].contiguous()
            if tick is not None:
                tick()
    return mels
