"""Benchmark: real-time factor on ONE CPU thread, torch vs onnxruntime, same voice, same input, side by side.

    python bench/onnx_rtf.py [--voice base] [--vocoders hifigan-universal,fast] [--repeats 3]

The voice (default: the shipped base voice) is exported with each vocoder (`vclone export onnx`) into a
temporary folder; `hifigan-universal` is the real universal HiFi-GAN, `fast` a random-init iSTFT vocoder
of the shipped `fast` preset (its speed does not depend on its weights). Each sentence is phonemized
once; then the torch Synthesizer (torch.set_num_threads(1)) and the OnnxSynthesizer (one intra-op
thread) run the acoustic model and the vocoder on the same token ids and speaker. RTF = compute
seconds / seconds of audio; figures are medians over sentences x repeats, after one warm-up call each.
The largest mel difference between the two runtimes is printed beside the timings.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from vclone.audio import AudioConfig
from vclone.export.onnx import export_onnx
from vclone.export.runtime import OnnxSpeaker, OnnxSynthesizer
from vclone.models.vocoder.config import build_generator, vocoder_preset
from vclone.models.vocoder.store import save_vocoder
from vclone.synth.synthesizer import SpeakerChoice, Synthesizer

SENTENCES = [
    "The old lighthouse keeper walked slowly along the rocky shore at dawn.",
    "Please remember to bring three apples and a loaf of bread tomorrow.",
    "Scientists announced a surprising discovery about migrating birds.",
    "She opened the window and listened to the rain falling on the roof.",
    "Our train was delayed by twenty minutes because of the heavy snow.",
]
LANGUAGE = "en-us"


def vocoder_source(name: str, root: Path) -> str:
    """A vocoder name `build_vocoder` accepts, or a random-init vocoder folder of that preset."""
    if name == "hifigan-universal":
        return name
    kind, settings = vocoder_preset(name)
    torch.manual_seed(0)
    return str(save_vocoder(root / f"vocoder-{name}", build_generator(kind, settings), kind=kind, config=settings, audio=AudioConfig(), name=name))


def timed(step, *args, **kwargs):
    start = time.perf_counter()
    out = step(*args, **kwargs)
    return out, time.perf_counter() - start


def bench(voice: str, vocoder: str, *, repeats: int, root: Path) -> dict[str, float]:
    source = vocoder_source(vocoder, root)
    folder = export_onnx(voice, root / f"export-{vocoder}", vocoder=source).folder
    reference = Synthesizer.from_path(voice, vocoder=source)
    exported = OnnxSynthesizer(folder, num_threads=1)
    speaker_name = reference.voice.vocab.speakers[0]
    choice = SpeakerChoice(label=speaker_name, speaker_id=0)
    speaker = OnnxSpeaker(speaker_name, exported.speaker_table[0])
    hop, rate = reference.voice.vocab.audio.hop_length, reference.sample_rate
    rtf: dict[str, list[float]] = {key: [] for key in ("torch_acoustic", "torch_vocoder", "onnx_acoustic", "onnx_vocoder")}
    mel_diff = 0.0
    for sentence in SENTENCES:
        ids, _ = reference.tokenize(reference.phonemize(sentence, LANGUAGE).phones)
        ids_np = ids.numpy()
        for run in range(repeats + 1):  # run 0 warms up
            (mel_t, _, _), t_acoustic = timed(reference.predict_mel, ids, language=LANGUAGE, speaker=choice, pace=1.0)
            _, t_vocoder = timed(reference.vocode, mel_t)
            (mel_o, _, _), o_acoustic = timed(exported.predict_mel, ids_np, language=LANGUAGE, speaker=speaker, pace=1.0)
            _, o_vocoder = timed(exported.vocode, mel_o)
            if run == 0:
                mel_diff = max(mel_diff, float(np.abs(mel_t.numpy() - mel_o).max()))
                continue
            seconds = mel_t.shape[0] * hop / rate
            for key, value in (("torch_acoustic", t_acoustic), ("torch_vocoder", t_vocoder), ("onnx_acoustic", o_acoustic), ("onnx_vocoder", o_vocoder)):
                rtf[key].append(value / seconds)
    medians = {key: statistics.median(values) for key, values in rtf.items()}
    medians["mel_diff"] = mel_diff
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voice", default="base")
    parser.add_argument("--vocoders", default="hifigan-universal,fast")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    print(f"torch {torch.__version__} ({torch.get_num_threads()} thread), onnxruntime {onnxruntime.__version__} (1 thread); "
          f"voice {args.voice}, {len(SENTENCES)} sentences x {args.repeats} runs, median RTF")
    print(f"{'vocoder':<19}{'acoustic torch':>15}{'onnx':>8}{'vocoder torch':>15}{'onnx':>8}{'total torch':>13}{'onnx':>8}{'speed-up':>10}{'max |mel diff|':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        for vocoder in args.vocoders.split(","):
            r = bench(args.voice, vocoder, repeats=args.repeats, root=Path(tmp))
            total_t, total_o = r["torch_acoustic"] + r["torch_vocoder"], r["onnx_acoustic"] + r["onnx_vocoder"]
            print(f"{vocoder:<19}{r['torch_acoustic']:>15.4f}{r['onnx_acoustic']:>8.4f}{r['torch_vocoder']:>15.4f}{r['onnx_vocoder']:>8.4f}"
                  f"{total_t:>13.4f}{total_o:>8.4f}{total_t / total_o:>9.2f}x{r['mel_diff']:>16.2e}")


if __name__ == "__main__":
    main()
