"""Speaker encoder training end to end: GE2E on synthetic speakers, held-out EER, exact resume, CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from speaker_fixtures import utterance, write_speaker_corpus
from typer.testing import CliRunner

from vclone.audio.io import save_wav
from vclone.cli.app import app
from vclone.errors import ConfigError, CorpusError
from vclone.models.speaker_embedding import load_speaker_embedding
from vclone.models.speaker_encoder import load_encoder
from vclone.train.encoder_config import EncoderBatching, EncoderTrainConfig
from vclone.train.encoder_data import plan_ge2e_batch, split_speakers
from vclone.train.encoder_loop import measure_eer, train_encoder

runner = CliRunner()
SHRINK = {"channels": 48, "num_layers": 3, "embedding_dim": 32}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_speaker_corpus(tmp_path_factory.mktemp("speakers"), num_speakers=6, per_speaker=5)


@pytest.fixture(scope="module")
def encoder_run(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("encoder_run") / "enc"
    result = runner.invoke(app, ["train", "--task", "speaker-encoder", "--data", str(prepared), "--out", str(run), "--max-steps", "1", "-q"])
    assert result.exit_code == 0, result.output
    return run


def _config(prepared: Path, out: Path, steps: int, **kwargs) -> EncoderTrainConfig:
    return EncoderTrainConfig(data_dirs=(prepared,), out=out, max_steps=steps, overrides=SHRINK, deterministic=True, seed=2,
                              batching=EncoderBatching(num_speakers=6, num_utterances=3, segment_frames=96), **kwargs)


def test_split_and_batch_plan_are_pure() -> None:
    split = split_speakers(["a", "a", "a", "a", "b", "b", "c"], held_out=1)
    assert split.speakers == ("a", "b") and split.train == ((0, 1, 2), (4, 5)) and split.held_out == ((3,), ())
    assert split.skipped == ("c",)
    plan = plan_ge2e_batch(split, step=3, seed=1, num_speakers=8, num_utterances=3)
    assert plan == plan_ge2e_batch(split, step=3, seed=1, num_speakers=8, num_utterances=3)
    assert len(plan) == 2 and all(len(g) == 3 for g in plan)
    assert set(plan[0]) <= {0, 1, 2} and set(plan[1]) <= {4, 5}
    with pytest.raises(CorpusError, match="at least 2 speakers"):
        split_speakers(["a", "a", "b"], held_out=0)


def test_training_separates_held_out_speakers(prepared: Path, tmp_path: Path) -> None:
    result = train_encoder(_config(prepared, tmp_path / "run", 60))
    rows = list(csv.DictReader((tmp_path / "run" / "logs" / "train.csv").open()))
    first, last = float(rows[0]["loss_ge2e"]), float(rows[-1]["loss_ge2e"])
    assert last < 0.5 * first
    assert result.eer is not None and result.eer <= 0.1, f"held-out EER {result.eer}"
    encoder = load_encoder(result.encoder)
    assert encoder.name.startswith("dvector:") and encoder.dim == 32
    # A speaker's new utterance is closer to its own recordings than to another speaker's.
    own = encoder.embed_speaker([utterance(1, i) for i in range(3)])
    other = encoder.embed_speaker([utterance(4, i) for i in range(3)])
    probe = encoder.embed(utterance(1, 50))
    assert probe @ own > probe @ other


def test_resume_continues_exactly(prepared: Path, tmp_path: Path) -> None:
    straight = train_encoder(_config(prepared, tmp_path / "straight", 8))
    train_encoder(_config(prepared, tmp_path / "split", 4))
    resumed = train_encoder(_config(prepared, tmp_path / "split", 8, resume=True))
    a = load_file(str(straight.checkpoint / "model.safetensors"))
    b = load_file(str(resumed.checkpoint / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_cli_train_embed_and_errors(prepared: Path, tmp_path: Path) -> None:
    run = tmp_path / "enc"
    args = ["train", "--task", "speaker-encoder", "--data", str(prepared), "--out", str(run), "--max-steps", "3", "--batch-speakers", "3", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (run / "encoder" / "encoder.json").is_file()
    bad = runner.invoke(app, [*args[:-1], "--stages", "2"])
    assert bad.exit_code == 2 and "No such option: --stages" in bad.output
    wrong_task = runner.invoke(app, ["train", "--out", str(run), "--resume", "--max-steps", "4"])
    assert wrong_task.exit_code == 2 and "vclone train encoder" in wrong_task.output

    wavs = [tmp_path / f"ref{i}.wav" for i in range(2)]
    for i, wav in enumerate(wavs):
        save_wav(wav, utterance(2, 20 + i, seconds=1.0, sample_rate=16000), sample_rate=16000)
    out = tmp_path / "spk.safetensors"
    made = runner.invoke(app, ["embed-speaker", *map(str, wavs), "--encoder", str(run), "--out", str(out), "--speaker", "two"])
    assert made.exit_code == 0, made.output
    assert "warning: only 2.0 s of speech" in made.output
    embedding = load_speaker_embedding(out)
    encoder = load_encoder(run)
    assert embedding.encoder == encoder.name and embedding.encoder_version == encoder.version and embedding.speaker == "two"
    assert abs(float(embedding.vector.norm()) - 1.0) < 1e-5


@pytest.mark.parametrize("case", ["silent", "short", "corrupt", "missing", "directory"])
def test_cli_bad_references(encoder_run: Path, tmp_path: Path, case: str) -> None:
    run = encoder_run
    ref = tmp_path / "ref.wav"
    if case == "silent":
        save_wav(ref, torch.zeros(22050), sample_rate=22050)
    elif case == "short":
        save_wav(ref, utterance(0, 0, seconds=0.3), sample_rate=22050)
    elif case == "corrupt":
        ref.write_bytes(b"RIFF....WAVEfmt garbage")
    elif case == "directory":
        ref.mkdir()
    out = tmp_path / "spk.safetensors"
    result = runner.invoke(app, ["embed-speaker", str(ref), "--encoder", str(run), "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    assert not out.exists()


def test_config_rejects_bad_values(prepared: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="2 speakers x 2 utterances"):
        EncoderBatching(num_speakers=1)
    with pytest.raises(ConfigError, match="unknown speaker encoder preset"):
        EncoderTrainConfig(data_dirs=(prepared,), out=tmp_path, max_steps=1, preset="huge")


def test_measure_eer_none_without_held_out(prepared: Path, tmp_path: Path) -> None:
    result = train_encoder(_config(prepared, tmp_path / "run", 1, held_out=0))
    assert result.eer is None
    assert measure_eer is not None
