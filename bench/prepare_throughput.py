"""Benchmark: `vclone prepare` throughput (utterances/s) on 3-second clips, and where the time goes.

    python bench/prepare_throughput.py [--num 200] [--workers 1] [--repeats 3]

Prints the median of several full runs (fresh output folder each time) beside a per-stage breakdown
measured in one process. Target (issue 2): >= 50 utt/s on 2 cores.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from corpus_fixtures import write_csv  # noqa: E402

from vclone.audio import AudioConfig, MelSpectrogram, load_audio, normalize_loudness, trim_silence  # noqa: E402
from vclone.data.features import FeatureSettings  # noqa: E402
from vclone.data.prepare import PrepareConfig, prepare_corpus  # noqa: E402
from vclone.text import Phonemizer  # noqa: E402

SENTENCES = [
    "The old lighthouse keeper walked slowly along the rocky shore at dawn.",
    "Please remember to bring three apples and a loaf of bread tomorrow.",
    "Scientists announced a surprising discovery about migrating birds.",
    "She opened the window and listened to the rain falling on the roof.",
    "Our train was delayed by twenty minutes because of the heavy snow.",
]


def make_corpus(root: Path, num: int, seconds: float = 3.0, sample_rate: int = 22050) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    for i in range(num):
        f0 = 100 + 150 * rng.random()
        phase = 2 * math.pi * f0 * t
        wav = sum(np.sin(k * phase) / k for k in range(1, 10)) * 0.15 * (0.5 + 0.5 * np.sin(2 * math.pi * 2.5 * t) ** 2)
        wav = wav + 0.003 * rng.standard_normal(t.size)
        path = root / "wavs" / f"u{i:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wav.astype(np.float32), sample_rate)
        rows.append({"id": f"u{i:05d}", "audio": f"wavs/u{i:05d}.wav", "text": SENTENCES[i % len(SENTENCES)] + f" Number {i}.", "speaker": f"s{i % 4}", "language": "en-us"})
    return write_csv(root / "metadata.csv", rows)


def breakdown(corpus: Path, num: int) -> dict[str, float]:
    """Seconds per utterance for each stage, in one process on one thread."""
    torch.set_num_threads(1)
    cfg = AudioConfig()
    mel = MelSpectrogram(cfg)
    texts = [SENTENCES[i % len(SENTENCES)] + f" Number {i}." for i in range(num)]
    stages = {"phonemizer init": 0.0, "phonemize (batch)": 0.0, "load+resample": 0.0, "trim": 0.0, "loudness": 0.0, "mel": 0.0}
    t0 = time.perf_counter()
    phon = Phonemizer("en-us")
    stages["phonemizer init"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    phon.phonemize_batch(texts)
    stages["phonemize (batch)"] = (time.perf_counter() - t0) / num
    for i in range(num):
        t0 = time.perf_counter()
        wav = load_audio(corpus / "wavs" / f"u{i:05d}.wav", sample_rate=cfg.sample_rate)
        t1 = time.perf_counter()
        wav = trim_silence(wav, sample_rate=cfg.sample_rate, top_db=cfg.trim_top_db)
        t2 = time.perf_counter()
        wav = normalize_loudness(wav, target_dbfs=cfg.target_dbfs)
        t3 = time.perf_counter()
        with torch.inference_mode():
            mel(wav)
        t4 = time.perf_counter()
        stages["load+resample"] += (t1 - t0) / num
        stages["trim"] += (t2 - t1) / num
        stages["loudness"] += (t3 - t2) / num
        stages["mel"] += (t4 - t3) / num
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_corpus(root / "corpus", args.num)
        rates = []
        for rep in range(args.repeats):
            config = PrepareConfig(corpus=root / "corpus", corpus_format="csv", out=root / f"out{rep}",
                                   features=FeatureSettings(audio=AudioConfig()), num_workers=args.workers)
            start = time.perf_counter()
            summary = prepare_corpus(config)
            elapsed = time.perf_counter() - start
            assert summary.num_kept == args.num, summary
            rates.append(args.num / elapsed)
            print(f"run {rep + 1}: {args.num} utterances of 3 s in {elapsed:.2f} s = {rates[-1]:.1f} utt/s")
        print(f"prepare throughput, {args.workers} workers: median {statistics.median(rates):.1f} utt/s "
              f"(min {min(rates):.1f}, max {max(rates):.1f}; target >= 50)")
        stages = breakdown(root / "corpus", min(args.num, 100))
        print("where the time goes (one process, one thread, per utterance):")
        for name, secs in stages.items():
            unit = "s once" if name == "phonemizer init" else "ms/utt"
            value = secs if name == "phonemizer init" else secs * 1000
            print(f"  {name:<20} {value:8.2f} {unit}")


if __name__ == "__main__":
    main()
