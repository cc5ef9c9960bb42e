"""Benchmark: time to first audio of `Synthesizer.stream` for a three-sentence paragraph, on ONE CPU thread, per vocoder.

    OMP_NUM_THREADS=1 python bench/stream_latency.py [--repeats 7] [--preset tiny] [--voice DIR ...] [--vocoder NAME_OR_DIR ...]

Timed from the call to `stream()` (the voice and vocoder already loaded, phonemizer built) until the
first chunk is in hand: reading and predicting the first sentence's mel, then vocoding the first
chunk (32 frames plus the vocoder's right context). Also the whole paragraph's wall time and its
real-time factor (compute per second of audio; below 1 the stream never runs dry). Medians of
--repeats runs after one warm-up run.

Voices: a random-init voice of --preset (every stage runs; speed does not depend on the weights;
its duration predictor is set to 5 frames per token, the demo corpus's average, as in
bench/synth_rtf.py, because a random one predicts almost none), and each --voice (default: the
trained voice in /work/base/run/voice when it exists). Vocoders: hifigan-universal, griffin-lim,
every vocoder shipped inside vclone, a random-init `fast` (iSTFT) vocoder (same compute as a
trained one), and each --vocoder. The target applies to every iSTFT vocoder.
Target (issue 22): first audio <= 0.3 s with the fast vocoder.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth_rtf import fix_speaking_rate  # noqa: E402

from vclone.audio import AudioConfig  # noqa: E402
from vclone.models.vocoder.config import build_generator, vocoder_preset  # noqa: E402
from vclone.models.vocoder.istft import IstftGenerator  # noqa: E402
from vclone.models.vocoder.store import save_vocoder  # noqa: E402
from vclone.models.voice import load_voice  # noqa: E402
from vclone.synth.stream import vocoder_context_frames  # noqa: E402
from vclone.synth.synthesizer import Synthesizer, UnknownPhonesWarning  # noqa: E402
from vclone.synth.untrained import save_untrained_voice  # noqa: E402
from vclone.synth.vocoders import GRIFFIN_LIM, UNIVERSAL, shipped_vocoders  # noqa: E402

PARAGRAPH = (
    "The old lighthouse keeper walked slowly along the rocky shore at dawn. "
    "He stopped to watch the fishing boats leave the harbor! "
    "Would they come back before the storm?"
)
TRAINED_VOICE = Path("/work/base/run/voice")
TARGET_SECONDS = 0.3
FAST_PRESET = "fast"


def fast_vocoder(root: Path) -> Path:
    """A random-init vocoder of the `fast` (iSTFT) preset, saved as a vocoder folder."""
    kind, settings = vocoder_preset(FAST_PRESET)
    torch.manual_seed(0)
    return save_vocoder(root / FAST_PRESET, build_generator(kind, settings).eval(), kind=kind, config=settings,
                        audio=AudioConfig(), name=f"{FAST_PRESET} (random init)")


def time_stream(synth: Synthesizer, *, language: str, speaker: str, repeats: int) -> dict[str, float]:
    """Medians of first-chunk and whole-paragraph wall time, and the audio's length."""
    first, total, chunks = [], [], 0
    audio = 0.0
    for run in range(repeats + 1):
        start = time.perf_counter()
        stream = synth.stream(PARAGRAPH, language=language, speaker=speaker, seed=0)
        head = next(stream)
        got_first = time.perf_counter()
        rest = list(stream)
        end = time.perf_counter()
        if run == 0:
            continue  # warm-up
        first.append(got_first - start)
        total.append(end - start)
        chunks = 1 + len(rest)
        audio = (head.numel() + sum(c.numel() for c in rest)) / synth.sample_rate
    whole = statistics.median(total)
    return {"first": statistics.median(first), "total": whole, "audio": audio, "rtf": whole / audio, "chunks": chunks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--preset", default="tiny", help="acoustic preset of the random-init voice")
    parser.add_argument("--voice", action="append", type=Path, default=None, help="also a trained voice (repeatable)")
    parser.add_argument("--vocoder", action="append", default=[], help="also this vocoder name or folder (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", UnknownPhonesWarning)  # a random-init voice knows only its sample's phones
    voices = args.voice if args.voice is not None else [TRAINED_VOICE] if TRAINED_VOICE.exists() else []
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args.repeats} runs (medians), paragraph of 3 sentences")
    print(f"{'voice':<22}{'vocoder':<22}{'context':>8}{'first audio s':>15}{'total s':>9}{'audio s':>9}{'RTF':>7}{'chunks':>8}   target")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        vocoders: list[str | Path] = [UNIVERSAL, GRIFFIN_LIM, *shipped_vocoders(), *args.vocoder]
        folder = fast_vocoder(root)
        fast_label = {str(folder): "fast (random init)"}
        vocoders.append(folder)
        sample = {"en-us": [PARAGRAPH]}
        untrained = save_untrained_voice(root / "voice", texts=sample, speakers=["s0"], preset_name=args.preset, overrides={"dropout": 0.0})
        for voice_dir in [untrained, *voices]:
            voice = load_voice(voice_dir)
            label = f"{args.preset} (random init)" if voice_dir == untrained else str(voice_dir)
            language = "en-us" if "en-us" in voice.vocab.languages else voice.vocab.languages[0]
            speaker = voice.vocab.speakers[0]
            for vocoder in vocoders:
                synth = Synthesizer(voice, vocoder=vocoder)
                if voice_dir == untrained:
                    fix_speaking_rate(synth, 5)
                r = time_stream(synth, language=language, speaker=speaker, repeats=args.repeats)
                name = fast_label.get(str(vocoder), Path(str(vocoder)).name)
                context = vocoder_context_frames(synth.vocoder)
                fast = isinstance(getattr(synth.vocoder, "generator", None), IstftGenerator)
                verdict = f"<= {TARGET_SECONDS}: {'met' if r['first'] <= TARGET_SECONDS else 'MISSED'}" if fast else ""
                print(f"{label[-21:]:<22}{name[:21]:<22}{'whole' if context is None else context:>8}{r['first']:>15.3f}"
                      f"{r['total']:>9.3f}{r['audio']:>9.2f}{r['rtf']:>7.3f}{r['chunks']:>8}   {verdict}")


if __name__ == "__main__":
    main()
