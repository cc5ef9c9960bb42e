"""Synthesis to files: numbered outputs, text files, mel .npy, PNG plot, and nothing partial on error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vclone.errors import ConfigError, TextError
from vclone.synth.jobs import (
    OutputPaths,
    SynthesisOptions,
    TextLine,
    read_text_lines,
    save_mel,
    synthesize_lines,
    synthesize_to_files,
)
from vclone.synth.synthesizer import Synthesizer, UnknownSpeakerError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_numbered_paths_number_every_output() -> None:
    paths = OutputPaths(wav=Path("o/out.wav"), mel=Path("o/out.npy"), plot=Path("p/out.png"))
    assert paths.numbered(2) == OutputPaths(wav=Path("o/out_002.wav"), mel=Path("o/out_002.npy"), plot=Path("p/out_002.png"))
    assert OutputPaths(wav=Path("x.wav")).numbered(12, width=4) == OutputPaths(wav=Path("x_0012.wav"))


def test_read_text_lines_skips_blank_lines_and_keeps_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("\ufeffFirst line.\n\n   \n  Second line.  \nThird.", encoding="utf-8")
    assert read_text_lines(path) == [
        TextLine(index=1, line_no=1, text="First line."),
        TextLine(index=2, line_no=4, text="Second line."),
        TextLine(index=3, line_no=5, text="Third."),
    ]


def test_read_text_lines_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_text_lines(tmp_path / "absent.txt")
    (tmp_path / "blank.txt").write_text("\n \n", encoding="utf-8")
    with pytest.raises(TextError, match="no non-empty lines"):
        read_text_lines(tmp_path / "blank.txt")
    (tmp_path / "latin1.txt").write_bytes("Grüße\n".encode("latin-1"))
    with pytest.raises(TextError, match="UTF-8"):
        read_text_lines(tmp_path / "latin1.txt")


def test_save_mel_writes_float32_npy_atomically(tmp_path: Path) -> None:
    import torch

    mel = torch.randn(7, 80, dtype=torch.float64)
    save_mel(tmp_path / "m.npy", mel)
    loaded = np.load(tmp_path / "m.npy")
    assert loaded.dtype == np.float32 and loaded.shape == (7, 80)
    np.testing.assert_allclose(loaded, mel.float().numpy())
    assert [p.name for p in tmp_path.iterdir()] == ["m.npy"]


def test_one_text_to_wav_mel_and_plot(synth: Synthesizer, tmp_path: Path) -> None:
    paths = OutputPaths(wav=tmp_path / "hi.wav", mel=tmp_path / "hi.npy", plot=tmp_path / "hi.png")
    result = synthesize_to_files(synth, "The quick brown fox.", options=SynthesisOptions(language="en-us", speaker="alice", seed=0), paths=paths)
    wav, rate = sf.read(tmp_path / "hi.wav", dtype="float32")
    assert rate == result.sample_rate and wav.shape == (result.wav.numel(),)
    np.testing.assert_allclose(wav, result.wav.numpy(), atol=2 / 32767)  # 16-bit PCM
    np.testing.assert_array_equal(np.load(tmp_path / "hi.npy"), result.mel.numpy())
    assert (tmp_path / "hi.png").read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hi.npy", "hi.png", "hi.wav"]


def test_bad_input_writes_nothing(synth: Synthesizer, tmp_path: Path) -> None:
    paths = OutputPaths(wav=tmp_path / "x.wav", mel=tmp_path / "x.npy", plot=tmp_path / "x.png")
    with pytest.raises(TextError):
        synthesize_to_files(synth, "...", options=SynthesisOptions(language="en-us", speaker="alice"), paths=paths)
    with pytest.raises(ConfigError, match="does not exist"):
        synthesize_to_files(synth, "Hello.", options=SynthesisOptions(language="en-us", speaker="alice"), paths=OutputPaths(wav=tmp_path / "no" / "x.wav"))
    assert list(tmp_path.iterdir()) == []


def test_lines_with_one_bad_line_skip_it_and_number_the_rest(synth: Synthesizer, tmp_path: Path) -> None:
    lines = [TextLine(1, 1, "The lazy dog."), TextLine(2, 3, "?!"), TextLine(3, 4, "El perro.")]
    seen = []
    outcomes = synthesize_lines(
        synth, lines, options=SynthesisOptions(language="en-us", speaker="bruno", seed=0), paths=OutputPaths(wav=tmp_path / "out.wav", mel=tmp_path / "out.npy"), on_outcome=seen.append
    )
    assert seen == outcomes
    assert [o.error is None for o in outcomes] == [True, False, True]
    assert "nothing speakable" in (outcomes[1].error or "")
    assert outcomes[2].paths == OutputPaths(wav=tmp_path / "out_003.wav", mel=tmp_path / "out_003.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out_001.npy", "out_001.wav", "out_003.npy", "out_003.wav"]


def test_lines_with_a_bad_setting_fail_once_before_any_line(synth: Synthesizer, tmp_path: Path) -> None:
    lines = [TextLine(1, 1, "The lazy dog."), TextLine(2, 2, "The fox.")]
    with pytest.raises(UnknownSpeakerError):
        synthesize_lines(synth, lines, options=SynthesisOptions(language="en-us", speaker="nobody"), paths=OutputPaths(wav=tmp_path / "o.wav"))
    assert list(tmp_path.iterdir()) == []


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="pace"):
        SynthesisOptions(language="en-us", speaker="alice", pace=-1.0)
    with pytest.raises(ConfigError, match="speaker"):
        SynthesisOptions(language="en-us", speaker="")
