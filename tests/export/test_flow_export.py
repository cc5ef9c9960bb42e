"""A flow-matching voice's export: torch's seeded noise redrawn in numpy, the Euler solve, the estimator graph,
and whole syntheses that match torch's for the same seed.

The small flow voice's estimator is random with every weight perturbed (conftest), so its vector field depends
on x, t, mu and the frame states; a wrong time schedule, a missing step, a swapped or stale conditioning input
or other noise moves the mel far beyond the tolerances (measured: by 0.04 or more).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from vclone.export.flow import MIN_NOISE_VALUES, euler_solve, euler_times, torch_normal
from vclone.export.manifest import EXPORT_FORMAT_VERSION, FLOW_FILE, MANIFEST_NAME, TORCH_CPU_NOISE, read_manifest
from vclone.export.runtime import OnnxSynthesizer
from vclone.models.acoustic.flow import DEFAULT_FLOW_SEED, FlowBlock
from vclone.models.record import AcousticRecord
from vclone.models.voice import load_voice
from vclone.synth.synthesizer import Synthesizer

MEL_TOLERANCE = 1e-3
NOISE_TOLERANCE = 1e-5  # torch's vectorized log, sin and cos differ from numpy's in the last bits
TEXT, LANGUAGE = "The quick brown fox jumps over the lazy dog.", "en-us"


@pytest.fixture(scope="module")
def flow_export(exports: dict[str, tuple[Path, Path, str]]) -> tuple[Path, Path, str]:
    return exports["flow+hifigan"]


@pytest.fixture(scope="module")
def flow_block(flow_export: tuple[Path, Path, str]) -> FlowBlock:
    block = load_voice(flow_export[0]).model.eval().blocks.block("flow")
    assert isinstance(block, FlowBlock)
    return block


@pytest.mark.parametrize("seed", [0, 1, 7, 2**31 + 5, 2**40 + 3, -1])
@pytest.mark.parametrize("shape", [(1, 23, 80), (1, 1, 80), (1, 3, 17), (16,)])
def test_numpy_noise_is_torchs(seed: int, shape: tuple[int, ...]) -> None:
    expected = torch.randn(shape, generator=torch.Generator().manual_seed(seed)).numpy()
    noise = torch_normal(seed, shape)
    assert noise.shape == shape and noise.dtype == np.float32
    assert np.abs(noise - expected).max() <= NOISE_TOLERANCE


def test_too_little_noise_is_refused() -> None:
    with pytest.raises(ValueError, match=f"{MIN_NOISE_VALUES} or more values, got 15"):
        torch_normal(0, (3, 5))


def test_euler_times_are_the_flow_blocks_schedule() -> None:
    assert euler_times(1).tolist() == [0.0]
    assert euler_times(4).tolist() == [0.0, 0.25, 0.5, 0.75]
    with pytest.raises(ValueError, match="at least one step, got 0"):
        euler_times(0)


def test_euler_solve_on_torchs_field_is_flow_block_sample(flow_block: FlowBlock) -> None:
    """The numpy loop with the torch estimator and the numpy noise gives FlowBlock.sample's mel: the loop and noise alone, no ONNX."""
    generator = torch.Generator().manual_seed(3)
    frames, d_model = 31, flow_block.field.hidden.in_features
    mu = torch.randn(1, frames, 80, generator=generator) - 5.0
    frame_h = torch.randn(1, frames, d_model, generator=generator)
    record = AcousticRecord(mel_pred=mu, frame_h=frame_h, frame_lengths=torch.tensor([frames]))
    mask = torch.ones(1, frames, dtype=torch.bool)

    def field(x: np.ndarray, t: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return flow_block.field(torch.from_numpy(x), torch.from_numpy(t), mu, frame_h, mask).numpy()

    for seed, steps in ((5, 4), (6, 1), (5, 7)):
        with torch.no_grad():
            expected = flow_block.sample(record, seed=seed, num_steps=steps).mel_pred.numpy()
        x0 = np.float32(flow_block.temperature) * torch_normal(seed, (1, frames, 80))
        sampled = mu.numpy() + euler_solve(field, x0, num_steps=steps)
        assert np.abs(sampled - expected).max() <= MEL_TOLERANCE
        assert np.abs(sampled - (mu.numpy() + x0)).max() > 50 * MEL_TOLERANCE  # the field moves the state


def test_estimator_graph_matches_torch(flow_export: tuple[Path, Path, str], flow_block: FlowBlock) -> None:
    session = onnxruntime.InferenceSession(str(flow_export[1] / FLOW_FILE), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(4)
    d_model = flow_block.field.hidden.in_features
    for frames, t in ((5, 0.0), (23, 0.25), (140, 0.9)):
        x, mu = torch.randn(1, frames, 80, generator=generator), torch.randn(1, frames, 80, generator=generator) - 5.0
        frame_h, time = torch.randn(1, frames, d_model, generator=generator), torch.tensor([t])
        with torch.no_grad():
            expected = flow_block.field(x, time, mu, frame_h, torch.ones(1, frames, dtype=torch.bool)).numpy()
        (v,) = session.run(None, {"x": x.numpy(), "t": time.numpy(), "mu": mu.numpy(), "frame_h": frame_h.numpy()})
        assert v.shape == (1, frames, 80) and np.abs(v - expected).max() <= MEL_TOLERANCE
        assert np.abs(expected).max() > 50 * MEL_TOLERANCE


@pytest.mark.parametrize("seed", [None, 0, 11])
def test_flow_voice_speaks_as_torch_for_a_seed(flow_export: tuple[Path, Path, str], seed: int | None) -> None:
    voice, folder, vocoder = flow_export
    reference, exported = Synthesizer(load_voice(voice), vocoder=vocoder), OnnxSynthesizer(folder)
    for speaker, settings in (("alice", {}), ("bruno", {"pace": 1.3, "pitch_shift": 2.0})):
        expected = reference(TEXT, language=LANGUAGE, speaker=speaker, seed=seed, **settings)
        result = exported(TEXT, language=LANGUAGE, speaker=speaker, seed=seed, **settings)
        assert np.array_equal(expected.durations.numpy(), result.durations) and result.mel.shape == tuple(expected.mel.shape)
        assert np.abs(expected.mel.numpy() - result.mel).max() <= MEL_TOLERANCE
        assert np.abs(expected.wav.numpy() - result.wav).max() <= MEL_TOLERANCE


def test_a_seed_says_a_text_the_same_way(flow_export: tuple[Path, Path, str]) -> None:
    exported = OnnxSynthesizer(flow_export[1])

    def say(seed: int | None):
        return exported(TEXT, language=LANGUAGE, speaker="alice", seed=seed)

    first, again, other, unseeded = say(1), say(1), say(2), say(None)
    assert np.array_equal(first.wav, again.wav) and np.array_equal(first.mel, again.mel)
    assert first.wav.shape == other.wav.shape and np.abs(first.mel - other.mel).max() > 0.5
    assert np.array_equal(unseeded.mel, say(DEFAULT_FLOW_SEED).mel)


def test_manifest_records_the_flow(flow_export: tuple[Path, Path, str], exports: dict[str, tuple[Path, Path, str]]) -> None:
    voice, folder, _ = flow_export
    config = load_voice(voice).config
    flow = read_manifest(folder).flow
    assert flow is not None and (flow.num_steps, flow.temperature, flow.default_seed) == (config.flow_steps, config.flow_temperature, DEFAULT_FLOW_SEED)
    assert (flow.noise, flow.estimator) == (TORCH_CPU_NOISE, FLOW_FILE) and (folder / FLOW_FILE).is_file()
    assert json.loads((folder / MANIFEST_NAME).read_text())["format_version"] == EXPORT_FORMAT_VERSION == 2
    plain = exports["bucket+hifigan"][1]  # written as version 1, which a vclone from before flow exports reads
    assert json.loads((plain / MANIFEST_NAME).read_text())["format_version"] == 1 and read_manifest(plain).flow is None
