"""An untrained (random-init) voice on disk: for behaviour tests and speed benchmarks, never for audio.

Its weights are random but everything around them is real: the vocabulary comes from phonemizing
sample texts, and the voice is written and read through save_voice / load_voice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from vclone.audio import AudioConfig
from vclone.errors import ConfigError
from vclone.models.acoustic.config import ModelDims, preset
from vclone.models.acoustic.model import build_acoustic_model
from vclone.models.vocab import CorpusVocab
from vclone.models.voice import SpeakerSpace, save_voice
from vclone.text import Phonemizer, PhoneVocabulary, get_language

__all__ = ["table_space_name", "save_untrained_voice"]


def table_space_name(run_id: str) -> str:
    """Name of the speaker space of a voice's own table: `table:<run id>`."""
    return f"table:{run_id}"


def save_untrained_voice(
    out_dir: Path,
    *,
    texts: Mapping[str, Sequence[str]],
    speakers: Sequence[str],
    preset_name: str = "tiny",
    overrides: Mapping[str, Any] | None = None,
    audio: AudioConfig | None = None,
    run_id: str = "untrained",
    seed: int = 0,
) -> Path:
    """Write a random-init voice whose phones are those of `texts` (language code -> sample texts).

    `overrides` shrink or change the preset (`{"d_model": 32}`); `seed` fixes the weights.
    Returns the voice folder.
    """
    if not texts or not speakers:
        raise ConfigError("an untrained voice needs at least one language with sample texts and one speaker")
    phones = []
    for language, samples in texts.items():
        phonemizer = Phonemizer(language)
        phones += [p for sample in samples for p in phonemizer(sample).phones]
    languages = sorted(get_language(code).code for code in texts)
    vocab = CorpusVocab(
        phones=PhoneVocabulary.from_phones(phones),
        speakers=tuple(sorted(speakers)),
        languages=tuple(languages),
        audio=audio or AudioConfig(),
    )
    config = preset(preset_name, **dict(overrides or {}))
    dims = ModelDims(num_phones=len(vocab.phones), num_languages=len(languages), num_speakers=len(vocab.speakers), n_mels=vocab.audio.n_mels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_acoustic_model(config, dims)
    space = SpeakerSpace(kind="table", name=table_space_name(run_id), dim=config.speaker_embedding_dim)
    return save_voice(out_dir, model, vocab=vocab, preset=preset_name, config=config, dims=dims, speaker_space=space, training={"untrained": True, "seed": seed})
