"""Benchmark: vocoder real-time factor side by side, on ONE CPU thread and on all cores.

    python bench/vocoder_rtf.py [--corpus demo/polyglot-small] [--vocoder runs/fast-vocoder ...] [--runs 5]
                                [--clips 3] [--quality vocoder_check.json]

RTF = vocoding seconds / seconds of audio produced, for log-mel (T, 80) -> waveform only. Vocoders:
griffin-lim, hifigan-universal and every --vocoder PATH. Inputs: 3-4 s log-mels prepared as `vclone
prepare` does (load, trim, loudness, log-mel) from utterances of --corpus (a polyglot build:
metadata.csv; rows spread over the file, longer clips cut to 4 s), or without --corpus the log-mels of
synthetic voiced speech (a harmonic buzz with a gliding pitch and syllable-rate envelope: speech-like
level and tilt; the vocoders' cost does not depend on content). Each vocoder is warmed up on every clip,
then each of --runs rounds times every vocoder on all clips, interleaved and in rotating order so machine
noise hits all alike; a round's RTF is its total time over the total audio; the table gives the median
(min-max) of the rounds. Griffin-Lim is seeded before each call. `--quality` adds the "all" row of
recipes/polyglot/vocoder_check.py's JSON (MCD, speaker cosine, WER) beside each vocoder it names.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from vclone.audio import AudioConfig, MelSpectrogram
from vclone.data.features import FeatureExtractor, FeatureJob, FeatureSettings, load_features
from vclone.errors import VcloneError
from vclone.synth.vocoders import GRIFFIN_LIM, UNIVERSAL, build_vocoder

CLIP_S = (3.0, 4.0)
"""Clip lengths benchmarked, seconds."""


def corpus_mels(corpus: Path, *, audio: AudioConfig, num_clips: int) -> list[torch.Tensor]:
    """(T, M) log-mels of `num_clips` prepared utterances of at least 3 s, cut to at most 4 s, spread over metadata.csv."""
    with (corpus / "metadata.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    extractor = FeatureExtractor(FeatureSettings(audio=audio))
    max_frames = int(CLIP_S[1] * audio.sample_rate / audio.hop_length)
    stride = max(1, len(rows) // (8 * num_clips))
    mels = []
    with tempfile.TemporaryDirectory(prefix="vocoder-rtf-") as tmp:
        for row in rows[::stride]:
            out = Path(tmp) / "clip.safetensors"
            result = extractor.run_one(FeatureJob(id=row["id"], audio_path=corpus / row["audio"], out_path=out))
            if result.error or result.duration < CLIP_S[0]:
                continue
            mels.append(load_features(out)["mel"][:max_frames].contiguous())
            if len(mels) == num_clips:
                return mels
    raise VcloneError(f"{corpus} has only {len(mels)} utterances of >= {CLIP_S[0]} s among those tried; pass fewer --clips")


def synthetic_mels(*, audio: AudioConfig, num_clips: int) -> list[torch.Tensor]:
    """(T, M) log-mels of `num_clips` synthetic voiced clips of 3-4 s (fixed seed)."""
    gen = torch.Generator().manual_seed(0)
    front_end = MelSpectrogram(audio)
    sr, mels = audio.sample_rate, []
    for k in range(num_clips):
        seconds = CLIP_S[0] + (CLIP_S[1] - CLIP_S[0]) * k / max(1, num_clips - 1)
        t = torch.arange(int(seconds * sr)) / sr
        f0 = 110 + 60 * torch.rand(1, generator=gen) + 30 * torch.sin(2 * math.pi * 0.7 * t)
        phase = 2 * math.pi * torch.cumsum(f0 / sr, dim=0)
        harmonics = sum(torch.sin(h * phase) / h for h in range(1, 40))
        envelope = 0.5 * (1 - torch.cos(2 * math.pi * 4.0 * t)).clamp_min(0.05)  # ~4 syllables a second
        wav = 0.05 * envelope * harmonics + 0.003 * torch.randn(t.numel(), generator=gen)
        with torch.inference_mode():
            mels.append(front_end(wav.float()))
    return mels


def time_round(vocoders: dict[str, torch.nn.Module], mels: list[torch.Tensor], *, first: int) -> dict[str, float]:
    """Seconds each vocoder takes on all `mels`, vocoders interleaved clip by clip starting at index `first`."""
    names = list(vocoders)
    order = names[first % len(names):] + names[: first % len(names)]
    spent = dict.fromkeys(names, 0.0)
    with torch.inference_mode():
        for mel in mels:
            for name in order:
                torch.manual_seed(0)
                start = time.perf_counter()
                vocoders[name](mel)
                spent[name] += time.perf_counter() - start
    return spent


def bench(vocoders: dict[str, torch.nn.Module], mels: list[torch.Tensor], *, threads: int, runs: int,
          audio_s: float) -> dict[str, list[float]]:
    """RTF of each of `runs` rounds per vocoder, on `threads` torch threads, after one warm-up round."""
    torch.set_num_threads(threads)
    time_round(vocoders, mels, first=0)
    rtfs: dict[str, list[float]] = {name: [] for name in vocoders}
    for k in range(runs):
        for name, seconds in time_round(vocoders, mels, first=k).items():
            rtfs[name].append(seconds / audio_s)
    return rtfs


def read_quality(path: Path) -> dict[str, dict]:
    """vocoder -> its "all" summary row in a vocoder_check.py JSON."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        return {row["vocoder"]: row for row in report["summary"] if row["group"] == "all"}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise VcloneError(f"--quality {path} is not a vocoder_check.py report ({err}); run recipes/polyglot/vocoder_check.py --out") from None


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.4f} ({min(values):.4f}-{max(values):.4f})"


def _quality_cells(row: dict | None) -> str:
    if row is None:
        return f"{'-':>7}{'-':>8}{'-':>9}"
    wer = "-" if row.get("wer") is None else f"{100 * row['wer']:.1f}%"
    return f"{row['mcd_db']:>7.2f}{row['cosine']:>8.3f}{wer:>9}"


def print_table(vocoders: dict[str, torch.nn.Module], one: dict[str, list[float]], many: dict[str, list[float]],
                *, cores: int, quality: dict[str, dict] | None) -> None:
    """One line per vocoder: parameters, RTF medians (min-max), ratio to hifigan-universal, quality if given."""
    ref_one, ref_many = statistics.median(one[UNIVERSAL]), statistics.median(many[UNIVERSAL])
    width = max(len(n) for n in vocoders) + 2
    head = f"{'vocoder':<{width}}{'params':>9}  {'RTF 1 thread':<26}{f'RTF {cores} threads':<26}{'x hifigan 1/' + str(cores):>15}"
    print(head + (f"{'MCD':>7}{'cos':>8}{'WER':>9}" if quality is not None else ""))
    for name, vocoder in vocoders.items():
        params = sum(p.numel() for p in vocoder.parameters()) / 1e6
        ratio = f"{statistics.median(one[name]) / ref_one:.3f}/{statistics.median(many[name]) / ref_many:.3f}"
        line = f"{name:<{width}}{params:>8.2f}M  {_spread(one[name]):<26}{_spread(many[name]):<26}{ratio:>15}"
        print(line + (_quality_cells(quality.get(name)) if quality is not None else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=None, help="polyglot build to take real mels from")
    parser.add_argument("--vocoder", type=Path, action="append", default=[], help="another vocoder folder or run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--quality", type=Path, default=None, help="a vocoder_check.py JSON report")
    args = parser.parse_args()
    try:
        if args.runs < 1 or args.clips < 1:
            raise VcloneError(f"--runs and --clips must be >= 1, got {args.runs} and {args.clips}")
        if args.corpus is not None and not (args.corpus / "metadata.csv").is_file():
            raise VcloneError(f"{args.corpus / 'metadata.csv'} not found; pass a polyglot build (recipes/polyglot/build.py)")
        audio = AudioConfig()
        names = [GRIFFIN_LIM, UNIVERSAL, *(str(p) for p in args.vocoder)]
        vocoders = {name: build_vocoder(name, audio=audio).eval() for name in dict.fromkeys(names)}
        quality = read_quality(args.quality) if args.quality else None
        mels = corpus_mels(args.corpus, audio=audio, num_clips=args.clips) if args.corpus else synthetic_mels(audio=audio, num_clips=args.clips)
    except VcloneError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    audio_s = sum(m.shape[0] for m in mels) * audio.hop_length / audio.sample_rate
    cores = os.cpu_count() or 1
    source = f"{args.corpus} (prepared)" if args.corpus else "synthetic voiced speech"
    print(f"torch {torch.__version__}; {len(mels)} clips from {source}, {audio_s:.1f} s of audio; "
          f"warm-up + {args.runs} interleaved rounds; {cores} cores")
    one = bench(vocoders, mels, threads=1, runs=args.runs, audio_s=audio_s)
    many = bench(vocoders, mels, threads=cores, runs=args.runs, audio_s=audio_s)
    print_table(vocoders, one, many, cores=cores, quality=quality)
    return 0


if __name__ == "__main__":
    sys.exit(main())
