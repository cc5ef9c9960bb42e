"""The one artifact store: voices, vocoders and speaker encoders are found, checked and loaded alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vclone.models.artifact import ArtifactKind, find_artifact_dir, load_artifact_state, read_artifact_config, save_artifact
from vclone.models.speaker_encoder.store import ENCODER
from vclone.models.vocoder.store import VOCODER
from vclone.models.voice_files import VOICE

KINDS = [VOICE, VOCODER, ENCODER]


def _module(width: int = 3) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(width, 2)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.label)
def test_saved_artifact_is_found_from_run_folder_and_loads_exactly(kind: ArtifactKind, tmp_path: Path) -> None:
    folder = save_artifact(kind, tmp_path / "run" / kind.run_subdir, _module(), {"note": "x"})
    assert find_artifact_dir(kind, tmp_path / "run") == folder == find_artifact_dir(kind, folder / kind.config_name)
    meta = read_artifact_config(kind, folder)
    assert (meta["format"], meta["format_version"], meta["note"]) == (kind.format, kind.version, "x")
    into = torch.nn.Linear(3, 2)
    load_artifact_state(kind, folder, into)
    assert torch.equal(into.weight, _module().weight)
    assert not list(folder.glob("*.tmp*"))  # nothing half-written left beside


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.label)
def test_every_kind_reports_each_corruption_as_its_own_one_line_error(kind: ArtifactKind, tmp_path: Path) -> None:
    folder = save_artifact(kind, tmp_path / "a", _module(), {})
    config = folder / kind.config_name

    def fails(match: str, action) -> None:
        with pytest.raises(kind.error, match=match) as caught:
            action()
        assert "\n" not in str(caught.value)

    fails("not found", lambda: find_artifact_dir(kind, tmp_path / "missing"))
    fails(f"no {kind.config_name}", lambda: find_artifact_dir(kind, tmp_path))
    fails(f"not a vclone {kind.label}", lambda: find_artifact_dir(kind, folder / kind.weights_name))
    fails("does not match", lambda: load_artifact_state(kind, folder, torch.nn.Linear(4, 2)))
    (folder / kind.weights_name).write_bytes(b"garbage")
    fails("not a readable safetensors file", lambda: load_artifact_state(kind, folder, torch.nn.Linear(3, 2)))
    (folder / kind.weights_name).unlink()
    fails("folder is incomplete", lambda: load_artifact_state(kind, folder, torch.nn.Linear(3, 2)))
    good = json.loads(config.read_text())
    config.write_text(json.dumps({**good, "format_version": 99}))
    fails("format version 99", lambda: read_artifact_config(kind, folder))
    config.write_text(json.dumps({**good, "format": "something-else"}))
    fails(f"not a vclone {kind.label}", lambda: read_artifact_config(kind, folder))
    config.write_text("{not json")
    fails("not valid JSON", lambda: read_artifact_config(kind, folder))
