"""A flow-matching voice's mel sampling on the host, in numpy: the seeded starting noise and the Euler ODE solve.

Shape legend: T frames, M mel bands, D model width. This is FlowBlock.sample (vclone.models.acoustic.flow) for one
utterance, with the vector-field estimator as an ONNX graph: x0 = temperature * noise, num_steps Euler steps of
dx/dt = v(x, t | mu, frame states) at t = 0, 1/n, ..., (n - 1)/n, mel = mu + x.

The noise is torch's own, redrawn without torch: FlowBlock.sample draws it with torch.randn on a
torch.Generator seeded with the synthesis seed, and on the CPU that is mt19937 (seeded as C++'s std::mt19937,
which numpy's RandomState reproduces and keeps stable by policy) turned into normals by Box-Muller over blocks of
16 uniforms. So a seed gives the same mel in both runtimes (within float error, as the rest of the export) instead
of each runtime having its own noise, and the parity tests compare the whole synthesis with no patching. An
export records its scheme (manifest `flow.noise`) so that another one can be told apart.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnxruntime

from vclone.export.manifest import FlowInfo

__all__ = ["MIN_NOISE_VALUES", "torch_normal", "euler_times", "euler_solve", "FlowSampler"]

MIN_NOISE_VALUES = 16
"""torch.randn draws fewer values than this another way (one Box-Muller pair per value pair, in float64); the flow's
noise is at least one frame of mel bands, so an export needs at least this many bands."""
_BLOCK = 16
_HALF = _BLOCK // 2
_SEED_MODULUS = 2**32  # torch takes a seed modulo 2**64 and seeds mt19937 with its low 32 bits


def torch_normal(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """float32 normals of `shape`, what `torch.randn(shape, generator=torch.Generator().manual_seed(seed))` draws on the
    CPU (within float error: torch may use vectorized log, sin and cos), for at least MIN_NOISE_VALUES values."""
    count = int(np.prod(shape))
    if count < MIN_NOISE_VALUES:
        raise ValueError(f"torch_normal reproduces torch.randn for {MIN_NOISE_VALUES} or more values, got {count} (shape {shape})")
    state = np.random.RandomState(seed % _SEED_MODULUS)

    def uniforms(n: int) -> np.ndarray:  # at::uniform_real_distribution<float>: the low 24 bits of each 32-bit draw
        raw = state.randint(0, 2**32, size=n, dtype=np.uint64)
        return (raw & np.uint64(2**24 - 1)).astype(np.float32) * np.float32(2.0**-24)

    def box_muller(u_K16: np.ndarray) -> np.ndarray:  # at::native's normal_fill_16, block by block
        radius = np.sqrt(-2.0 * np.log(1.0 - u_K16[:, :_HALF]))
        theta = 2.0 * np.pi * u_K16[:, _HALF:]
        return np.concatenate([radius * np.cos(theta), radius * np.sin(theta)], axis=1).reshape(-1)

    whole = count // _BLOCK * _BLOCK
    values = np.empty(count, dtype=np.float32)
    values[:whole] = box_muller(uniforms(count).astype(np.float64)[:whole].reshape(-1, _BLOCK))
    if count % _BLOCK:  # torch redraws the last 16 values from fresh uniforms
        values[count - _BLOCK:] = box_muller(uniforms(_BLOCK).astype(np.float64)[None, :])
    return values.reshape(shape)


def euler_times(num_steps: int) -> np.ndarray:
    """(num_steps,) float32 times at which the estimator is called: step / num_steps, step = 0 .. num_steps - 1."""
    if num_steps < 1:
        raise ValueError(f"flow sampling needs at least one step, got {num_steps}")
    return (np.arange(num_steps) / num_steps).astype(np.float32)


def euler_solve(field: Callable[[np.ndarray, np.ndarray], np.ndarray], x0: np.ndarray, *, num_steps: int) -> np.ndarray:
    """The ODE dx/dt = field(x, t) from t = 0 to 1 in `num_steps` Euler steps from `x0`; field takes x and a (1,) time."""
    state = x0.astype(np.float32)
    for t in euler_times(num_steps):
        state = state + field(state, np.array([t], dtype=np.float32)) / np.float32(num_steps)
    return state


class FlowSampler:
    """The flow-matching decoder of an export: (1, T, M) mu and (1, T, D) frame states -> (1, T, M) sampled log-mel."""

    def __init__(self, estimator: onnxruntime.InferenceSession, info: FlowInfo) -> None:
        self.estimator = estimator
        self.info = info

    def __call__(self, mu_1TM: np.ndarray, frame_h_1TD: np.ndarray, *, seed: int | None = None) -> np.ndarray:
        """Sample from noise seeded with `seed` (None: the voice's default seed), in the export's number of steps."""
        info = self.info
        noise = torch_normal(info.default_seed if seed is None else seed, mu_1TM.shape)
        x0 = np.float32(info.temperature) * noise

        def field(x_1TM: np.ndarray, t_1: np.ndarray) -> np.ndarray:
            return self.estimator.run(None, {"x": x_1TM, "t": t_1, "mu": mu_1TM, "frame_h": frame_h_1TD})[0]

        return mu_1TM + euler_solve(field, x0, num_steps=info.num_steps)
