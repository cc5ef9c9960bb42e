"""OnnxSynthesizer: text -> phones -> token ids -> ONNX acoustic graphs -> log-mel -> ONNX vocoder -> waveform, with no torch.

It runs an export folder (`vclone export onnx`) with onnxruntime and numpy and reads the same
vocabulary, languages and speakers as the torch Synthesizer, so `OnnxSynthesizer(folder)(text, ...)`
takes the same arguments as `Synthesizer(voice)(text, ...)` and gives the same mel (within float
error). Speakers are training speakers' names, speaker embedding files, or reference recordings (WAV,
FLAC, OGG, ...) when the export carries its speaker encoder (voicefilter-lite voices, as the shipped base
voice): vclone.export.speakers resolves them in numpy with the torch path's checks. A flow-matching voice
samples its mel between the decoder graph and the vocoder (vclone.export.flow) from the noise torch would
draw for the same `seed`, so both runtimes say a text the same way for a seed.

Shape legend: N phones, T mel frames, M mel bands, S samples (S = T * hop), E speaker vector size, F STFT bins.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime
import soundfile as sf
from safetensors import SafetensorError
from safetensors.numpy import load_file

from vclone.atomic import atomic_output
from vclone.errors import AudioError, ConfigError, TextError
from vclone.export.manifest import (
    DECODER_FILE, ENCODER_FILE, FLOW_FILE, SPEAKER_TABLE, SPEAKERS_FILE, VOCODER_FILE, ExportError, OnnxManifest,
    read_manifest,
)
from vclone.export.flow import FlowSampler
from vclone.export.speakers import SPEAKER_EMBEDDING_FORMAT, OnnxSpeaker, OnnxSpeakers, OnnxSynthesisError
from vclone.f0 import PitchRegister
from vclone.speech_rules import (
    MAX_PEAK,
    NOT_PHONES,
    ShortReferenceWarning,
    UnknownPhonesWarning,
    check_pace,
    check_prosody,
)
from vclone.text import Phonemizer, PhonemizedText, PhoneVocabulary, get_language
from vclone.timbre import SpectralProfile

__all__ = [
    "SPEAKER_EMBEDDING_FORMAT", "OnnxSynthesisError", "UnknownPhonesWarning", "ShortReferenceWarning", "OnnxSpeaker", "OnnxSynthesisResult", "OnnxSynthesizer",
    "frames_per_phone", "frame_phones", "inverse_stft", "check_settings", "write_result",
]

_ENVELOPE_FLOOR = 1e-11
"""Overlap-add samples whose summed squared window is below this stay 0 (as the torch iSTFT head)."""


@dataclass(frozen=True)
class OnnxSynthesisResult:
    """One synthesized text (the fields of the torch SynthesisResult, as numpy arrays)."""

    wav: np.ndarray
    """(S,) float32 waveform in [-1, 1]."""
    mel: np.ndarray
    """(T, M) float32 predicted log-mel."""
    phones: tuple[str, ...]
    durations: np.ndarray
    """(N,) int64 frames per token; sums to T."""
    sample_rate: int
    language: str
    model_language: str
    speaker: str
    unknown_phones: tuple[str, ...] = ()
    unspeakable: tuple[str, ...] = ()
    acoustic_seconds: float = 0.0
    vocoder_seconds: float = 0.0
    f0: np.ndarray | None = None
    """(T,) float32 F0 in Hz, 0 on unvoiced frames; None without a pitch model."""

    @property
    def seconds(self) -> float:
        return self.wav.size / self.sample_rate

    @property
    def rtf(self) -> float:
        """Compute time (acoustic graphs + vocoder) per second of audio."""
        return (self.acoustic_seconds + self.vocoder_seconds) / max(self.seconds, 1e-9)


def check_settings(*, pace: float, pitch_shift: float, energy: float) -> None:
    """Raise ConfigError for a pace, pitch shift or energy factor (the torch Synthesizer's rules)."""
    check_pace(pace)
    check_prosody(pitch_shift=pitch_shift, energy=energy)


def frames_per_phone(log_duration_N: np.ndarray, *, pace: float, max_frames: int) -> np.ndarray:
    """(N,) int64 frames per phone: round((exp(pred) - 1) * pace) clamped to [0, max_frames]; when all
    are 0, the phone with the largest prediction gets one frame (as the torch model's length regulation)."""
    frames = np.rint(np.expm1(log_duration_N.astype(np.float32)) * np.float32(pace))
    durations = np.clip(frames, 0, max_frames).astype(np.int64)
    if durations.sum() == 0 and durations.size:
        durations[int(np.argmax(log_duration_N))] = 1
    return durations


def frame_phones(durations_N: np.ndarray) -> np.ndarray:
    """(T,) int64 index of the phone each frame belongs to (length regulation as a gather index)."""
    return np.repeat(np.arange(durations_N.size, dtype=np.int64), durations_N)


def inverse_stft(magnitude_FT: np.ndarray, phase_FT: np.ndarray, *, n_fft: int, hop_length: int, win_length: int) -> np.ndarray:
    """Magnitude and phase (F, T) -> (T * hop,) float32 waveform, frame k centred on sample k * hop + hop / 2:
    vclone.models.vocoder.istft.inverse_stft (overlap-add, divide by the summed squared Hann window,
    crop (n_fft - hop) / 2 on each side) in numpy."""
    num_frames = magnitude_FT.shape[1]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(win_length) / win_length)  # periodic Hann
    left = (n_fft - win_length) // 2
    window = np.pad(window, (left, n_fft - win_length - left))
    frames_NT = np.fft.irfft(magnitude_FT * np.exp(1j * phase_FT), n=n_fft, axis=0) * window[:, None]
    span = (num_frames - 1) * hop_length + n_fft
    wav = np.zeros(span)
    envelope = np.zeros(span)
    for k in range(num_frames):
        wav[k * hop_length : k * hop_length + n_fft] += frames_NT[:, k]
        envelope[k * hop_length : k * hop_length + n_fft] += window**2
    pad = (n_fft - hop_length) // 2
    wav, envelope = wav[pad : pad + num_frames * hop_length], envelope[pad : pad + num_frames * hop_length]
    safe = envelope > _ENVELOPE_FLOOR
    return np.where(safe, wav / np.where(safe, envelope, 1.0), 0.0).astype(np.float32)


def _session(path: Path, *, num_threads: int) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    try:
        return onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types for a corrupt file
        raise ExportError(f"{path} cannot be loaded by onnxruntime ({str(err).splitlines()[0]}); export the voice again") from None


class OnnxSynthesizer:
    """An exported voice ready to speak: `OnnxSynthesizer("base-onnx")("Hello", language="en-us", speaker="kokoro-af_heart")`.

    Phonemizers (on first use of a language) and the speaker encoder (on the first recording) are built once and kept by this instance."""

    def __init__(self, folder: Path | str, *, num_threads: int = 1) -> None:
        """`num_threads`: onnxruntime's intra-op threads for each graph."""
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
            raise ConfigError(f"threads must be a whole number >= 1, got {num_threads!r}")
        self.folder = Path(folder)
        self.manifest: OnnxManifest = read_manifest(self.folder)
        try:
            self.inventory = PhoneVocabulary(self.manifest.phones)
            self.speaker_table = load_file(str(self.folder / SPEAKERS_FILE))[SPEAKER_TABLE].astype(np.float32)
        except (ConfigError, SafetensorError, OSError, KeyError) as err:
            raise ExportError(f"{self.folder} has a bad vocabulary or speaker table ({err}); export the voice again") from None
        self.encoder = _session(self.folder / ENCODER_FILE, num_threads=num_threads)
        self.decoder = _session(self.folder / DECODER_FILE, num_threads=num_threads)
        self.vocoder = _session(self.folder / VOCODER_FILE, num_threads=num_threads)
        flow = self.manifest.flow
        self.flow = None if flow is None else FlowSampler(_session(self.folder / FLOW_FILE, num_threads=num_threads), flow)
        self._phonemizers: dict[str, Phonemizer] = {}
        self.speakers = OnnxSpeakers(self.folder, self.manifest, self.speaker_table, open_session=partial(_session, num_threads=num_threads))

    @property
    def sample_rate(self) -> int:
        return self.manifest.sample_rate

    def __call__(
        self,
        text: str,
        *,
        language: str,
        speaker: str | Path,
        accent: str | None = None,
        pace: float = 1.0,
        pitch_shift: float = 0.0,
        energy: float = 1.0,
        seed: int | None = None,
    ) -> OnnxSynthesisResult:
        """Speak `text` (written in `language`) with `speaker` (a training speaker's name, a speaker
        embedding file or a reference recording); the other arguments are those of the torch Synthesizer
        (`seed` picks a flow-matching voice's noise, None its default one; other voices ignore it)."""
        text_language, model_language, who = self.check(
            language=language, speaker=speaker, accent=accent, pace=pace, pitch_shift=pitch_shift, energy=energy
        )
        phonemized = self.phonemize(text, text_language)
        token_ids, unknown = self.tokenize(phonemized.phones)
        start = time.perf_counter()
        mel, durations, f0 = self.predict_mel(token_ids, language=model_language, speaker=who, pace=pace, pitch_shift=pitch_shift, energy=energy, seed=seed)
        middle = time.perf_counter()
        wav = self.vocode(mel)
        end = time.perf_counter()
        return OnnxSynthesisResult(
            wav=wav, mel=mel, phones=phonemized.phones, durations=durations, sample_rate=self.sample_rate,
            language=text_language, model_language=model_language, speaker=who.label, unknown_phones=unknown,
            unspeakable=phonemized.unspeakable, acoustic_seconds=middle - start, vocoder_seconds=end - middle, f0=f0,
        )

    def check(self, *, language: str, speaker: str | Path, accent: str | None = None, pace: float = 1.0,
              pitch_shift: float = 0.0, energy: float = 1.0) -> tuple[str, str, OnnxSpeaker]:
        """Raise the error `__call__` would raise for these settings, before any text is read; return the
        text's language, the model's language and the speaker."""
        check_settings(pace=pace, pitch_shift=pitch_shift, energy=energy)
        if (pitch_shift != 0.0 or energy != 1.0) and not self.manifest.has_pitch_model:
            raise ConfigError("this voice has no pitch and energy model, so --pitch-shift and --energy cannot steer it; export a voice trained with a current preset")
        text_language, model_language = self.resolve_languages(language, accent)
        return text_language, model_language, self.resolve_speaker(speaker)

    def resolve_languages(self, language: str, accent: str | None) -> tuple[str, str]:
        """(language the text is phonemized in, language id the model gets), as vclone codes."""
        text_language = get_language(language).code
        model_language = text_language if accent is None else get_language(accent).code
        if model_language not in self.manifest.languages:
            option = "--language" if accent is None else "--accent"
            raise OnnxSynthesisError(f"the voice was not trained on {model_language!r} ({option}); it speaks: {', '.join(self.manifest.languages)}")
        return text_language, model_language

    def resolve_speaker(self, speaker: str | Path) -> OnnxSpeaker:
        """A training speaker's name, a speaker embedding file or a reference recording -> who speaks."""
        return self.speakers.resolve(speaker)

    def embed_reference(self, path: Path) -> tuple[np.ndarray, PitchRegister | None, SpectralProfile]:
        """A reference recording -> ((E,) unit vector, pitch register, long-term spectrum) (OnnxSpeakers.embed_reference)."""
        return self.speakers.embed_reference(path)

    def phonemize(self, text: str, language: str) -> PhonemizedText:
        """Text -> phones with this instance's phonemizer for `language` (TextError if nothing to say)."""
        if not isinstance(text, str) or not text.strip():
            raise TextError("the text is empty; give the words to speak")
        if language not in self._phonemizers:
            self._phonemizers[language] = Phonemizer(language)
        return self._phonemizers[language](text).keeping_punctuation(self.inventory)

    def tokenize(self, phones: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
        """Phones -> (N,) int64 token ids and the phones the voice lacks (read as <unk>, with a warning)."""
        unknown = tuple(dict.fromkeys(p for p in phones if p not in self.inventory))
        if unknown:
            if not any(p in self.inventory and p not in NOT_PHONES for p in phones):
                raise OnnxSynthesisError(
                    f"the voice knows none of the phones of this text ({' '.join(unknown)}); "
                    f"choose a language it was trained on: {', '.join(self.manifest.languages)}"
                )
            warnings.warn(f"phones unknown to the voice, read as <unk>: {' '.join(unknown)}", UnknownPhonesWarning, stacklevel=3)
        return np.asarray(self.inventory.encode(phones), dtype=np.int64), unknown

    def predict_mel(self, token_ids_N: np.ndarray, *, language: str, speaker: OnnxSpeaker, pace: float,
                    pitch_shift: float = 0.0, energy: float = 1.0, seed: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(N,) token ids -> ((T, M) log-mel, (N,) int64 frames per token, (T,) F0 in Hz or None without a pitch model).
        A voice with a pitch model speaks in `speaker.register` when it is set (an export from before registers: its own),
        and the mel matches `speaker.profile` when set.
        A flow-matching voice samples the mel from noise seeded with `seed` (None: its default seed)."""
        log_duration_1N, phone_h, speaker_h = self.encoder.run(None, {
            "phone_ids": token_ids_N[None, :],
            "language_id": np.array([self.manifest.languages.index(language)], dtype=np.int64),
            "speaker": speaker.vector[None, :].astype(np.float32),
        })
        durations_N = frames_per_phone(log_duration_1N[0], pace=pace, max_frames=self.manifest.max_phone_frames)
        feed = {
            "phone_h": phone_h, "frame_phone": frame_phones(durations_N)[None, :], "speaker_h": speaker_h, "register": speaker.register_row(),
            "pitch_shift": np.array([pitch_shift], dtype=np.float32), "energy_log": np.array([np.log(energy)], dtype=np.float32),
        }
        wanted = {i.name for i in self.decoder.get_inputs()}  # the exporter drops inputs a voice never reads
        outputs = self.decoder.run(None, {k: v for k, v in feed.items() if k in wanted})
        mel_1TM, log_f0_1T = outputs[0], outputs[1]
        if self.flow is not None:  # the decoder's mel is the flow's prior mu; its third output, the frame states, conditions the flow
            mel_1TM = self.flow(mel_1TM, outputs[2], seed=seed)
        mel_TM = speaker.match_timbre(mel_1TM[0])
        f0 = None
        if self.manifest.has_pitch_model:
            log_f0 = log_f0_1T[0]
            f0 = np.where(log_f0 > 0, np.exp(log_f0), 0.0).astype(np.float32)
        return mel_TM, durations_N, f0

    def vocode(self, mel_TM: np.ndarray) -> np.ndarray:
        """(T, M) log-mel -> (T * hop,) float32 waveform, scaled down (never clipped) to a safe peak."""
        wav = self.vocode_unscaled(mel_TM)
        peak = float(np.abs(wav).max()) if wav.size else 0.0
        return (wav * np.float32(MAX_PEAK / peak)).astype(np.float32) if peak > MAX_PEAK else wav

    def vocode_unscaled(self, mel_TM: np.ndarray) -> np.ndarray:
        """(T, M) log-mel -> (T * hop,) float32 waveform as the vocoder made it."""
        outputs = self.vocoder.run(None, {"mel": np.ascontiguousarray(mel_TM[None], dtype=np.float32)})
        info = self.manifest.vocoder
        if info.kind == "istft":
            wav = inverse_stft(outputs[0][0], outputs[1][0], n_fft=info.n_fft, hop_length=info.hop_length, win_length=info.win_length)
        else:
            wav = outputs[0][0].astype(np.float32)
        if not np.isfinite(wav).all():
            raise OnnxSynthesisError("the vocoder produced NaN or infinite samples; its weights are broken, export it again")
        return wav


def write_result(result: OnnxSynthesisResult, *, wav: Path, mel: Path | None = None) -> None:
    """Write the (T, M) log-mel as float32 .npy (when `mel` is given), then the waveform as 16-bit PCM WAV,
    each atomically: a WAV on disk means every output was written."""
    for path in (wav, mel):
        if path is not None and not Path(path).parent.is_dir():
            raise AudioError(f"cannot write {path}: directory {Path(path).parent} does not exist; create it first")
    if mel is not None:
        with atomic_output(mel) as tmp, tmp.open("wb") as handle:
            np.save(handle, result.mel.astype(np.float32))
    pcm = np.clip(np.round(result.wav * 32767.0), -32768, 32767).astype(np.int16)
    with atomic_output(wav) as tmp:
        sf.write(str(tmp), pcm, result.sample_rate, subtype="PCM_16", format="WAV")
