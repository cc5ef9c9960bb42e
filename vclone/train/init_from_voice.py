"""Fine-tuning from a voice (`vclone train --init base|VOICE`): the run takes the voice's model settings
and speaker conditioning, trains under the merge of the voice's and the data's vocabularies, and
starts from the voice's weights.

Every weight is copied, except that the tables indexed by phone, language or speaker id (found by
probing the model, not by name) are copied row by row by name into the merged vocabulary's order;
rows of phones, speakers and languages the voice never had keep their fresh initialization. The
voice's vocabulary and identity are kept in RUN/init.json, so a resume needs neither the voice nor
its weights (the checkpoint holds them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from vclone.atomic import write_json_atomic
from vclone.data.dataset import TrainingData
from vclone.data.manifest import merge_vocabs
from vclone.errors import ConfigError
from vclone.models.acoustic.config import AcousticConfig, ModelDims, preset
from vclone.models.acoustic.model import AcousticModel, build_acoustic_model
from vclone.models.shipped import is_voice_name, resolve_voice
from vclone.models.vocab import CorpusVocab
from vclone.models.voice import SpeakerSpace, VoiceError, load_voice, read_voice_config, speaker_encoder_spec
from vclone.train.config import ModelChoice

__all__ = [
    "INIT_NAME",
    "InitVoice",
    "read_init_voice",
    "init_source",
    "init_settings",
    "voice_overrides",
    "check_same_audio",
    "with_voice_vocab",
    "vocabulary_tables",
    "copy_voice_weights",
    "start_from_voice",
    "init_identity",
]

INIT_NAME = "init.json"
"""RUN/init.json: the vocabulary and identity of the voice a run was fine-tuned from."""
_NOT_INHERITED = ("speaker_consistency_weight", "speaker_consistency_encoder", "speaker_consistency_swaps",
                  "speaker_consistency_random_windows")
"""Settings of losses that hold no weights: the fine-tuning run chooses its own (--speaker-consistency)."""
_DETERMINISTIC_ZEROED = ("dropout", "condition_language_dropout")
"""Settings a deterministic run stores as 0 whatever its preset said: not taken from such a voice."""
_KINDS = {"num_phones": "phones", "num_languages": "languages", "num_speakers": "speakers"}


@dataclass(frozen=True)
class InitVoice:
    """What a run takes from the voice it is fine-tuned from (never its weights: see start_from_voice)."""

    spec: str
    """As the run records it: a shipped voice's name, or the voice folder resolved."""
    folder: Path
    vocab: CorpusVocab
    preset: str
    overrides: dict[str, Any]
    """AcousticConfig settings that turn the preset into the voice's config (losses aside)."""
    speaker_space: SpeakerSpace
    speaker_encoder: str
    """What the voice conditions on: an encoder name or folder, "" for its own speaker table."""
    identity: dict[str, Any]
    """Recorded as the `init` of the fine-tuned voice's provenance."""


def voice_overrides(preset_name: str, config: dict[str, Any], *, deterministic: bool) -> dict[str, Any]:
    """The overrides of `preset_name` that give a voice's stored config (its losses and, for a
    deterministic voice, its zeroed dropout left out)."""
    base = preset(preset_name).to_dict()
    skipped = _NOT_INHERITED + (_DETERMINISTIC_ZEROED if deterministic else ())
    return {k: v for k, v in config.items() if k in base and k not in skipped and v != base[k]}


def read_init_voice(spec: str | Path) -> InitVoice:
    """The voice `spec` (a shipped voice's name, a voice folder or a run) as a run's starting point."""
    folder = resolve_voice(spec)
    meta = read_voice_config(folder)
    try:
        vocab = CorpusVocab.from_dict(meta["vocab"])
        preset_name = str(meta["model"]["preset"])
        config = AcousticConfig.from_dict(meta["model"]["config"]).to_dict()
        space = SpeakerSpace(**meta["speaker_space"])
        training = meta.get("training") or {}
        overrides = voice_overrides(preset_name, config, deterministic=bool(training.get("deterministic")))
    except (KeyError, TypeError, ValueError, AttributeError, VoiceError, ConfigError) as err:
        raise VoiceError(f"{folder / 'voice.json'} cannot start a run ({err}); export the voice again") from None
    shipped = is_voice_name(spec) and not Path(spec).exists()
    name = str(spec) if shipped else str(folder.resolve())
    identity = {
        "voice": name,
        "path": str(folder.resolve()),
        "run_id": training.get("run_id", ""),
        "steps": training.get("step"),
        "vclone_version": meta.get("vclone_version", ""),
        "provenance": meta.get("provenance") or None,
    }
    return InitVoice(spec=name, folder=folder, vocab=vocab, preset=preset_name, overrides=overrides, speaker_space=space,
                     speaker_encoder=speaker_encoder_spec(meta, space), identity=identity)


def init_settings(voice: InitVoice, *, preset_name: str | None, speaker_encoder: str | None, speaker_table: bool,
                  flow_decoder: bool = False) -> tuple[ModelChoice, str]:
    """(model, speaker encoder) of a run fine-tuned from `voice`, with a fresh flow-matching decoder
    when asked; options that would change what the voice's weights mean are a ConfigError."""
    if preset_name is not None and preset_name != voice.preset:
        raise ConfigError(f"--preset {preset_name} does not go with --init {voice.spec}: the voice is a {voice.preset} model; "
                          f"drop --preset (fine-tuning keeps the voice's model)")
    if voice.speaker_encoder and speaker_table:
        raise ConfigError(f"--speaker-table does not go with --init {voice.spec}: the voice clones from audio through the "
                          f"{voice.speaker_encoder} encoder; drop --speaker-table")
    if speaker_encoder is not None and not _same_encoder(speaker_encoder, voice.speaker_encoder):
        have = f"the {voice.speaker_encoder} encoder" if voice.speaker_encoder else "its own speaker table"
        raise ConfigError(f"--speaker-encoder {speaker_encoder} does not go with --init {voice.spec}: the voice conditions on {have}; "
                          "drop --speaker-encoder")
    overrides = {**voice.overrides, "flow_decoder": True} if flow_decoder else dict(voice.overrides)
    return ModelChoice(voice.preset, overrides), voice.speaker_encoder


def _same_encoder(given: str, theirs: str) -> bool:
    if given == theirs:
        return True
    return bool(theirs) and Path(given).exists() and Path(theirs).exists() and Path(given).resolve() == Path(theirs).resolve()


def check_same_audio(voice: InitVoice, data: CorpusVocab) -> None:
    """ConfigError naming every audio setting in which the voice and the data differ."""
    ours, theirs = voice.vocab.audio.to_dict(), data.audio.to_dict()
    differ = [f"{key} {ours[key]} vs {theirs.get(key)}" for key in ours if theirs.get(key) != ours[key]]
    if differ:
        raise ConfigError(f"--init {voice.spec} uses another mel convention than the data (voice vs data: {', '.join(differ)}); "
                          "prepare the data again with the voice's audio settings")


def with_voice_vocab(data: TrainingData, voice: InitVoice) -> TrainingData:
    """The same items under the merge of the voice's and the data's vocabularies."""
    check_same_audio(voice, data.vocab)
    vocab = merge_vocabs([voice.vocab, data.vocab])
    speakers = {name: i for i, name in enumerate(vocab.speakers)}
    languages = {code: i for i, code in enumerate(vocab.languages)}
    items = [
        replace(item, phone_ids=torch.tensor(vocab.phones.encode(item.entry.phonemes), dtype=torch.long),
                speaker_id=speakers[item.entry.speaker], language_id=languages[item.entry.language])
        for item in data.items
    ]
    return TrainingData(vocab, items, cache_bytes=data.cache_bytes, pitch=data.pitch)


def vocabulary_tables(config: AcousticConfig, *, n_mels: int) -> dict[str, str]:
    """State-dict keys whose first axis is indexed by phone, language or speaker id, with which one
    ("phones", "languages", "speakers"): the entries whose first size follows that vocabulary size."""
    sizes = {"num_phones": 5, "num_languages": 2, "num_speakers": 3}
    with torch.device("meta"):
        base = {k: v.shape for k, v in build_acoustic_model(config, ModelDims(n_mels=n_mels, **sizes)).state_dict().items()}
        tables = {}
        for field, kind in _KINDS.items():
            grown = ModelDims(n_mels=n_mels, **{**sizes, field: sizes[field] + 1})
            for key, value in build_acoustic_model(config, grown).state_dict().items():
                if value.shape != base[key]:
                    tables[key] = kind
    return tables


def _names(vocab: CorpusVocab, kind: str) -> tuple[str, ...]:
    return {"phones": vocab.phones.tokens, "languages": vocab.languages, "speakers": vocab.speakers}[kind]


def _gained_flow_keys(model: AcousticModel, state: dict[str, torch.Tensor]) -> set[str]:
    """The model's flow-decoder weights when the voice `state` has none (a fine-tuned voice may gain
    the flow block, --flow-decoder); else none."""
    if "flow" not in model.blocks.names():
        return set()
    prefix = model.state_prefix("flow")
    if any(key.startswith(prefix) for key in state):
        return set()
    return {key for key in model.state_dict() if key.startswith(prefix)}


@torch.no_grad()
def copy_voice_weights(model: AcousticModel, state: dict[str, torch.Tensor], *, voice_vocab: CorpusVocab, vocab: CorpusVocab,
                       keep_speakers: frozenset[str] = frozenset()) -> None:
    """Copy a voice's weights `state` into `model` (built for `vocab`, a merge of `voice_vocab`): table
    rows by name, every other weight whole. Speakers in `keep_speakers` keep the model's rows (an
    encoder-conditioned run's speaker table holds the data's own centroids). A flow decoder the
    voice lacks keeps the model's fresh weights."""
    tables = vocabulary_tables(model.config, n_mels=vocab.audio.n_mels)
    target = model.state_dict()
    gained = _gained_flow_keys(model, state)
    if set(state) != set(target) - gained:
        extra = sorted(set(state) ^ (set(target) - gained))
        raise VoiceError(f"the voice's weights do not fit the fine-tuning model ({extra[0]} and {len(extra) - 1} more differ); export the voice again")
    for key, value in state.items():
        kind = tables.get(key)
        if kind is None:
            if value.shape != target[key].shape:
                raise VoiceError(f"the voice's weight {key} has shape {tuple(value.shape)}, the model's {tuple(target[key].shape)}")
            target[key].copy_(value)
            continue
        rows = {name: i for i, name in enumerate(_names(voice_vocab, kind))}
        for j, name in enumerate(_names(vocab, kind)):
            if name in rows and not (kind == "speakers" and name in keep_speakers and key.endswith("speaker_table.weight")):
                target[key][j].copy_(value[rows[name]])


def start_from_voice(model: AcousticModel, voice: InitVoice, *, data: TrainingData, run_root: Path,
                     vectors_space: SpeakerSpace | None) -> None:
    """Seed a new run's model with the voice's weights and record the voice in RUN/init.json.

    `vectors_space`: the space of the run's speaker vectors (None on a speaker table); it must be the
    voice's, or the copied weights would read vectors they were never trained on."""
    theirs = voice.speaker_space
    if vectors_space is not None and (vectors_space.name, vectors_space.dim, vectors_space.version) != (theirs.name, theirs.dim, theirs.version):
        raise ConfigError(f"the run's speaker vectors are in space {vectors_space.name} {vectors_space.version} ({vectors_space.dim} values) "
                          f"but --init {voice.spec} expects {theirs.name} {theirs.version} ({theirs.dim} values); install the encoder version the voice was trained with")
    state = load_voice(voice.folder).model.state_dict()
    heard = frozenset(data.vocab.speakers[item.speaker_id] for item in data.items) if vectors_space is not None else frozenset()
    copy_voice_weights(model, state, voice_vocab=voice.vocab, vocab=data.vocab, keep_speakers=heard)
    write_json_atomic(Path(run_root) / INIT_NAME, {
        "voice": voice.identity, "spec": voice.spec, "preset": voice.preset, "overrides": voice.overrides,
        "speaker_space": voice.speaker_space.to_dict(), "speaker_encoder": voice.speaker_encoder, "vocab": voice.vocab.to_dict(),
    })


def _read_record(run_root: Path) -> dict[str, Any] | None:
    path = Path(run_root) / INIT_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path} cannot be read ({err}); start the run again") from None


def init_source(spec: str, *, run_root: Path, resume: bool) -> InitVoice | None:
    """The voice a run starts from: read from the voice when the run starts, from RUN/init.json on a
    resume (the voice may have moved or been updated since); None for a run from scratch."""
    if not spec:
        return None
    record = _read_record(run_root) if resume else None
    if record is None:
        return read_init_voice(spec)
    try:
        return InitVoice(spec=record["spec"], folder=Path(record["voice"]["path"]), vocab=CorpusVocab.from_dict(record["vocab"]),
                         preset=record["preset"], overrides=dict(record["overrides"]), speaker_space=SpeakerSpace(**record["speaker_space"]),
                         speaker_encoder=record["speaker_encoder"], identity=dict(record["voice"]))
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"{Path(run_root) / INIT_NAME} is malformed ({err}); start the run again") from None


def init_identity(run_root: Path) -> dict[str, Any] | None:
    """The `init` of a run's provenance: the voice it was fine-tuned from, or None."""
    record = _read_record(run_root)
    return dict(record["voice"]) if record and isinstance(record.get("voice"), dict) else None
