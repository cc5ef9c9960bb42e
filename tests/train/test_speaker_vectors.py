"""The acoustic model trained on a speaker encoder's embeddings: vectors, frozen centroids, the
voice's speaker space, cloning from reference audio, and the pipeline on the same path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from speaker_fixtures import utterance, write_speaker_corpus
from typer.testing import CliRunner

from vclone.audio.io import save_wav
from vclone.cli.app import app
from vclone.data.dataset import TrainingData
from vclone.models.acoustic.embedding import EmbedBlock
from vclone.models.speaker_embedding import load_speaker_embedding
from vclone.models.speaker_encoder import load_encoder
from vclone.models.voice import load_voice
from vclone.train.speaker_vectors import VECTORS_NAME, compute_speaker_vectors, speaker_centroids

runner = CliRunner()
SHRINK = ["--batch-items", "4", "--deterministic", "--seed", "1", "--device", "cpu", "-q"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_speaker_corpus(tmp_path_factory.mktemp("vectors"), num_speakers=3, per_speaker=3, seconds=1.0)


@pytest.fixture(scope="module")
def encoder_run(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("enc") / "enc"
    result = runner.invoke(app, ["train", "--task", "speaker-encoder", "--data", str(prepared), "--out", str(run), "--max-steps", "2",
                                 "--batch-speakers", "3", "--batch-utterances", "2", "-q"])
    assert result.exit_code == 0, result.output
    return run


@pytest.fixture(scope="module")
def voice_run(prepared: Path, encoder_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("voice") / "run"
    result = runner.invoke(app, ["train", "--data", str(prepared), "--out", str(run), "--max-steps", "2",
                                 "--speaker-encoder", str(encoder_run), *SHRINK])
    assert result.exit_code == 0, result.output
    return run


def test_vectors_are_the_encoder_embeddings(prepared: Path, encoder_run: Path) -> None:
    data = TrainingData.from_dirs([prepared])
    encoder = load_encoder(encoder_run)
    vectors = compute_speaker_vectors(data, encoder)
    assert vectors.shape == (len(data), encoder.dim)
    assert torch.allclose(vectors[0], encoder.embed_mel(data.mel(0)))
    centroids = speaker_centroids(data, vectors)
    first = [i for i, item in enumerate(data.items) if item.speaker_id == 0]
    assert torch.allclose(centroids[0], torch.nn.functional.normalize(vectors[first].sum(dim=0), dim=0), atol=1e-6)


def test_voice_lives_in_the_encoder_space(voice_run: Path, encoder_run: Path) -> None:
    encoder = load_encoder(encoder_run)
    voice = load_voice(voice_run)
    assert (voice.speaker_space.kind, voice.speaker_space.name, voice.speaker_space.version) == ("encoder", encoder.name, encoder.version)
    assert voice.config.speaker_embedding_dim == encoder.dim
    cached = load_file(str(voice_run / VECTORS_NAME))["vectors"]
    table = next(m for m in voice.model.modules() if isinstance(m, EmbedBlock)).speaker_table.weight
    data = TrainingData.from_dirs([Path(voice.meta["training"]["data"][0])])
    # The table was frozen at the centroids: two training steps did not move it.
    assert torch.allclose(table, speaker_centroids(data, cached), atol=1e-6)


def test_clone_from_reference_audio_and_refuse_other_spaces(voice_run: Path, encoder_run: Path, tmp_path: Path) -> None:
    refs = []
    for i in range(2):
        refs.append(tmp_path / f"ref{i}.wav")
        save_wav(refs[-1], utterance(7, i, seconds=2.0), sample_rate=22050)  # a speaker the voice never heard
    spk = tmp_path / "new.safetensors"
    made = runner.invoke(app, ["embed-speaker", *map(str, refs), "--encoder", str(encoder_run), "--out", str(spk)])
    assert made.exit_code == 0, made.output
    wav = tmp_path / "out.wav"
    said = runner.invoke(app, ["synthesize", "Good morning, how are you today?", "--language", "en-us", "--speaker", str(spk), "--voice", str(voice_run), "--out", str(wav), "--pace", "4"])
    assert said.exit_code == 0, said.output
    assert wav.is_file()
    report = tmp_path / "metrics.json"
    scored = runner.invoke(app, ["evaluate", str(wav), "--reference", str(refs[0]), "--encoder", str(encoder_run), "--json", str(report)])
    assert scored.exit_code == 0, scored.output
    metrics = json.loads(report.read_text())
    assert metrics["encoder"]["name"] == load_encoder(encoder_run).name
    assert metrics["pairs"][0]["mcd_db"] > 0 and -1.0 <= metrics["pairs"][0]["speaker_cosine"] <= 1.0
    # A training speaker exported from the voice is its centroid, in the same space.
    row = tmp_path / "spk1.safetensors"
    assert runner.invoke(app, ["embed-speaker", "--voice", str(voice_run), "--speaker", "spk1", "--out", str(row)]).exit_code == 0
    assert load_speaker_embedding(row).encoder == load_encoder(encoder_run).name
    # An embedding of another encoder's space is refused in one line, and nothing is written.
    other = tmp_path / "other.safetensors"
    from vclone.models.speaker_embedding import save_speaker_embedding

    save_speaker_embedding(other, torch.ones(load_encoder(encoder_run).dim), encoder="resemblyzer", encoder_version="0.1.4")
    refused = runner.invoke(app, ["synthesize", "Good morning.", "--language", "en-us", "--speaker", str(other), "--voice", str(voice_run), "--out", str(tmp_path / "no.wav")])
    assert refused.exit_code == 2 and "expects" in refused.output
    assert not (tmp_path / "no.wav").exists()


def test_resume_reuses_the_cached_vectors(voice_run: Path, prepared: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(voice_run, run)
    before = (run / VECTORS_NAME).stat().st_mtime_ns
    result = runner.invoke(app, ["train", "--out", str(run), "--resume", "--max-steps", "3", *SHRINK])
    assert result.exit_code == 0, result.output
    assert (run / VECTORS_NAME).stat().st_mtime_ns == before


def test_speaker_encoder_options_are_checked(prepared: Path, tmp_path: Path) -> None:
    wrong = runner.invoke(app, ["train", "--task", "speaker-encoder", "--data", str(prepared), "--out", str(tmp_path / "r"), "--speaker-encoder", "resemblyzer"])
    assert wrong.exit_code == 2 and "No such option: --speaker-encoder" in wrong.output
    missing = runner.invoke(app, ["train", "--data", str(prepared), "--out", str(tmp_path / "r2"), "--speaker-encoder", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "not found" in missing.output


@pytest.mark.distributed
@pytest.mark.slow
@pytest.mark.parametrize("consistency", ["0", "2"])
def test_pipeline_on_encoder_vectors_matches_one_process(prepared: Path, encoder_run: Path, tmp_path: Path, consistency: str) -> None:
    # With a speaker consistency loss, the last stage judges the same (middle) windows as one process.
    common = ["--data", str(prepared), "--max-steps", "2", "--speaker-encoder", str(encoder_run), "--speaker-consistency", consistency, *SHRINK]
    if consistency != "0":
        common += ["--speaker-swaps", "0.5"]  # deterministic runs swap no speakers
    one = runner.invoke(app, ["train", "--out", str(tmp_path / "one"), *common])
    two = runner.invoke(app, ["train", "--out", str(tmp_path / "two"), "--stages", "2", "--micro-batches", "2", *common])
    assert one.exit_code == 0 and two.exit_code == 0, one.output + two.output
    a = load_file(str(tmp_path / "one" / "voice" / "voice.safetensors"))
    b = load_file(str(tmp_path / "two" / "voice" / "voice.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-5), key


def test_embed_with_the_voice_encoder(voice_run: Path, encoder_run: Path, prepared: Path, tmp_path: Path) -> None:
    ref = tmp_path / "ref.wav"
    save_wav(ref, utterance(8, 0, seconds=2.0), sample_rate=22050)
    out = tmp_path / "spk.safetensors"
    made = runner.invoke(app, ["embed-speaker", str(ref), "--voice", str(voice_run), "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert load_speaker_embedding(out).encoder == load_encoder(encoder_run).name
    table_run = tmp_path / "table"
    assert runner.invoke(app, ["train", "--data", str(prepared), "--out", str(table_run), "--max-steps", "1", "--speaker-table", *SHRINK]).exit_code == 0
    refused = runner.invoke(app, ["embed-speaker", str(ref), "--voice", str(table_run), "--out", str(tmp_path / "no.safetensors")])
    assert refused.exit_code == 2 and "cannot clone from audio" in refused.output
    assert not (tmp_path / "no.safetensors").exists()


def test_language_dropout_option(prepared: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    plain = [a for a in SHRINK if a != "--deterministic"]
    result = runner.invoke(app, ["train", "--data", str(prepared), "--out", str(run), "--max-steps", "1", "--language-dropout", "0.5", *plain])
    assert result.exit_code == 0, result.output
    assert load_voice(run).config.condition_language_dropout == 0.5
    again = runner.invoke(app, ["train", "--out", str(run), "--resume", "--max-steps", "2", "--language-dropout", "0.2", *plain])
    assert again.exit_code == 2 and "cannot change on --resume" in again.output
    bad = runner.invoke(app, ["train", "--data", str(prepared), "--out", str(tmp_path / "bad"), "--language-dropout", "2", *SHRINK])
    assert bad.exit_code == 2 and "condition_language_dropout" in bad.output


def test_a_cloning_voice_hides_the_language_by_default(encoder_run: Path, prepared: Path, tmp_path: Path) -> None:
    # --speaker-encoder (or the default one) without --language-dropout: 0.5; a table voice keeps the preset's 0; a given value wins
    plain = ["--data", str(prepared), "--max-steps", "1", *[a for a in SHRINK if a != "--deterministic"]]
    for name, extra, expected in (("clone", ["--speaker-encoder", str(encoder_run)], 0.5), ("default", [], 0.5), ("table", ["--speaker-table"], 0.0),
                                  ("given", ["--speaker-encoder", str(encoder_run), "--language-dropout", "0"], 0.0)):
        result = runner.invoke(app, ["train", "--out", str(tmp_path / name), *extra, *plain])
        assert result.exit_code == 0, result.output
        assert load_voice(tmp_path / name).config.condition_language_dropout == expected, name


def test_speaker_consistency_option(prepared: Path, encoder_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    plain = [a for a in SHRINK if a != "--deterministic"]
    result = runner.invoke(app, ["train", "--data", str(prepared), "--out", str(run), "--max-steps", "2", "--log-every", "1",
                                 "--speaker-encoder", str(encoder_run), "--speaker-consistency", "1.5", "--speaker-swaps", "0.5", *plain])
    assert result.exit_code == 0, result.output
    config = load_voice(run).config
    assert config.speaker_consistency_weight == 1.5 and config.speaker_consistency_encoder == str(encoder_run.resolve())
    assert config.speaker_consistency_swaps == 0.5
    rows = (run / "logs" / "train.csv").read_text().splitlines()
    column = rows[0].split(",").index("loss_speaker_consistency")
    assert all(0 < float(r.split(",")[column]) <= 2 * 1.5 for r in rows[1:])
    # The voice synthesizes: the block has no weights and passes synthesis through.
    said = runner.invoke(app, ["synthesize", "Good morning.", "--language", "en-us", "--speaker", "spk1", "--voice", str(run),
                               "--out", str(tmp_path / "out.wav"), "--pace", "4"])
    assert said.exit_code == 0, said.output
    # Another encoder may judge the loss than the one the voice clones with.
    judged = tmp_path / "judged"
    made = runner.invoke(app, ["train", "--data", str(prepared), "--out", str(judged), "--max-steps", "1", "--speaker-encoder", str(encoder_run),
                               "--speaker-consistency", "1", "--speaker-judge", "resemblyzer", *plain])
    assert made.exit_code == 0, made.output
    assert load_voice(judged).config.speaker_consistency_encoder == "resemblyzer"
    checks = [
        (["--data", str(prepared), "--out", str(tmp_path / "a"), "--speaker-consistency", "1"], "cannot judge the speaker consistency loss"),
        (["--data", str(prepared), "--out", str(tmp_path / "a"), "--speaker-table", "--speaker-consistency", "1"], "does not go with --speaker-consistency"),
        (["--data", str(prepared), "--out", str(tmp_path / "a"), "--speaker-encoder", str(encoder_run), "--speaker-judge", "resemblyzer"], "give --speaker-consistency a weight"),
        (["--data", str(prepared), "--out", str(tmp_path / "a"), "--speaker-encoder", str(encoder_run), "--speaker-consistency", "1",
          "--speaker-judge", str(tmp_path / "nowhere")], "not found"),
        (["--data", str(prepared), "--out", str(tmp_path / "a"), "--speaker-encoder", str(encoder_run), "--speaker-swaps", "0.2"], "give --speaker-consistency a weight"),
        (["--data", str(prepared), "--out", str(tmp_path / "a"), "--speaker-encoder", str(encoder_run), "--speaker-consistency", "1", "--speaker-swaps", "1"], "[0, 1)"),
        (["encoder", "--data", str(prepared), "--out", str(tmp_path / "b"), "--speaker-consistency", "1"], "No such option: --speaker-consistency"),
        (["--data", str(prepared), "--out", str(tmp_path / "c"), "--speaker-encoder", str(encoder_run), "--speaker-consistency", "-1"], ">= 0"),
    ]
    for args, needle in checks:
        refused = runner.invoke(app, ["train", *args, *SHRINK])
        assert refused.exit_code == 2 and needle in refused.output, (args, refused.output)
        assert len(refused.output.strip().splitlines()) == 1, refused.output
    assert not any((tmp_path / name).exists() for name in "abc")


def test_judge_speaker_means_average_each_speakers_utterances(prepared: Path, encoder_run: Path) -> None:
    from vclone.models.speaker_encoder.judge import load_judge
    from vclone.train.speaker_vectors import judge_speaker_means

    data = TrainingData.from_dirs([prepared])
    judge = load_judge(str(encoder_run), data.vocab.audio)
    means = judge_speaker_means(data, judge)
    first = [i for i, item in enumerate(data.items) if item.speaker_id == 1]
    with torch.no_grad():
        expected = torch.nn.functional.normalize(torch.stack([judge.embed_utterance(data.mel(i)) for i in first]).sum(dim=0), dim=0)
    assert means.shape == (len(data.vocab.speakers), judge.net.config.embedding_dim)
    assert torch.allclose(means[1], expected, atol=1e-5)


def test_a_voice_is_fine_tuned_with_speaker_consistency_on_resume(prepared: Path, encoder_run: Path, tmp_path: Path) -> None:
    # The loss holds no weights: a resumed run may add it (how the README's fine-tuning figures were made).
    run = tmp_path / "run"
    plain = [a for a in SHRINK if a != "--deterministic"]  # deterministic runs swap no speakers
    first = runner.invoke(app, ["train", "--data", str(prepared), "--out", str(run), "--max-steps", "2", "--log-every", "1",
                                "--speaker-encoder", str(encoder_run), *plain])
    assert first.exit_code == 0, first.output
    result = runner.invoke(app, ["train", "--out", str(run), "--resume", "--max-steps", "4", "--log-every", "1",
                                 "--speaker-consistency", "2", "--speaker-swaps", "0.5", *plain])
    assert result.exit_code == 0, result.output
    config = load_voice(run).config
    assert (config.speaker_consistency_weight, config.speaker_consistency_swaps) == (2.0, 0.5)
    rows = list(__import__("csv").DictReader((run / "logs" / "train.csv").open()))
    assert [r["loss_speaker_consistency"] != "" for r in rows] == [False, False, True, True]
    assert list(rows[0])[-3:] == ["grad_norm", "frames_per_s", "elapsed_s"]
    # ... and may drop it again.
    again = runner.invoke(app, ["train", "--out", str(run), "--resume", "--max-steps", "5", "--speaker-consistency", "0", *plain])
    assert again.exit_code == 0, again.output
    assert load_voice(run).config.speaker_consistency_weight == 0.0
