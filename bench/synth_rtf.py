"""Benchmark: synthesis real-time factor on ONE CPU thread, acoustic model alone and with Griffin-Lim.

    python bench/synth_rtf.py [--presets tiny,small] [--repeats 5] [--frames-per-token 5]
    python bench/synth_rtf.py --voice base [--vocoders hifigan-universal,griffin-lim] [--repeats 5]

RTF = compute seconds / seconds of audio produced (phonemization excluded: it is the same for every
preset, and printed apart). Voices are random-init (speed does not depend on the weights), so their
duration predictor says nothing about speaking rate: its output layer is set to a constant so each
input token (phones, stress marks, word boundaries) gets `--frames-per-token` whole mel frames (the
prepared demo corpus averages 5.2: 34,776 frames for 6,630 tokens). Figures are medians over
sentences x repeats, after one warm-up call each.
Targets (issue 3, `small` preset): acoustic model <= 0.05, with Griffin-Lim <= 0.1.

With --voice (a shipped voice's name or a voice folder), a trained voice speaks the sentences with its
own durations through each vocoder in --vocoders: RTF of the acoustic model, of the vocoder, and of
both (the same split `vclone synthesize` prints), medians over sentences x repeats.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import torch

from vclone.models.voice import load_voice
from vclone.synth.synthesizer import SpeakerChoice, Synthesizer
from vclone.synth.untrained import save_untrained_voice

SENTENCES = [
    "The old lighthouse keeper walked slowly along the rocky shore at dawn.",
    "Please remember to bring three apples and a loaf of bread tomorrow.",
    "Scientists announced a surprising discovery about migrating birds.",
    "She opened the window and listened to the rain falling on the roof.",
    "Our train was delayed by twenty minutes because of the heavy snow.",
]
TARGETS = {"small": (0.05, 0.1)}


def fix_speaking_rate(synth: Synthesizer, frames_per_token: int) -> None:
    """Make the duration predictor say log(1 + frames_per_token) for every token."""
    duration = dict(synth.model.named_blocks())["duration"]
    with torch.no_grad():
        duration.proj.weight.zero_()
        duration.proj.bias.fill_(math.log1p(frames_per_token))


def bench_preset(name: str, *, repeats: int, frames_per_token: int, root: Path) -> dict[str, float]:
    voice_dir = save_untrained_voice(root / name, texts={"en-us": SENTENCES}, speakers=["s0", "s1"], preset_name=name, overrides={"dropout": 0.0})
    synth = Synthesizer(load_voice(voice_dir), vocoder="griffin-lim")  # named: the default vocoder is neural now
    fix_speaking_rate(synth, frames_per_token)
    audio = synth.voice.vocab.audio
    speaker = SpeakerChoice(label="s0", speaker_id=0)
    acoustic, total, frames_per, front = [], [], [], []
    for sentence in SENTENCES:
        synth.phonemize(sentence, "en-us")  # builds the phonemizer
        start = time.perf_counter()
        ids, _ = synth.tokenize(synth.phonemize(sentence, "en-us").phones)
        front.append(time.perf_counter() - start)
        mel, _, _ = synth.predict_mel(ids, language="en-us", speaker=speaker, pace=1.0)  # warm-up
        synth.vocode(mel, seed=0)
        for _ in range(repeats):
            start = time.perf_counter()
            mel, _, _ = synth.predict_mel(ids, language="en-us", speaker=speaker, pace=1.0)
            middle = time.perf_counter()
            synth.vocode(mel, seed=0)
            end = time.perf_counter()
            seconds = mel.shape[0] * audio.hop_length / audio.sample_rate
            acoustic.append((middle - start) / seconds)
            total.append((end - start) / seconds)
        frames_per.append(mel.shape[0] / ids.numel())
    params = sum(p.numel() for p in synth.model.parameters())
    return {
        "params_m": params / 1e6,
        "acoustic": statistics.median(acoustic),
        "total": statistics.median(total),
        "frames_per_token": statistics.median(frames_per),
        "front_ms": 1000 * statistics.median(front),
    }


def bench_voice(spec: str, vocoder: str, *, repeats: int) -> dict[str, float]:
    """RTF of a trained voice through `vocoder`, speaking as its first training speaker."""
    synth = Synthesizer.from_path(spec, vocoder=vocoder)
    speaker = synth.voice.vocab.speakers[0]
    acoustic, vocoding, total = [], [], []
    for sentence in SENTENCES:
        synth(sentence, language="en-us", speaker=speaker, seed=0)  # warm-up
        for _ in range(repeats):
            result = synth(sentence, language="en-us", speaker=speaker, seed=0)
            seconds = result.wav.numel() / result.sample_rate
            acoustic.append(result.acoustic_seconds / seconds)
            vocoding.append(result.vocoder_seconds / seconds)
            total.append((result.acoustic_seconds + result.vocoder_seconds) / seconds)
    return {"acoustic": statistics.median(acoustic), "vocoder": statistics.median(vocoding), "total": statistics.median(total)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="tiny,small")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames-per-token", type=int, default=5)
    parser.add_argument("--voice", default=None, help="A trained voice (shipped name or folder): RTF per vocoder instead of presets.")
    parser.add_argument("--vocoders", default="hifigan-universal,griffin-lim", help="With --voice: the vocoders to time.")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {len(SENTENCES)} sentences x {args.repeats} runs")
    if args.voice is not None:
        print(f"voice {args.voice}")
        print(f"{'vocoder':<20}{'RTF acoustic':>14}{'RTF vocoder':>13}{'RTF total':>11}")
        for vocoder in args.vocoders.split(","):
            r = bench_voice(args.voice, vocoder, repeats=args.repeats)
            print(f"{vocoder:<20}{r['acoustic']:>14.4f}{r['vocoder']:>13.4f}{r['total']:>11.4f}")
        return
    print(f"{'preset':<8}{'params':>9}{'frames/tok':>12}{'text ms':>9}{'RTF acoustic':>14}{'RTF +GL':>10}   targets")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.presets.split(","):
            r = bench_preset(name, repeats=args.repeats, frames_per_token=args.frames_per_token, root=Path(tmp))
            target = TARGETS.get(name)
            verdict = ""
            if target:
                ok = r["acoustic"] <= target[0] and r["total"] <= target[1]
                verdict = f"<= {target[0]} / <= {target[1]}: {'met' if ok else 'MISSED'}"
            print(f"{name:<8}{r['params_m']:>8.2f}M{r['frames_per_token']:>12.1f}{r['front_ms']:>9.1f}{r['acoustic']:>14.4f}{r['total']:>10.4f}   {verdict}")


if __name__ == "__main__":
    main()
