"""The top-level Python API: `import vclone` is light, `vclone.load` speaks, names resolve lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import vclone
from vclone.synth.untrained import save_untrained_voice


def test_import_vclone_loads_no_torch() -> None:
    probe = "import sys, vclone; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchaudio'))[:3])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == "[]"


def test_load_speaks_and_streams(tmp_path: Path) -> None:
    folder = save_untrained_voice(tmp_path / "v", texts={"en-us": ["Hello there, my friend."]}, speakers=["alice"],
                                  overrides={"d_model": 32, "num_heads": 2, "num_encoder_layers": 1, "num_decoder_layers": 1,
                                             "ffn_dim": 64, "aligner_dim": 16, "duration_predictor_dim": 32,
                                             "speaker_embedding_dim": 8, "language_embedding_dim": 4, "dropout": 0.0}, seed=0)
    voice = vclone.load(folder, vocoder="griffin-lim")
    assert isinstance(voice, vclone.Synthesizer)
    result = voice("Hello there.", language="en-us", speaker="alice", seed=0)
    assert isinstance(result, vclone.SynthesisResult) and result.sample_rate == voice.sample_rate == 22050
    assert result.wav.dtype == torch.float32 and result.wav.dim() == 1
    chunks = list(voice.stream("Hello there. My friend.", language="en-us", speaker="alice", seed=0))
    assert chunks and all(c.dtype == torch.float32 for c in chunks)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        vclone.nope  # noqa: B018
