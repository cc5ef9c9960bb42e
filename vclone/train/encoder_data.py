"""Which utterances a speaker encoder trains and is checked on, and what each GE2E batch draws (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from vclone.errors import CorpusError

__all__ = ["SpeakerSplit", "split_speakers", "plan_ge2e_batch", "crop_start"]


@dataclass(frozen=True)
class SpeakerSplit:
    """Item indices per speaker: those trained on and those held out for the equal error rate."""

    speakers: tuple[str, ...]
    """Speakers the encoder trains on (at least 2 training utterances each)."""
    train: tuple[tuple[int, ...], ...]
    held_out: tuple[tuple[int, ...], ...]
    skipped: tuple[str, ...] = ()
    """Speakers with too few utterances to train on."""


def split_speakers(speaker_of_item: Sequence[str], *, held_out: int) -> SpeakerSplit:
    """Group items by speaker; the last `held_out` items of each speaker with at least held_out + 2
    are held out. Speakers left with fewer than 2 training items are skipped."""
    by_speaker: dict[str, list[int]] = {}
    for index, speaker in enumerate(speaker_of_item):
        by_speaker.setdefault(speaker, []).append(index)
    names, train, test, skipped = [], [], [], []
    for name in sorted(by_speaker):
        items = by_speaker[name]
        if len(items) < 2:
            skipped.append(name)
            continue
        cut = len(items) - held_out if held_out and len(items) >= held_out + 2 else len(items)
        names.append(name)
        train.append(tuple(items[:cut]))
        test.append(tuple(items[cut:]))
    if len(names) < 2:
        raise CorpusError(
            f"a speaker encoder needs at least 2 speakers with 2 or more utterances each, the data has {len(names)}; "
            "add corpora with more speakers (--data can be repeated)"
        )
    return SpeakerSplit(speakers=tuple(names), train=tuple(train), held_out=tuple(test), skipped=tuple(skipped))


def _generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def plan_ge2e_batch(split: SpeakerSplit, *, step: int, seed: int, num_speakers: int, num_utterances: int) -> list[list[int]]:
    """S lists of U item indices for optimizer step `step` (1-based): a function of (seed, step) only,
    so a resumed run draws the same batches as an uninterrupted one."""
    gen = _generator(seed, step)
    count = min(num_speakers, len(split.speakers))
    chosen = torch.randperm(len(split.speakers), generator=gen)[:count].tolist()
    groups = []
    for speaker in sorted(chosen):
        items = split.train[speaker]
        if len(items) >= num_utterances:
            picks = torch.randperm(len(items), generator=gen)[:num_utterances].tolist()
        else:
            picks = torch.randint(len(items), (num_utterances,), generator=gen).tolist()
        groups.append([items[p] for p in picks])
    return groups


def crop_start(num_frames: int, segment: int, *, seed: int, step: int, slot: int) -> int:
    """Start frame of the segment in batch slot `slot` (0 when the utterance is not longer than it)."""
    if num_frames <= segment:
        return 0
    gen = _generator(seed, step * 4096 + slot + 1)
    return int(torch.randint(num_frames - segment + 1, (1,), generator=gen))
