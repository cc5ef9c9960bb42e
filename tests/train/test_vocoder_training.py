"""Vocoder training: pure segment plans, aligned audio/mel segments, falling loss, exact resume, export, CLI and bad options."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from vclone.audio import AudioConfig, MelSpectrogram
from vclone.cli.app import app
from vclone.data.dataset import TrainingData
from vclone.errors import ConfigError, CorpusError
from vclone.models.vocoder.store import load_vocoder
from vclone.synth.vocoders import build_vocoder
from vclone.train.checkpoint import latest_checkpoint
from vclone.train.config import OptimizerConfig, CheckpointConfig, LoggingConfig, PlottingConfig
from vclone.train.vocoder_config import VocoderLossWeights, VocoderSegments, VocoderTrainConfig
from vclone.train.vocoder_data import SegmentSource, plan_segments
from vclone.train.vocoder_loop import train_vocoder

runner = CliRunner()


def _config(prepared: Path, out: Path, **overrides: Any) -> VocoderTrainConfig:
    settings: dict[str, Any] = {
        "data_dirs": (prepared,), "out": out, "max_steps": 4, "preset": "tiny-fast", "discriminator": "tiny",
        "segments": VocoderSegments(num_items=2, segment_frames=16), "losses": VocoderLossWeights(adversarial_start=2),
        "checkpoint": CheckpointConfig(every=1000), "logging": LoggingConfig(every=1), "plotting": PlottingConfig(every=1000),
        "deterministic": True,
    }
    settings.update(overrides)
    return VocoderTrainConfig(**settings)


def test_segment_plan_is_a_pure_function_of_seed_and_step() -> None:
    lengths = [40, 10, 100, 33]
    plan = plan_segments(lengths, step=3, seed=1, num_items=6, segment_frames=32)
    assert plan == plan_segments(lengths, step=3, seed=1, num_items=6, segment_frames=32)
    assert plan != plan_segments(lengths, step=4, seed=1, num_items=6, segment_frames=32)
    assert {s.index for s in plan} <= {0, 2, 3}  # item 1 is shorter than a segment
    assert all(0 <= s.start <= lengths[s.index] - 32 for s in plan)
    starts = {s.start for step in range(1, 40) for s in plan_segments(lengths, step=step, seed=0, num_items=2, segment_frames=32) if s.index == 2}
    assert min(starts) < 10 and max(starts) > 58  # the whole item is drawn from, both ends included
    with pytest.raises(CorpusError, match="no utterance has 200 mel frames"):
        plan_segments(lengths, step=1, seed=0, num_items=2, segment_frames=200)


def test_audio_segments_line_up_with_their_mel_frames(prepared: Path) -> None:
    data = TrainingData.from_dirs([prepared])
    source = SegmentSource(data)
    segments = plan_segments(data.frame_lengths, step=1, seed=0, num_items=3, segment_frames=16)
    wav, cond, real = source.batch(segments, segment_frames=16)
    assert wav.shape == (3, 16 * 256) and cond.shape == real.shape == (3, 16, 80)
    torch.testing.assert_close(cond, real)
    # Re-analysing a segment gives the stored frames, away from the edges where padding differs.
    # (Bins far below the peak are left out: the cached audio is 16-bit, whose rounding noise shows there.)
    again = MelSpectrogram(data.vocab.audio)(wav)[:, 3:-3]
    inner = real[:, 3:-3]
    audible = inner > inner.amax() - 6.0
    assert (again - inner)[audible].abs().max() < 0.05
    shifted = MelSpectrogram(data.vocab.audio)(torch.roll(wav, 128, dims=1))[:, 3:-3]
    assert (shifted - inner)[audible].abs().mean() > 5 * (again - inner)[audible].abs().mean()


def test_mel_loss_falls_and_the_run_exports_a_vocoder(prepared: Path, tmp_path: Path) -> None:
    config = _config(prepared, tmp_path / "run", max_steps=40, losses=VocoderLossWeights(adversarial_start=40, stft=1.0),
                     optimizer=_fast_optimizer(), plotting=PlottingConfig(every=20))
    result = train_vocoder(config)
    rows = (tmp_path / "run" / "logs" / "train.csv").read_text().splitlines()
    header, first, last = rows[0].split(","), rows[1].split(","), rows[-1].split(",")
    mel = header.index("loss_mel")
    assert float(last[mel]) < 0.7 * float(first[mel])
    assert sorted(p.name for p in (tmp_path / "run" / "plots").iterdir()) == ["step_0000020.png", "step_0000040.png"]
    loaded = load_vocoder(result.run_dir)
    assert loaded.kind == "istft" and loaded.meta["training"]["step"] == 40
    assert loaded.generator(torch.randn(1, 5, 80)).shape == (1, 5 * 256)


def _fast_optimizer() -> OptimizerConfig:
    return replace(VocoderTrainConfig(data_dirs=(Path("."),), out=Path("."), max_steps=1).optimizer, lr=2e-3)


def test_resume_continues_exactly(prepared: Path, tmp_path: Path) -> None:
    straight = train_vocoder(_config(prepared, tmp_path / "straight", max_steps=4))
    train_vocoder(_config(prepared, tmp_path / "split", max_steps=2))
    resumed = train_vocoder(_config(prepared, tmp_path / "split", max_steps=4, resume=True))
    assert resumed.step == straight.step == 4
    a = load_file(str(latest_checkpoint(tmp_path / "straight" / "checkpoints") / "model.safetensors"))
    b = load_file(str(latest_checkpoint(tmp_path / "split" / "checkpoints") / "model.safetensors"))
    assert a.keys() == b.keys() and any(k.startswith("discriminators.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    logged = (tmp_path / "split" / "logs" / "train.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in logged[1:]] == ["1", "2", "3", "4"]


def test_hifigan_trains_weight_normed_and_exports_folded(prepared: Path, tmp_path: Path) -> None:
    result = train_vocoder(_config(prepared, tmp_path / "run", preset="tiny", max_steps=2))
    checkpoint = load_file(str(latest_checkpoint(tmp_path / "run" / "checkpoints") / "model.safetensors"))
    assert any("parametrizations.weight.original0" in k for k in checkpoint)
    exported = load_file(str(result.vocoder / "vocoder.safetensors"))
    assert not any("parametrizations" in k for k in exported)
    loaded = load_vocoder(result.vocoder)
    assert loaded.generator(torch.randn(1, 3, 80)).shape == (1, 768)


def test_init_must_fit_the_preset(prepared: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="another size than --preset tiny"):
        train_vocoder(_config(prepared, tmp_path / "run", preset="tiny", init="hifigan-universal", max_steps=1))


def test_cli_trains_a_run_that_synthesis_can_load(prepared: Path, tmp_path: Path) -> None:
    run = tmp_path / "voc"
    result = runner.invoke(app, ["train", "--task", "vocoder", "--data", str(prepared), "--preset", "tiny-fast", "--discriminator", "tiny",
                                 "--out", str(run), "--max-steps", "2", "--batch-items", "2", "--segment-frames", "16", "--quiet"])
    assert result.exit_code == 0, result.output
    assert (run / "vocoder" / "vocoder.json").is_file()
    listed = runner.invoke(app, ["vocoders", str(run), "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout)[-1]["kind"] == "istft"
    vocoder = build_vocoder(run, audio=AudioConfig())  # what `vclone synthesize --vocoder RUN` loads
    assert vocoder(torch.randn(7, 80)).shape == (7 * 256,)


@pytest.mark.parametrize(("extra", "needle"), [
    (["--stages", "50"], "--stages 50 needs at least 50 blocks"),
    (["--batch-frames", "900"], "No such option: --batch-frames"),
    (["--stages", "2", "--balance", "1,1,1"], "names 3 stages but --stages is 2"),
    (["--init", "nowhere"], "neither hifigan-universal nor an existing vocoder folder"),
    (["--preset", "wavenet"], "unknown vocoder preset 'wavenet'"),
    (["--discriminator", "huge"], "unknown discriminator preset 'huge'"),
    (["--segment-frames", "4"], "segment_frames must be at least 8"),
    (["--segment-frames", "500"], "no utterance has 500 mel frames"),
    (["--resume"], "holds no training run"),
])
def test_cli_bad_vocoder_options_are_one_line(prepared: Path, tmp_path: Path, extra: list[str], needle: str) -> None:
    argv = ["train", "vocoder", "--data", str(prepared), "--preset", "tiny-fast", "--discriminator", "tiny",
            "--out", str(tmp_path / "voc"), "--max-steps", "1", "--batch-items", "2", "--segment-frames", "16", "--quiet"]
    for option in ("--preset", "--discriminator", "--segment-frames"):
        if option in extra:
            at = argv.index(option)
            del argv[at : at + 2]
    result = runner.invoke(app, [*argv, *extra])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.stderr


def test_vocoder_only_options_are_refused_for_other_tasks(prepared: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--data", str(prepared), "--out", str(tmp_path / "a"), "--init", "hifigan-universal"])
    assert result.exit_code == 2 and "vocoder weights go to `vclone train vocoder --init`" in result.stderr


def test_fine_tuning_on_predicted_mels(prepared: Path, tmp_path: Path, make_config, tiny_csv_corpus: Path) -> None:
    from vclone.train.loop import train as train_acoustic
    from vclone.train.vocoder_data import teacher_forced_mels

    acoustic = train_acoustic(make_config("acoustic", max_steps=1))
    data = TrainingData.from_dirs([prepared])
    mels = teacher_forced_mels(acoustic.voice, data, device=torch.device("cpu"))
    assert sorted(mels) == list(range(len(data)))
    assert all(mels[i].shape == data.mel(i).shape for i in mels)
    assert not torch.allclose(mels[0], data.mel(0))  # the prediction, not the recording's own mel
    result = train_vocoder(_config(prepared, tmp_path / "tuned", max_steps=2, acoustic_voice=str(acoustic.voice)))
    assert load_vocoder(result.vocoder).meta["training"]["acoustic_voice"] == str(acoustic.voice)
    other = tmp_path / "other-prepared"
    runner.invoke(app, ["prepare", str(tiny_csv_corpus), "--format", "csv", "--out", str(other), "--quiet"])
    with pytest.raises(ConfigError, match="trained on other data"):
        teacher_forced_mels(acoustic.voice, TrainingData.from_dirs([other]), device=torch.device("cpu"))


def test_init_from_the_universal_weights_starts_from_them(prepared: Path, tmp_path: Path) -> None:
    from vclone.models.vocoder.universal import load_universal
    from vclone.train.vocoder_loop import initial_generator

    config = _config(prepared, tmp_path / "run", preset="universal", init="hifigan-universal")
    generator = initial_generator(config, audio=AudioConfig())
    mel = torch.randn(1, 4, 80) - 5
    with torch.no_grad():
        torch.testing.assert_close(generator(mel), load_universal().generator(mel), rtol=1e-4, atol=1e-5)
    assert any("parametrizations" in k for k in generator.state_dict())  # trained weight-normed


def test_distillation_learns_the_teachers_audio(prepared: Path, tmp_path: Path) -> None:
    """--teacher replaces the recordings by the teacher's audio for the same mels: a student that
    starts as a copy of its teacher has nothing to learn (mel loss 0), unlike against the recordings."""
    first = train_vocoder(_config(prepared, tmp_path / "first", max_steps=1))
    teacher = str(first.vocoder)
    copy = train_vocoder(_config(prepared, tmp_path / "copy", max_steps=1, init=teacher, teacher=teacher,
                                 losses=VocoderLossWeights(adversarial_start=1)))
    plain = train_vocoder(_config(prepared, tmp_path / "plain", max_steps=1, init=teacher, losses=VocoderLossWeights(adversarial_start=1)))
    assert copy.last_report is not None and plain.last_report is not None
    assert copy.last_report.losses["mel"] < 1e-4 < 0.1 < plain.last_report.losses["mel"]
    assert json.loads((tmp_path / "copy" / "vocoder" / "vocoder.json").read_text())["training"]["teacher"] == teacher
    bad = runner.invoke(app, ["train", "--task", "vocoder", "--data", str(prepared), "--out", str(tmp_path / "bad"), "--teacher", "nowhere"])
    assert bad.exit_code == 2 and "--teacher 'nowhere' is neither" in bad.stderr
