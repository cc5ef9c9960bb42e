"""TrainingData: merging prepared corpora into one vocabulary, mel caching, clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from corpus_fixtures import prepare_tiny_corpus
from safetensors.torch import save_file

from vclone.data.dataset import TrainingData
from vclone.data.features import load_features
from vclone.data.manifest import load_prepared
from vclone.errors import CorpusError

@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    first = prepare_tiny_corpus(
        tmp_path_factory.mktemp("first"),
        [("a1", "zoe", "en-us", "The quick brown fox.", 1.0), ("b1", "bruno", "es", "El perro de San Roque.", 0.8)], f0=150.0, min_duration_s=0.5,
    )
    second = prepare_tiny_corpus(
        tmp_path_factory.mktemp("second"),
        [("c1", "carla", "de", "Guten Morgen, liebe Freunde.", 0.9), ("c2", "bruno", "en-us", "Good morning.", 0.7)], f0=150.0, min_duration_s=0.5,
    )
    return first, second


def test_merge_two_prepared_dirs(two_corpora: tuple[Path, Path]) -> None:
    first, second = two_corpora
    data = TrainingData.from_dirs([first, second])
    assert data.vocab.speakers == ("bruno", "carla", "zoe")
    assert data.vocab.languages == ("de", "en-us", "es")
    assert len(data) == 4
    expected = {"a1": ("zoe", "en-us"), "b1": ("bruno", "es"), "c1": ("carla", "de"), "c2": ("bruno", "en-us")}
    entries = {e.id: (p, e) for p in (first, second) for e in load_prepared(p).entries}
    for index in range(len(data)):
        item = data[index]
        speaker, language = expected[item.id]
        assert data.vocab.speakers[item.speaker_id] == speaker
        assert data.vocab.languages[item.language_id] == language
        root, entry = entries[item.id]
        # Phone ids come from the merged inventory and decode back to the manifest's phones.
        assert data.vocab.phones.decode(item.phone_ids.tolist()) == list(entry.phonemes)
        assert torch.equal(item.mel, load_features(root / entry.features)["mel"])
        assert data.frame_lengths[index] == item.mel.shape[0] == entry.num_frames
    # Order of items follows the order of the folders; the vocabulary does not.
    swapped = TrainingData.from_dirs([second, first])
    assert [swapped[i].id for i in range(4)] == ["c1", "c2", "a1", "b1"]
    assert swapped.vocab == data.vocab
    assert swapped.fingerprint() != data.fingerprint()


def test_batch_pads_items(two_corpora: tuple[Path, Path]) -> None:
    data = TrainingData.from_dirs(list(two_corpora))
    batch = data.batch([0, 3], mel_pad_value=-11.5)
    assert batch.ids == (data[0].id, data[3].id)
    longest = max(data.frame_lengths[0], data.frame_lengths[3])
    assert batch.mel is not None and batch.mel.shape == (2, longest, 80)
    assert batch.norm.num_frames == data.frame_lengths[0] + data.frame_lengths[3]
    short = 0 if data.frame_lengths[0] < longest else 1
    assert torch.all(batch.mel[short, -1] == -11.5)


def test_cache_stays_within_bound(two_corpora: tuple[Path, Path]) -> None:
    data = TrainingData.from_dirs(list(two_corpora), cache_bytes=100 * 80 * 4)  # about one item
    for _ in range(2):
        for index in range(len(data)):
            assert data.mel(index).shape == (data.frame_lengths[index], 80)
            assert data.cached_bytes <= data.cache_bytes
    unlimited = TrainingData.from_dirs(list(two_corpora))
    for index in range(len(unlimited)):
        unlimited.mel(index)
    assert unlimited.cached_bytes == sum(n * (80 + 2) * 4 for n in unlimited.frame_lengths)  # mel, pitch, energy
    assert unlimited.mel(0) is unlimited.mel(0)


def test_not_prepared_dir_is_a_corpus_error(tmp_path: Path, two_corpora: tuple[Path, Path]) -> None:
    with pytest.raises(CorpusError, match="not a prepared corpus"):
        TrainingData.from_dirs([two_corpora[0], tmp_path])
    with pytest.raises(CorpusError, match="given twice"):
        TrainingData.from_dirs([two_corpora[0], two_corpora[0]])
    with pytest.raises(CorpusError, match="at least one"):
        TrainingData.from_dirs([])


def test_different_audio_settings_are_a_corpus_error(tmp_path: Path, two_corpora: tuple[Path, Path]) -> None:
    other = tmp_path / "other"
    shutil.copytree(two_corpora[1], other)
    vocab = json.loads((other / "vocab.json").read_text())
    vocab["audio"]["f_max"] = 7600.0
    (other / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(CorpusError, match="different audio settings.*f_max"):
        TrainingData.from_dirs([two_corpora[0], other])


def test_stale_features_are_a_corpus_error(tmp_path: Path, two_corpora: tuple[Path, Path]) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(two_corpora[0], copy)
    entry = load_prepared(copy).entries[0]
    save_file({"mel": torch.zeros(3, 80), "wav": torch.zeros(10, dtype=torch.int16)}, str(copy / entry.features))
    data = TrainingData.from_dirs([copy])
    with pytest.raises(CorpusError, match="stale"):
        data[0]
    (copy / entry.features).write_bytes(b"not safetensors")
    with pytest.raises(CorpusError, match="cannot be read"):
        TrainingData.from_dirs([copy])[0]
